"""Accuracy of the forecasts, the latency anomaly detector and the SLA windows.

Writes benchmarks/results/analytics.json (see docs/performance.md):
- forecast_tte_within_10pct_share: over 1000 generated linear-trend series (a week of hourly
  means, rising towards 100 % which they reach 12 h to 30 days after the last point, Gaussian
  noise with a standard deviation of up to 10 % of the trend's range over the week), the share
  whose forecast time to 100 % is within 10 % of the true one. A series the forecast calls "not
  rising" counts as a miss.
- anomaly_precision / anomaly_recall: 60 generated latency series of five weeks (daily rhythm of
  up to ±40 %, weekends up to 30 % slower, multiplicative noise of 3-10 %), with 2 % of the hours
  labelled as spikes (latency times 1.6 to 4). Each hour is judged, as the integration does, against
  a baseline made only from the four weeks before it; every hour with at least 12 h of history
  counts. Also per method (hour-of-week baseline, moving average).
- sla_windows_equal_recount_share: 1000 random request streams (up to 40 days, mixed classes,
  errors), every window of the SLA book compared with a recount of the requests: 1.0 = all equal.
- forecast_fit_ms_p50 / anomaly_baseline_ms_p50: our cost per subject per hourly refresh (a
  week of hourly means fitted; a four-week baseline made).
"""

# ruff: noqa: E402 - the path is fixed before the integration is imported
from pathlib import Path
import sys

# This directory holds requests.py, which would shadow the requests package.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from collections.abc import Callable
import json
import statistics
import time

import numpy as np

from custom_components.ai_performance.engine.anomaly import (
    HOURS_PER_WEEK,
    MIN_RECENT_POINTS,
    Method,
    baseline,
)
from custom_components.ai_performance.engine.forecast import DAY_S, fit_trend
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

RESULTS = Path(__file__).parent / "results" / "analytics.json"
SEED = 20261121
FORECAST_SERIES = 1000
ANOMALY_SERIES = 60
SLA_STREAMS = 1000
WEEK_HOURS = 7 * 24


def forecast_share(rng: np.random.Generator) -> float:
    """Return the share of series whose time to 100 % is forecast within 10 %."""
    hours = np.arange(WEEK_HOURS) * HOUR_S
    now = float(hours[-1])
    within = 0
    for _ in range(FORECAST_SERIES):
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
        if (
            forecast is not None
            and abs(forecast / DAY_S - true_days) <= 0.1 * true_days
        ):
            within += 1
    return within / FORECAST_SERIES


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


def anomaly_scores(rng: np.random.Generator) -> dict[str, float]:
    """Return precision and recall over generated series, overall and per method."""
    counts = {
        method: [0, 0, 0] for method in Method
    }  # true pos., false pos., false neg.
    for _ in range(ANOMALY_SERIES):
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


def sla_share(rng: np.random.Generator) -> float:
    """Return the share of request streams whose every SLA window equals a recount."""
    start = hour_start(1_800_000_000.0)
    levels = list(Complexity)
    equal = 0
    for _ in range(SLA_STREAMS):
        count = int(rng.integers(0, 300))
        ends = np.sort(rng.uniform(0, 40 * DAY_S, count))
        made = [
            (
                float(end),
                float(rng.uniform(1, 30_000)),
                bool(rng.random() < 0.05),
                levels[int(rng.integers(0, len(levels)))],
            )
            for end in ends
        ]
        book = SlaBook(start)
        for offset, duration, error, level in made:
            book.close_hours(start + offset)
            book.add("agent", duration, error=error, promise=DEFAULT_CLASSES[level])
        now = start + (made[-1][0] if made else 0) + float(rng.uniform(0, HOUR_S))
        book.close_hours(now)
        windows = book.figures("agent")
        ok = True
        for window in WINDOWS_H:
            since = hour_start(now) - window * HOUR_S
            expected = Counts()
            for offset, duration, error, level in made:
                if start + offset >= since:
                    expected.add(duration, error=error, promise=DEFAULT_CLASSES[level])
            ok = ok and windows[window] == figures(expected, window)
        equal += ok
    return equal / SLA_STREAMS


def median_ms(fn: Callable[[], object], rounds: int = 200) -> float:
    """Return the median time of ``rounds`` calls of ``fn``, in ms."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 4)


def main() -> None:
    """Measure everything with one seeded generator and write the results."""
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    results: dict[str, float | str] = {
        "forecast_tte_within_10pct_share": forecast_share(rng)
    }
    results.update(anomaly_scores(rng))
    results["sla_windows_equal_recount_share"] = sla_share(rng)
    hours = np.arange(WEEK_HOURS) * HOUR_S
    week = 50 + hours / DAY_S + rng.normal(0, 1, len(hours))
    results["forecast_fit_ms_p50"] = median_ms(lambda: fit_trend(hours, week))
    slots, latency, _ = latency_series(rng, weeks=4)
    results["anomaly_baseline_ms_p50"] = median_ms(
        lambda: baseline(slots, latency, int(slots[-1]))
    )
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["anomaly_note"] = (
        "spikes x1.6-4 on 2 % of hours; baseline from the 4 weeks before each hour only"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
