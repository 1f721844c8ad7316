"""Updates: versions seen at each setup, and which update an anomaly's start follows."""

from hypothesis import given, strategies as st
import pytest

from custom_components.ai_performance.engine.updates import (
    BLAME_WINDOW_S,
    COMPARE_FOR_S,
    MAX_CHANGES,
    MIN_HOURS_AFTER,
    MIN_HOURS_BEFORE,
    SLOWDOWN_FACTOR,
    BeforeAfter,
    UpdateHistory,
    VersionChange,
    before_after,
    changes_from,
    describe,
    describe_previous,
    follow_starts,
)

HA, OURS = "homeassistant", "ai_performance"
NAMES = {HA: "Home Assistant", OURS: "AI Performance Monitor"}
T0 = 1_790_000_000.0


def test_the_first_setup_remembers_the_versions_and_counts_no_update() -> None:
    history = UpdateHistory(versions={}).seen({HA: "2026.10.4", OURS: "0.1.0"}, T0)

    assert history.versions == {HA: "2026.10.4", OURS: "0.1.0"}
    assert history.changes == ()


def test_a_changed_version_is_an_update_seen_at_that_setup() -> None:
    before = UpdateHistory(versions={HA: "2026.10.4", OURS: "0.1.0"})

    after = before.seen({HA: "2026.11.0", OURS: "0.1.0"}, T0)

    assert after.changes == (VersionChange(HA, "2026.10.4", "2026.11.0", T0),)
    assert after.versions[HA] == "2026.11.0"
    assert after.seen({HA: "2026.11.0", OURS: "0.1.0"}, T0 + 60) == after


def test_an_anomaly_follows_the_update_only_within_a_day() -> None:
    history = UpdateHistory(versions={HA: "2026.10.4"}).seen({HA: "2026.11.0"}, T0)

    assert history.update_before(T0 - 1) == ()  # began before it
    assert history.update_before(T0) == history.changes
    assert history.update_before(T0 + BLAME_WINDOW_S) == history.changes
    assert history.update_before(T0 + BLAME_WINDOW_S + 1) == ()


def test_versions_changed_by_one_setup_are_one_update_named_together() -> None:
    history = (
        UpdateHistory(versions={HA: "2026.10.4", OURS: "0.1.0"})
        .seen({HA: "2026.11.0", OURS: "0.1.0"}, T0)
        .seen({HA: "2026.11.0", OURS: "0.2.0"}, T0 + 3600)
        .seen({HA: "2026.11.1", OURS: "0.2.1"}, T0 + 7200)
    )

    assert describe(history.update_before(T0 + 3600 * 1.5), NAMES) == (
        "AI Performance Monitor 0.2.0"
    )
    latest = history.update_before(T0 + 7200)
    assert (
        describe(latest, NAMES)
        == "Home Assistant 2026.11.1, AI Performance Monitor 0.2.1"
    )
    assert describe_previous(latest, NAMES) == (
        "Home Assistant 2026.11.0, AI Performance Monitor 0.2.0"
    )


@given(st.lists(st.sampled_from(["1", "2", "3"]), max_size=3 * MAX_CHANGES))
def test_the_history_is_bounded_and_keeps_the_newest(versions: list[str]) -> None:
    history = UpdateHistory(versions={})
    for i, version in enumerate(versions):
        history = history.seen({HA: version}, T0 + i)

    assert len(history.changes) <= MAX_CHANGES
    changed = [
        T0 + i for i in range(1, len(versions)) if versions[i] != versions[i - 1]
    ]
    assert [c.at for c in history.changes] == changed[-MAX_CHANGES:]


def test_an_anomaly_keeps_its_start_while_on_or_not_known() -> None:
    starts = follow_starts({}, {"a": True, "b": False, "c": None}, T0)
    assert starts == {"a": T0}

    starts = follow_starts(starts, {"a": None, "b": True}, T0 + 60)
    assert starts == {"a": T0, "b": T0 + 60}

    # Ended, or its subject gone: forgotten.
    assert follow_starts(starts, {"a": False}, T0 + 120) == {}


def test_saved_changes_that_cannot_be_read_are_skipped() -> None:
    good = VersionChange(HA, "2026.10.4", "2026.11.0", T0)
    saved = [
        good.as_dict(),
        {**good.as_dict(), "at": float("nan")},
        {**good.as_dict(), "at": True},
        {**good.as_dict(), "version": None},
        "2026.11.0",
    ]

    assert changes_from(saved) == (good,)


HOUR = 3600.0


def hours(
    first: int, last: int, value: float
) -> tuple[list[float], list[float | None]]:
    """Return hourly means of ``value`` for the hours ``first``..``last`` after T0."""
    starts = [T0 + h * HOUR for h in range(first, last + 1)]
    return starts, [value] * len(starts)


def test_the_day_before_is_compared_with_the_whole_hours_since() -> None:
    before = hours(-30, -1, 1000.0)  # six hours older than the day before: left out
    # The update at T0 + 30 min: the hour it falls in counts on neither side.
    starts = [*before[0], T0, T0 + HOUR, T0 + 2 * HOUR]
    values = [*([5000.0] * 6), *([1000.0] * 24), 9000.0, 2000.0, 3000.0]

    change = before_after(starts, values, T0 + 1800, T0 + 3 * HOUR)

    assert change == BeforeAfter(before=1000.0, after=2500.0)
    assert change.regressed


def test_only_the_last_day_since_is_compared() -> None:
    starts, values = hours(-24, 47, 1000.0)
    values[24:48] = [3000.0] * 24  # slow the first day after, usual again the second

    change = before_after(starts, values, T0, T0 + 48 * HOUR)

    assert change == BeforeAfter(before=1000.0, after=1000.0)
    assert not change.regressed


@pytest.mark.parametrize(
    ("factor", "regressed"), [(SLOWDOWN_FACTOR, True), (SLOWDOWN_FACTOR - 0.01, False)]
)
def test_a_regression_is_a_median_slower_by_the_factor(
    factor: float, *, regressed: bool
) -> None:
    assert BeforeAfter(before=1000.0, after=1000.0 * factor).regressed is regressed


def test_too_few_hours_or_an_old_update_compare_nothing() -> None:
    starts, values = hours(-MIN_HOURS_BEFORE, MIN_HOURS_AFTER - 1, 1000.0)
    assert before_after(starts, values, T0, T0 + MIN_HOURS_AFTER * HOUR) is not None
    assert before_after(starts, values, T0, T0 + (MIN_HOURS_AFTER - 1) * HOUR) is None
    assert before_after(starts[1:], values[1:], T0, T0 + 2 * HOUR) is None
    # Missing and broken means do not count.
    gaps: list[float | None] = [None, float("nan"), *values[2:]]
    assert before_after(starts, gaps, T0, T0 + MIN_HOURS_AFTER * HOUR) is None

    long_ago, old_values = hours(-24, 24 * 8, 1000.0)
    assert before_after(long_ago, old_values, T0, T0 + COMPARE_FOR_S) is not None
    assert before_after(long_ago, old_values, T0, T0 + COMPARE_FOR_S + 1) is None


def test_the_last_update_is_every_change_of_the_last_setup() -> None:
    history = (
        UpdateHistory(versions={HA: "2026.10.4", OURS: "0.1.0"})
        .seen({HA: "2026.11.0", OURS: "0.1.0"}, T0)
        .seen({HA: "2026.11.1", OURS: "0.2.0"}, T0 + HOUR)
    )

    assert [c.version for c in history.latest_update()] == ["2026.11.1", "0.2.0"]
    assert UpdateHistory(versions={HA: "2026.11.0"}).latest_update() == ()
