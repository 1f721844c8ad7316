"""Hours of use: days counted once per hour, usual hours, blocks across midnight."""

from hypothesis import given, strategies as st
import pytest

from custom_components.ai_performance.engine.usage import (
    HOURS,
    UsageProfile,
    usage_blocks,
)

DAY = 739_000  # a date ordinal


def test_an_hour_counts_each_day_once() -> None:
    profile = UsageProfile()
    for _ in range(5):
        profile.add(DAY, 7)
    profile.add(DAY + 1, 7)

    assert profile.days_by_hour[7] == 2
    assert profile.days_observed(DAY + 1) == 2
    assert profile.share(7, DAY + 1) == 1.0
    assert profile.share(8, DAY + 1) == 0.0


def test_usual_hours_need_half_the_days_and_three_days_of_history() -> None:
    profile = UsageProfile()
    profile.add(DAY, 7)
    profile.add(DAY + 1, 7)
    assert profile.usual_hours(DAY + 1) == ()  # two days only

    profile.add(DAY + 2, 18)
    profile.add(DAY + 3, 7)
    # 7:00 on 3 of 4 days, 18:00 on 1 of 4.
    assert profile.usual_hours(DAY + 3) == (7,)
    # Six quiet days later, 7:00 is used on 3 of 10 days: no longer usual.
    assert profile.usual_hours(DAY + 9) == ()


def test_out_of_range_hour_is_refused() -> None:
    with pytest.raises(ValueError, match="0-23"):
        UsageProfile().add(DAY, 24)


def test_storage_round_trip_and_malformed_data() -> None:
    profile = UsageProfile()
    profile.add(DAY, 7)
    profile.add(DAY + 1, 21)

    assert UsageProfile.from_dict(profile.as_dict()) == profile
    assert UsageProfile.from_dict({"days_by_hour": [1, 2]}) == UsageProfile()
    assert UsageProfile.from_dict({}) == UsageProfile()


def test_blocks_join_consecutive_hours_and_wrap_past_midnight() -> None:
    assert usage_blocks((7, 8, 18)) == [(7, 2), (18, 1)]
    assert usage_blocks((0, 1, 22, 23)) == [(22, 4)]
    assert usage_blocks(tuple(range(HOURS))) == [(0, HOURS)]
    assert usage_blocks(()) == []


@given(st.sets(st.integers(0, HOURS - 1), max_size=HOURS - 1))
def test_blocks_cover_exactly_the_hours(hours: set[int]) -> None:
    covered = [
        (first + offset) % HOURS
        for first, length in usage_blocks(tuple(hours))
        for offset in range(length)
    ]
    assert sorted(covered) == sorted(hours)
