"""The report engine: sums, shares, request-weighted latency and the latency trend."""

from hypothesis import given, strategies as st
import pytest

from custom_components.ai_performance.engine.report import (
    Direction,
    HourCounts,
    latency_direction,
    subject_report,
    weighted_latency,
)

HOUR = 3600.0


def test_a_subject_over_three_hours() -> None:
    hours = [
        HourCounts(0, 10, 9, 1),
        HourCounts(HOUR, 0, 0, 0),
        HourCounts(2 * HOUR, 30, 24, 3),
    ]
    p50 = {0: 1000.0, HOUR: 5000.0, 2 * HOUR: 2000.0}  # the empty hour weighs nothing
    report = subject_report(hours, p50, {})
    assert report == {
        "requests": 40,
        "errors": 4,
        "error_rate_percent": 10.0,
        "sla_compliance_percent": 82.5,
        # No allowance recorded: every error overspends the budget.
        "availability_percent": 90.0,
        "error_budget_remaining_percent": None,
        "error_budget_exhausted": True,
        "latency_p50_ms": 1750.0,
        "latency_p95_ms": None,
        "latency_trend": None,
    }


def test_an_overspent_budget_reads_exhausted() -> None:
    # 100 requests at 99 % allow 1 error; 3 were made.
    report = subject_report([HourCounts(0, 100, 97, 3, error_allowance=1.0)], {}, {})
    assert report["availability_percent"] == 97.0
    assert report["error_budget_remaining_percent"] == 0
    assert report["error_budget_exhausted"] is True


def test_no_requests_no_shares() -> None:
    report = subject_report([], {}, {})
    assert report["requests"] == 0
    assert report["error_rate_percent"] is None
    assert report["sla_compliance_percent"] is None


@pytest.mark.parametrize(
    ("slope", "direction"),
    [(50.0, Direction.RISING), (-50.0, Direction.FALLING), (0.0, Direction.STEADY)],
)
def test_latency_direction(slope: float, direction: Direction) -> None:
    noise = [0, 40, -30, 10, -20, 30, -40, 20, 0, -10, 35, -25] * 2
    means = {i * HOUR: 2000 + slope * i + noise[i] for i in range(24)}
    assert latency_direction(means) is direction
    assert latency_direction(dict(list(means.items())[:5])) is None


@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.floats(1, 100_000)), min_size=1, max_size=48
    )
)
def test_weighted_latency_lies_between_the_hourly_means(
    rows: list[tuple[int, float]],
) -> None:
    hours = [HourCounts(i * HOUR, n, n, 0) for i, (n, _) in enumerate(rows)]
    means = {i * HOUR: mean for i, (_, mean) in enumerate(rows)}
    value = weighted_latency(hours, means)
    used = [mean for n, mean in rows if n > 0]
    if not used:
        assert value is None
    else:
        assert min(used) - 1e-3 <= value <= max(used) + 1e-3
