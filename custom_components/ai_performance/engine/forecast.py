"""Trends and forecasts: a straight line through a resource's recent hourly means.

The recorder keeps an hourly mean of every measured sensor. A least-squares line through the
last week of them gives how fast the value moves (per day), where it will be in 24 hours and when
it reaches a limit (a full disk: 100 %). A forecast is only given for a trend that is really
there: the slope must stand out of the noise (its t-statistic at least ``MIN_T_STAT``), so a flat
but noisy series says "not filling up" rather than a random date.
"""

from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Final

import numpy as np

DAY_S: Final = 86400.0
# Fewer hourly means than this (half a day) say nothing about a trend.
MIN_POINTS: Final = 12
# The slope must be this many standard errors above zero to count as rising. Hourly means are
# correlated from one hour to the next, which makes the standard error look smaller than it is:
# 3 rather than the textbook 2 keeps noise from being read as a trend.
MIN_T_STAT: Final = 3.0


@dataclass(frozen=True, slots=True)
class Trend:
    """A straight line fitted through a series, anchored at its newest point."""

    slope_per_day: float
    slope_stderr_per_day: float
    # The fitted value at ``at`` (seconds since the epoch), the newest point's time.
    level: float
    at: float
    # Share of the series' variance the line explains, 0-1: how well a line describes it.
    r_squared: float
    points: int

    # The series' mean.
    mean: float

    @property
    def rising(self) -> bool:
        """Return True when the series goes up by more than its noise explains."""
        return self._t_stat >= MIN_T_STAT

    @property
    def falling(self) -> bool:
        """Return True when the series goes down by more than its noise explains."""
        return self._t_stat <= -MIN_T_STAT

    @property
    def _t_stat(self) -> float:
        if self.slope_stderr_per_day == 0:
            return (
                math.copysign(math.inf, self.slope_per_day)
                if self.slope_per_day
                else 0.0
            )
        return self.slope_per_day / self.slope_stderr_per_day

    def value_at(self, when: float) -> float:
        """Return the line's value at ``when`` (seconds since the epoch)."""
        return self.level + self.slope_per_day * (when - self.at) / DAY_S

    def seconds_until(self, limit: float, now: float) -> float | None:
        """Return the seconds from ``now`` until the line reaches ``limit``.

        None when the series is not rising; 0 when the line is already at or past the limit.
        """
        if not self.rising:
            return None
        reached_at = self.at + (limit - self.level) / self.slope_per_day * DAY_S
        return max(0.0, reached_at - now)


def fit_trend(
    times: Sequence[float],
    values: Sequence[float | None],
    *,
    min_points: int = MIN_POINTS,
) -> Trend | None:
    """Return the least-squares line through ``values`` at ``times`` (seconds).

    Missing values (None or NaN) are left out. None when fewer than ``min_points`` remain or
    when every point has the same time.
    """
    t = np.asarray(times, dtype=float)
    y = np.asarray([math.nan if v is None else v for v in values], dtype=float)
    if t.shape != y.shape:
        msg = f"{len(t)} times for {len(y)} values"
        raise ValueError(msg)
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    if len(t) < max(min_points, 3):
        return None
    days = (t - t.max()) / DAY_S
    centred = days - days.mean()
    spread = float(centred @ centred)
    if spread == 0:
        return None
    slope = float(centred @ (y - y.mean())) / spread
    intercept = float(y.mean()) - slope * float(days.mean())
    residuals = y - (intercept + slope * days)
    residual_ss = float(residuals @ residuals)
    total_ss = float(((y - y.mean()) ** 2).sum())
    dof = len(t) - 2
    stderr = math.sqrt(residual_ss / dof / spread)
    r_squared = 1.0 - residual_ss / total_ss if total_ss > 0 else 0.0
    return Trend(
        slope_per_day=slope,
        slope_stderr_per_day=stderr,
        level=intercept,
        at=float(t.max()),
        r_squared=min(1.0, max(0.0, r_squared)),
        points=len(t),
        mean=float(y.mean()),
    )


@dataclass(frozen=True, slots=True)
class CostProjection:
    """Where the month's spending is heading."""

    # Spent so far plus the expected spending of the rest of the month.
    month_total: float
    # Expected spending per day now, and how much it changes per day.
    daily_cost: float
    slope_per_day: float
    # Seconds from now until the budget is spent, when that happens this month.
    budget_reached_in: float | None


def project_month(
    spent: float,
    month: tuple[float, float],
    now: float,
    daily: Trend | None,
    budget: float | None = None,
) -> CostProjection:
    """Project the month's total cost from what was spent so far and the daily costs.

    ``spent`` since the start of ``month`` (start, end: seconds since the epoch). ``daily`` is
    the line through the cost of each past day, placed at the day's midday. When it rises or
    falls beyond its noise, the rest of the month follows the line (never below zero);
    otherwise it goes on at the daily costs' mean, or without them at the month's average so far.
    """
    start, end = month
    if daily is not None and (daily.rising or daily.falling):
        slope = daily.slope_per_day

        def rate(when: float) -> float:
            return max(0.0, daily.value_at(when))

    else:
        slope = 0.0
        elapsed_days = (now - start) / DAY_S
        flat = (
            daily.mean
            if daily is not None
            else spent / elapsed_days
            if elapsed_days > 0
            else 0.0
        )

        def rate(when: float) -> float:
            return max(0.0, flat)

    # Hour by hour to the month's end: a line cut at zero, and the hour the budget runs out.
    rest = 0.0
    budget_in = 0.0 if budget is not None and spent >= budget else None
    step = 3600.0
    when = now
    while when < end:
        span = min(step, end - when)
        cost = rate(when + span / 2) * span / DAY_S
        if budget_in is None and budget is not None and spent + rest + cost >= budget:
            budget_in = when - now + (budget - spent - rest) / cost * span
        rest += cost
        when += span
    return CostProjection(
        month_total=spent + rest,
        daily_cost=rate(now),
        slope_per_day=slope,
        budget_reached_in=budget_in,
    )


@dataclass(frozen=True, slots=True)
class ResourceForecast:
    """When one resource (memory, a disk, a GPU's memory) fills up, as last fitted."""

    resource: str
    subject: str
    # The disk's mount point; None for memory and GPU memory.
    item: str | None
    # None until enough history is recorded.
    trend: Trend | None
    limit: float = 100.0

    def seconds_until_full(self, now: float) -> float | None:
        """Return the seconds until the limit is reached; None when not filling up."""
        return None if self.trend is None else self.trend.seconds_until(self.limit, now)
