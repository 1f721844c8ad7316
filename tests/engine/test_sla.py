"""Service levels: hourly buckets, windows of whole hours, and figures against a recount."""

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ai_performance.engine.requests import Complexity
from custom_components.ai_performance.engine.sla import (
    DEFAULT_CLASSES,
    HOUR_S,
    WINDOWS_H,
    Counts,
    SlaBook,
    figures,
    hour_start,
)

START = 1_800_000_000.0 - 1_800_000_000.0 % HOUR_S
MODERATE = DEFAULT_CLASSES[Complexity.MODERATE]  # 8 s, 99.0 %
SIMPLE = DEFAULT_CLASSES[Complexity.SIMPLE]  # 3 s, 99.5 %


def test_figures_of_a_mixed_hour_are_exact() -> None:
    counts = Counts()
    for duration in (1000, 7000, 9000):  # the 9 s one misses the 8 s target
        counts.add(duration, error=False, promise=MODERATE)
    counts.add(500, error=True, promise=MODERATE)  # fast, but an error is never within
    for _ in range(196):
        counts.add(100, error=False, promise=MODERATE)

    result = figures(counts, 24)

    assert result.requests == 200
    assert result.compliance_percent == 99.0  # 198 of 200
    assert result.availability_percent == 99.5
    # 200 requests at 99 % allow 2 errors; 1 is spent, half the budget remains: 0.5 % of the
    # window's 1440 minutes.
    assert result.budget_remaining_percent == 50.0
    assert result.budget_remaining_minutes == 7.2


def test_mixed_classes_allow_each_class_its_own_errors() -> None:
    counts = Counts()
    for _ in range(100):
        counts.add(100, error=False, promise=SIMPLE)  # allows 0.5 errors
        counts.add(100, error=False, promise=MODERATE)  # allows 1 error
    counts.add(100, error=True, promise=SIMPLE)  # allows 0.005 more, spends 1

    result = figures(counts, 1)

    assert counts.error_allowance == pytest.approx(1.505)
    assert result.budget_remaining_percent == round(0.505 / 1.505 * 100, 2)


def test_an_overspent_budget_reads_exhausted_not_negative() -> None:
    counts = Counts()
    for error in (True, True, False):
        counts.add(100, error=error, promise=MODERATE)

    result = figures(counts, 1)

    # 3 requests at 99 % allow 0.03 errors; 2 were made: 6 667 % of the budget is used.
    assert result.budget_remaining_percent == 0
    assert result.budget_remaining_minutes == 0
    assert result.budget_consumed_percent == round(2 / 0.03 * 100, 2)
    assert result.budget_exhausted


def test_a_budget_partly_used_is_not_exhausted() -> None:
    counts = Counts()
    for _ in range(200):
        counts.add(100, error=False, promise=MODERATE)
    counts.add(100, error=True, promise=MODERATE)

    result = figures(counts, 1)

    assert result.budget_consumed_percent == round(1 / 2.01 * 100, 2)
    assert not result.budget_exhausted


def test_no_requests_have_no_figures() -> None:
    result = figures(Counts(), 720)

    assert result.requests == 0
    assert result.compliance_percent is None
    assert result.budget_remaining_minutes is None


def test_a_window_is_its_full_hours_and_the_hour_in_progress() -> None:
    book = SlaBook(START)
    book.add("agent", 100, error=False, promise=MODERATE)  # hour 0
    book.close_hours(START + HOUR_S + 10)
    book.add("agent", 100, error=True, promise=MODERATE)  # hour 1
    book.close_hours(START + 2 * HOUR_S + 10)
    book.add("agent", 100, error=False, promise=MODERATE)  # hour 2, in progress

    result = book.figures("agent")

    assert result[1].requests == 2  # hour 1 and the hour in progress
    assert result[24].requests == 3


def test_closing_reports_only_hours_with_requests_and_skips_a_gap() -> None:
    book = SlaBook(START)
    book.add("agent", 100, error=False, promise=MODERATE)
    book.add("idle", 100, error=False, promise=MODERATE)
    book.close_hours(START + HOUR_S)
    book.add("agent", 100, error=False, promise=MODERATE)

    closed = book.close_hours(
        START + 5 * HOUR_S + 1
    )  # Home Assistant was off for hours

    assert [(key, start) for key, start, _ in closed] == [("agent", START + HOUR_S)]
    assert book.open_start == START + 5 * HOUR_S
    assert book.close_hours(START + 5 * HOUR_S + 100) == []


def test_hours_read_back_go_before_those_counted_since() -> None:
    book = SlaBook(START + 3 * HOUR_S)
    book.add("agent", 100, error=False, promise=MODERATE)
    book.close_hours(START + 4 * HOUR_S)
    recorded = Counts(requests=5, within_target=5, errors=0, error_allowance=0.05)

    book.load_closed(
        "agent", [(START + HOUR_S, recorded), (START + 3 * HOUR_S, recorded)]
    )

    hours = book.subjects["agent"].closed
    assert [start for start, _ in hours] == [START + HOUR_S, START + 3 * HOUR_S]
    assert hours[-1][1].requests == 1  # the hour counted here wins over a duplicate


def test_counts_survive_a_round_trip_through_storage() -> None:
    counts = Counts()
    counts.add(9000, error=False, promise=MODERATE)
    counts.add(100, error=True, promise=SIMPLE)

    assert Counts.from_dict(counts.as_dict()) == counts


# --- The exact recount -----------------------------------------------------------------------

requests = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=40 * 24 * HOUR_S),  # when it ended
        st.floats(min_value=1, max_value=30_000),  # how long it took, ms
        st.booleans(),  # error
        st.sampled_from(list(Complexity)),
    ),
    max_size=120,
)


@settings(max_examples=60, deadline=None)
@given(requests, st.floats(min_value=0, max_value=HOUR_S))
def test_every_window_equals_a_brute_force_recount(
    made: list[tuple[float, float, bool, Complexity]], extra: float
) -> None:
    made.sort()
    book = SlaBook(START)
    for offset, duration, error, level in made:
        book.close_hours(START + offset)
        book.add("agent", duration, error=error, promise=DEFAULT_CLASSES[level])
    now = START + (made[-1][0] if made else 0) + extra
    book.close_hours(now)

    result = book.figures("agent")

    for window in WINDOWS_H:
        since = hour_start(now) - window * HOUR_S
        inside = [r for r in made if START + r[0] >= since]
        expected = Counts()
        for _, duration, error, level in inside:
            expected.add(duration, error=error, promise=DEFAULT_CLASSES[level])
        assert result[window] == figures(expected, window)
        assert result[window].compliance_percent is None or (
            0 <= result[window].compliance_percent <= 100
        )
