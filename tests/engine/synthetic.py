"""Generated series with known answers, for the accuracy tests and ./scripts/bench analytics.

- Rising series: a week of hourly means rising towards 100 %, which they reach 12 h to 30 days after
  the last point, with Gaussian noise of a standard deviation up to 10 % of the trend's range over
  the week. Flat series: a level with noise of 0.1 to 5 points.
- Latency series: five weeks of hourly p95 latencies with a daily rhythm of up to +-40 %, weekends
  up to 30 % slower, multiplicative noise of 3-10 %, and 2 % of the hours labelled as spikes
  (latency times 1.6 to 4). Each hour is judged against a baseline made only from the four weeks
  before it, as the integration does; every hour with at least 12 h of history counts.
"""

import math

import numpy as np

from custom_components.ai_performance.engine.anomaly import (
    HOURS_PER_WEEK,
    MIN_RECENT_POINTS,
    Method,
    baseline,
)
from custom_components.ai_performance.engine.forecast import DAY_S, fit_trend

HOUR_S = 3600.0
WEEK_HOURS = 7 * 24


def forecast_accuracy(rng: np.random.Generator, count: int) -> dict[str, float]:
    """Return the share of series whose time to 100 % is forecast within 10 %, and errors."""
    hours = np.arange(WEEK_HOURS) * HOUR_S
    now = float(hours[-1])
    within = 0
    errors: list[float] = []
    for _ in range(count):
        while True:
            end = rng.uniform(20, 90)  # % at the last point
            true_days = rng.uniform(0.5, 30)
            slope = (100 - end) / true_days  # % per day
            if end - slope * 7 >= 0:  # the week's trend starts above 0 %
                break
        clean = end + slope * (hours - now) / DAY_S
        noise_sd = rng.uniform(0, 0.10) * slope * 7
        trend = fit_trend(hours, clean + rng.normal(0, noise_sd, len(hours)))
        forecast = None if trend is None else trend.seconds_until(100, now)
        error = (
            math.inf
            if forecast is None
            else abs(forecast / DAY_S - true_days) / true_days
        )
        errors.append(error)
        within += error <= 0.1
    # Flat series with the same noise: a date given for one of them is a false alarm.
    dated = 0
    for _ in range(count):
        level = rng.uniform(20, 90)
        noisy = level + rng.normal(0, rng.uniform(0.1, 5), len(hours))
        trend = fit_trend(hours, noisy)
        dated += trend is not None and trend.seconds_until(100, now) is not None
    return {
        "forecast_tte_within_10pct_share": within / count,
        "forecast_tte_error_p50_pct": round(float(np.percentile(errors, 50)) * 100, 2),
        "forecast_tte_error_p95_pct": round(float(np.percentile(errors, 95)) * 100, 2),
        "forecast_flat_dated_share": dated / count,
    }


def latency_series(
    rng: np.random.Generator, weeks: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return hours of the week, latencies (ms) and spike labels of one generated series."""
    hours = np.arange(weeks * HOURS_PER_WEEK)
    slots = hours % HOURS_PER_WEEK
    base = rng.uniform(400, 3000)
    daily = rng.uniform(0, 0.4) * np.sin(2 * np.pi * (hours - rng.uniform(0, 24)) / 24)
    weekend = np.where(slots // 24 >= 5, rng.uniform(0.9, 1.3), 1.0)
    latency = (
        base
        * (1 + daily)
        * weekend
        * np.exp(rng.normal(0, rng.uniform(0.03, 0.1), len(hours)))
    )
    spikes = rng.random(len(hours)) < 0.02
    latency = np.where(spikes, latency * rng.uniform(1.6, 4, len(hours)), latency)
    return slots, latency, spikes


def anomaly_scores(rng: np.random.Generator, count: int) -> dict[str, float]:
    """Return precision and recall over generated series, overall and per method."""
    # Per method: true positives, false positives, false negatives.
    counts = {method: [0, 0, 0] for method in Method}
    for _ in range(count):
        slots, latency, spikes = latency_series(rng)
        for hour in range(MIN_RECENT_POINTS, len(latency)):
            since = max(0, hour - 4 * HOURS_PER_WEEK)
            usual = baseline(slots[since:hour], latency[since:hour], int(slots[hour]))
            assert usual is not None
            flagged = usual.is_anomaly(float(latency[hour]))
            tally = counts[usual.method]
            if flagged:
                tally[0 if spikes[hour] else 1] += 1
            elif spikes[hour]:
                tally[2] += 1
    result: dict[str, float] = {}
    for name, (tp, fp, fn) in [
        ("", [sum(c[i] for c in counts.values()) for i in range(3)]),
        *((f"_{method}", tally) for method, tally in counts.items()),
    ]:
        result[f"anomaly_precision{name}"] = round(tp / (tp + fp), 4)
        result[f"anomaly_recall{name}"] = round(tp / (tp + fn), 4)
        result[f"anomaly_spikes{name}"] = tp + fn
    return result
