"""Latency anomalies: robust scores against the same hour of the week, or a moving average."""

import math

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from custom_components.ai_performance.engine.anomaly import (
    HOURS_PER_WEEK,
    MAD_TO_SD,
    MIN_RECENT_POINTS,
    MIN_RELATIVE_SPREAD,
    THRESHOLD,
    Method,
    baseline,
    hour_of_week,
)

from .synthetic import anomaly_scores

MONDAY_9 = hour_of_week(0, 9)


def weeks_of(
    values_at_slot: list[list[float]], other: float = 100.0
) -> tuple[list[int], list[float]]:
    """Return weeks of hourly means, ``other`` everywhere but Monday 8-10 (three per week)."""
    slots: list[int] = []
    values: list[float] = []
    for week in values_at_slot:
        for slot in range(HOURS_PER_WEEK):
            slots.append(slot)
            values.append(week[slot - 8] if 8 <= slot <= 10 else other)
    return slots, values


def test_hour_of_week_baseline_is_the_median_and_mad_of_its_hours() -> None:
    slots, values = weeks_of(
        [[1000, 1100, 1200], [900, 1000, 1300], [1000, 1000, 5000]]
    )

    usual = baseline(slots, values, MONDAY_9)

    assert usual is not None
    assert usual.method is Method.HOUR_OF_WEEK
    assert usual.points == 9
    assert usual.center == 1000  # 900 1000 1000 1000 1000 1100 1200 1300 5000
    # Deviations 100 0 0 0 0 100 200 300 4000: MAD 100, but never below 10 % of the centre.
    assert usual.spread == pytest.approx(
        max(MAD_TO_SD * 100, MIN_RELATIVE_SPREAD * 1000)
    )
    assert not usual.is_anomaly(1400)
    assert usual.is_anomaly(1000 + THRESHOLD * usual.spread + 0.01)
    assert not usual.is_anomaly(1000 + THRESHOLD * usual.spread - 0.01)


def test_the_usual_evening_rush_is_not_an_anomaly() -> None:
    # Monday evenings are always slow; the rest of the week is fast.
    slots, values = weeks_of([[3000, 3100, 2900]] * 3, other=800.0)

    usual = baseline(slots, values, MONDAY_9)

    assert usual is not None
    assert not usual.is_anomaly(3200)  # slow, but as slow as every Monday at 9
    assert usual.is_anomaly(6000)


def test_a_slot_is_compared_with_its_neighbours_across_the_week_boundary() -> None:
    sunday_23 = hour_of_week(6, 23)
    slots = [sunday_23, 0, sunday_23 - 1] * 5
    values = [500.0] * 15

    usual = baseline(slots, values, 0)  # Monday 0:00 neighbours Sunday 23:00

    assert usual is not None
    assert usual.method is Method.HOUR_OF_WEEK
    assert usual.points == 10  # Sunday 22:00 is two hours away


def test_short_history_uses_the_moving_average() -> None:
    values = [1000.0, 1020.0, 980.0] * 8  # a day
    slots = list(range(len(values)))

    usual = baseline(slots, values, 24)

    assert usual is not None
    assert usual.method is Method.MOVING_AVERAGE
    assert usual.points == 24
    assert usual.center == pytest.approx(1000, rel=0.01)
    assert usual.is_anomaly(2000)
    assert not usual.is_anomaly(1100)


def test_a_spike_in_history_does_not_make_the_next_one_look_normal() -> None:
    values = [1000.0] * 20 + [20_000.0] + [1000.0] * 3
    slots = list(range(len(values)))

    usual = baseline(slots, values, len(values))

    assert usual is not None
    assert usual.center < 1200  # the 20 s hour moved it only as far as the clip allows
    assert usual.is_anomaly(3000)


def test_too_little_history_gives_no_baseline() -> None:
    values = [1000.0] * (MIN_RECENT_POINTS - 1) + [math.nan, math.nan]

    assert baseline(list(range(len(values))), values, 0) is None


@settings(max_examples=80, deadline=None)
@given(
    level=st.floats(min_value=1, max_value=1e5),
    noise=st.lists(
        st.floats(min_value=-0.05, max_value=0.05), min_size=12, max_size=700
    ),
    weeks=st.booleans(),
    value=st.floats(min_value=-0.05, max_value=0.05),
)
def test_noise_inside_the_usual_band_is_never_an_anomaly(
    level: float, noise: list[float], *, weeks: bool, value: float
) -> None:
    values = [level * (1 + n) for n in noise]
    if weeks:
        values = (values * math.ceil(3 * HOURS_PER_WEEK / len(values)))[
            : 3 * HOURS_PER_WEEK
        ]
    slots = [i % HOURS_PER_WEEK for i in range(len(values))]

    usual = baseline(slots, values, len(values) % HOURS_PER_WEEK)

    assert usual is not None
    assert not usual.is_anomaly(level * (1 + value))


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.floats(min_value=1, max_value=1e4), min_size=12, max_size=600),
    scale=st.floats(min_value=0.01, max_value=100),
    value=st.floats(min_value=0, max_value=1e5),
    slot=st.integers(min_value=0, max_value=HOURS_PER_WEEK - 1),
)
def test_scores_ignore_the_unit_and_grow_with_the_value(
    values: list[float], scale: float, value: float, slot: int
) -> None:
    slots = [i % HOURS_PER_WEEK for i in range(len(values))]

    usual = baseline(slots, values, slot)
    scaled = baseline(slots, [v * scale for v in values], slot)

    assert usual is not None
    assert scaled is not None
    assert scaled.score(value * scale) == pytest.approx(
        usual.score(value), rel=1e-6, abs=1e-9
    )
    assert usual.score(value + 1) > usual.score(value)
    assert not usual.is_anomaly(usual.center)


def test_slots_follow_the_week() -> None:
    assert hour_of_week(0, 0) == 0
    assert hour_of_week(6, 23) == HOURS_PER_WEEK - 1
    assert (
        np.unique([hour_of_week(d, h) for d in range(7) for h in range(24)]).size == 168
    )


def test_labelled_spikes_are_found_with_few_false_alarms() -> None:
    # A smaller run of ./scripts/bench analytics (60 series there).
    scores = anomaly_scores(np.random.default_rng(5), 12)

    assert scores["anomaly_precision"] >= 0.95
    assert scores["anomaly_recall"] >= 0.90
