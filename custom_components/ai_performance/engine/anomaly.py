"""Latency anomalies: whether a value is unusually high for this time of the week.

An agent's latency has a rhythm: slower in the evening when everyone talks to it, when a model
was unloaded overnight, on the weekend. So a value is judged against what is usual *at this hour
of the week*: the median and the median absolute deviation (MAD) of the past hourly means in the
same hour of the week and the hours either side. The score is the robust z-score
``(value - median) / (1.4826 · MAD)``; from ``THRESHOLD`` on the value is an anomaly (3.5: the
modified z-score's usual outlier cut-off, Iglewicz and Hoaglin).

Until three weeks of history exist, the baseline is an exponentially weighted moving average of
the recent hourly means, with an exponentially weighted mean absolute deviation as its spread.
Points far above the level are clipped before they update it, so one bad hour does not make the
next one look normal.

Only slowness is an anomaly: an agent unusually fast is not a problem.
"""

from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

HOURS_PER_WEEK: Final = 168
THRESHOLD: Final = 3.5
# MAD times this estimates the standard deviation of normally distributed values.
MAD_TO_SD: Final = 1.4826
# Mean absolute deviation times this estimates the standard deviation (√(π/2)).
MEAN_AD_TO_SD: Final = math.sqrt(math.pi / 2)
# The spread is never taken below this share of the level: over a very steady history a few
# percent more would otherwise count as an anomaly.
MIN_RELATIVE_SPREAD: Final = 0.1
# Hours either side of the hour of the week that count towards its baseline.
NEIGHBOUR_HOURS: Final = 1
# The hour-of-week baseline needs this many past values: three weeks of three hours each.
MIN_SEASONAL_POINTS: Final = 9
# The moving average needs this many hourly means (half a day).
MIN_RECENT_POINTS: Final = 12
# Each new hour moves the moving average a fifth of the way: it follows a day's rhythm within a
# few hours.
EWMA_ALPHA: Final = 0.2


class Method(StrEnum):
    """How the baseline was made."""

    HOUR_OF_WEEK = "hour_of_week"
    MOVING_AVERAGE = "moving_average"


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is usual: a centre and a spread (as a standard deviation)."""

    center: float
    spread: float
    method: Method
    points: int

    def score(self, value: float) -> float:
        """Return how many spreads ``value`` lies above the centre."""
        return (value - self.center) / self.spread

    def is_anomaly(self, value: float) -> bool:
        """Return True when ``value`` is unusually high."""
        return self.score(value) >= THRESHOLD


def hour_of_week(weekday: int, hour: int) -> int:
    """Return the hour of the week, 0-167, of ``hour`` on ``weekday`` (Monday = 0)."""
    return weekday * 24 + hour


def baseline(slots: ArrayLike, values: ArrayLike, slot: int) -> Baseline | None:
    """Return what is usual at hour of the week ``slot``, from past hourly means.

    ``values`` oldest first, each with its hour of the week in ``slots``. The hour-of-week
    baseline when enough weeks are known, else the moving average, else None.
    """
    y = np.asarray(values, dtype=float)
    s = np.asarray(slots, dtype=int)
    keep = np.isfinite(y)
    y, s = y[keep], s[keep]
    return seasonal_baseline(s, y, slot) or moving_baseline(y)


def seasonal_baseline(
    slots: np.ndarray, values: np.ndarray, slot: int
) -> Baseline | None:
    """Return the median and MAD of the values at ``slot`` and its neighbours, or None."""
    distance = np.abs(slots - slot) % HOURS_PER_WEEK
    distance = np.minimum(distance, HOURS_PER_WEEK - distance)
    near = values[distance <= NEIGHBOUR_HOURS]
    if len(near) < MIN_SEASONAL_POINTS:
        return None
    center = float(np.median(near))
    mad = float(np.median(np.abs(near - center)))
    return Baseline(
        center=center,
        spread=_floored(MAD_TO_SD * mad, center),
        method=Method.HOUR_OF_WEEK,
        points=len(near),
    )


def moving_baseline(values: np.ndarray) -> Baseline | None:
    """Return the exponentially weighted level and spread of ``values``, or None."""
    if len(values) < MIN_RECENT_POINTS:
        return None
    # Start from the first values' median and MAD, then follow the series.
    head = values[:MIN_RECENT_POINTS]
    level = float(np.median(head))
    spread = _floored(MAD_TO_SD * float(np.median(np.abs(head - level))), level)
    deviation = spread / MEAN_AD_TO_SD
    for value in values[MIN_RECENT_POINTS:]:
        clipped = min(float(value), level + THRESHOLD * spread)
        deviation += EWMA_ALPHA * (abs(clipped - level) - deviation)
        level += EWMA_ALPHA * (clipped - level)
        spread = _floored(MEAN_AD_TO_SD * deviation, level)
    return Baseline(
        center=level,
        spread=spread,
        method=Method.MOVING_AVERAGE,
        points=len(values),
    )


def _floored(spread: float, center: float) -> float:
    return max(spread, MIN_RELATIVE_SPREAD * abs(center), 1e-9)


@dataclass(frozen=True, slots=True)
class LatencyCheck:
    """One subject's latency now, against what is usual at this hour of the week."""

    value: float | None
    baseline: Baseline | None
    # The update this anomaly started within a day of ("Home Assistant 2026.11.0"), and when
    # that update was seen; None when it did not follow one.
    after_update: str | None = None
    updated_at: float | None = None

    @property
    def score(self) -> float | None:
        """Return the robust score; None without a value or a baseline."""
        if self.value is None or self.baseline is None:
            return None
        return self.baseline.score(self.value)

    @property
    def is_anomaly(self) -> bool | None:
        """Return True when unusually slow; None without a baseline (not known yet).

        No requests (no value) is never an anomaly.
        """
        if self.baseline is None:
            return None
        return self.value is not None and self.baseline.is_anomaly(self.value)
