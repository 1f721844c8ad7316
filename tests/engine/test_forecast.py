"""Trends and forecasts: straight lines through hourly means, and the month's projected cost."""

import math

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from custom_components.ai_performance.engine.forecast import (
    DAY_S,
    MIN_POINTS,
    fit_trend,
    project_month,
)

from .synthetic import forecast_accuracy

HOUR_S = 3600.0
NOW = 1_800_000_000.0
WEEK = [NOW - (167 - i) * HOUR_S for i in range(168)]


def test_a_straight_line_is_fitted_exactly() -> None:
    values = [40 + 2 * (t - NOW) / DAY_S for t in WEEK]  # 2 %/day, 40 % now

    trend = fit_trend(WEEK, values)

    assert trend is not None
    assert trend.slope_per_day == pytest.approx(2)
    assert trend.level == pytest.approx(40)
    assert trend.r_squared == pytest.approx(1)
    assert trend.rising
    assert trend.value_at(NOW + DAY_S) == pytest.approx(42)
    # 60 % to go at 2 % a day: 30 days; half a day later, 29.5 are left.
    assert trend.seconds_until(100, NOW) == pytest.approx(30 * DAY_S)
    assert trend.seconds_until(100, NOW + DAY_S / 2) == pytest.approx(29.5 * DAY_S)


def test_a_limit_already_passed_is_reached_now() -> None:
    trend = fit_trend(WEEK, [101 + (t - NOW) / DAY_S for t in WEEK])

    assert trend is not None
    assert trend.seconds_until(100, NOW) == 0


def test_noise_around_a_flat_level_is_not_a_trend() -> None:
    rng = np.random.default_rng(7)

    trend = fit_trend(WEEK, list(50 + rng.normal(0, 5, len(WEEK))))

    assert trend is not None
    assert not trend.rising
    assert not trend.falling
    assert trend.seconds_until(100, NOW) is None
    assert trend.r_squared < 0.1
    assert trend.mean == pytest.approx(50, abs=1)


def test_a_falling_series_never_fills_up() -> None:
    trend = fit_trend(WEEK, [80 - 3 * (t - NOW) / DAY_S for t in WEEK])

    assert trend is not None
    assert trend.falling
    assert trend.seconds_until(100, NOW) is None


def test_missing_values_are_left_out_and_too_few_give_nothing() -> None:
    times = WEEK[: MIN_POINTS + 1]
    values: list[float | None] = [float(i) for i in range(MIN_POINTS + 1)]
    values[3] = None
    values[5] = math.nan

    assert fit_trend(times, values) is None  # 11 left
    values[3] = 3.0
    trend = fit_trend(times, values)
    assert trend is not None
    assert trend.points == MIN_POINTS
    assert trend.slope_per_day == pytest.approx(24)  # one per hour


def test_all_at_one_time_or_mismatched_lengths() -> None:
    assert fit_trend([NOW] * 20, list(range(20))) is None
    with pytest.raises(ValueError, match="12 times for 11 values"):
        fit_trend(WEEK[:12], list(range(11)))


@settings(max_examples=100, deadline=None)
@given(
    level=st.floats(min_value=0, max_value=99),
    per_day=st.floats(min_value=0.01, max_value=50),
    shift=st.floats(min_value=-1000, max_value=1000),
)
def test_any_rising_line_is_forecast_exactly_and_shifting_it_keeps_the_slope(
    level: float, per_day: float, shift: float
) -> None:
    values = [level + per_day * (t - NOW) / DAY_S for t in WEEK]

    trend = fit_trend(WEEK, values)
    shifted = fit_trend(WEEK, [v + shift for v in values])

    assert trend is not None
    assert shifted is not None
    assert trend.rising
    assert trend.seconds_until(100, NOW) == pytest.approx(
        (100 - level) / per_day * DAY_S, rel=1e-6, abs=1e-3
    )
    assert shifted.slope_per_day == pytest.approx(trend.slope_per_day, rel=1e-6)
    assert shifted.level == pytest.approx(trend.level + shift, rel=1e-6, abs=1e-6)


# --- The month's cost ------------------------------------------------------------------------

MONTH = (NOW, NOW + 30 * DAY_S)


def test_without_daily_costs_the_month_goes_on_at_its_average() -> None:
    projection = project_month(10.0, MONTH, NOW + 10 * DAY_S, None, budget=25.0)

    assert projection.month_total == pytest.approx(30)  # 1 a day for 30 days
    assert projection.daily_cost == pytest.approx(1)
    assert projection.slope_per_day == 0
    # 15 left at 1 a day.
    assert projection.budget_reached_in == pytest.approx(15 * DAY_S)


def test_a_flat_history_projects_its_mean() -> None:
    days = [NOW + (i + 0.5) * DAY_S for i in range(10)]
    daily = fit_trend(days, [2.0, 1.0] * 5, min_points=7)

    projection = project_month(15.0, MONTH, NOW + 10 * DAY_S, daily)

    assert projection.month_total == pytest.approx(15 + 20 * 1.5)
    assert projection.budget_reached_in is None  # no budget


def test_rising_daily_costs_follow_their_line() -> None:
    # Day i costs i: the line is t - 0.5 at t days into the month (each day's cost sits at its
    # midday), so the rest of the month costs the integral of t - 0.5 from day 10 to day 30.
    days = [NOW + (i + 0.5) * DAY_S for i in range(10)]
    daily = fit_trend(days, [float(i) for i in range(10)], min_points=7)
    now = NOW + 10 * DAY_S

    projection = project_month(45.0, MONTH, now, daily, budget=100.0)

    assert projection.month_total == pytest.approx(45 + 390, rel=1e-3)
    assert projection.slope_per_day == pytest.approx(1)
    assert projection.daily_cost == pytest.approx(
        9.5, rel=1e-3
    )  # at the start of day 10
    # 55 more: the integral from 10 to x is 55 when x^2 - x - 200 = 0.
    reached_day = (1 + math.sqrt(801)) / 2
    assert projection.budget_reached_in == pytest.approx(
        (reached_day - 10) * DAY_S, rel=1e-4
    )


def test_falling_daily_costs_stop_at_zero() -> None:
    days = [NOW + (i + 0.5) * DAY_S for i in range(10)]
    daily = fit_trend(days, [float(10 - i) for i in range(10)], min_points=7)

    projection = project_month(55.0, MONTH, NOW + 10 * DAY_S, daily, budget=50.0)

    # The line is 10.5 - t: from 0.5 at day 10's start it reaches 0 at mid-day, costing 0.125.
    assert projection.month_total == pytest.approx(55.125, rel=1e-6)
    assert projection.budget_reached_in == 0  # already over


@settings(max_examples=60, deadline=None)
@given(
    spent=st.floats(min_value=0, max_value=1000),
    elapsed_days=st.floats(min_value=0.1, max_value=29.9),
    costs=st.lists(st.floats(min_value=0, max_value=100), min_size=7, max_size=30),
)
def test_the_projection_never_falls_below_what_was_spent(
    spent: float, elapsed_days: float, costs: list[float]
) -> None:
    days = [NOW - (len(costs) - i - 0.5) * DAY_S for i in range(len(costs))]
    daily = fit_trend(days, costs, min_points=7)
    now = NOW + elapsed_days * DAY_S

    projection = project_month(spent, MONTH, now, daily, budget=spent + 1)

    assert projection.month_total >= spent
    assert projection.daily_cost >= 0
    reached = projection.budget_reached_in
    assert reached is None or 0 <= reached <= MONTH[1] - now + 1e-6


def test_forecasts_of_generated_series_are_within_10_percent() -> None:
    # A smaller run of ./scripts/bench analytics (1000 series there).
    accuracy = forecast_accuracy(np.random.default_rng(5), 200)

    assert accuracy["forecast_tte_within_10pct_share"] >= 0.90
    assert accuracy["forecast_flat_dated_share"] <= 0.02
