"""The performance report of one subject over a period, from its hourly statistics.

Counts (requests, answers within target, errors) are the SLA ledger's exact hourly sums. The
latency percentiles of a period are the hours' recorded percentile means weighted by each hour's
requests: an estimate (percentiles do not add up), exact when every hour has the same spread.
The trend is the direction of a least-squares line through the hourly p95 means, counted only
when it is significant (see forecast.fit_trend).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from .forecast import fit_trend
from .sla import Counts, figures

HALF_HOUR_S: Final = 1800.0


class Direction(StrEnum):
    """Where a subject's latency is heading over the period."""

    RISING = "rising"
    FALLING = "falling"
    STEADY = "steady"


@dataclass(frozen=True, slots=True)
class HourCounts:
    """One hour of a subject's SLA counts; ``start`` in wall-clock seconds."""

    start: float
    requests: float
    within_target: float
    errors: float
    # The errors the promises allowed (see sla.Counts); 0 where the recorder has none.
    error_allowance: float = 0.0


def _share(part: float, whole: float) -> float | None:
    return round(part / whole * 100, 3) if whole else None


def weighted_latency(
    hours: Iterable[HourCounts], means: Mapping[float, float]
) -> float | None:
    """Return the hours' latency means weighted by their requests (hours with both)."""
    pairs = [
        (hour.requests, means[hour.start])
        for hour in hours
        if hour.requests > 0 and hour.start in means
    ]
    weight = sum(requests for requests, _ in pairs)
    if not weight:
        return None
    return round(sum(requests * mean for requests, mean in pairs) / weight, 3)


def latency_direction(p95_means: Mapping[float, float]) -> Direction | None:
    """Return the direction of the hourly p95 means; None with too few hours to say."""
    starts = sorted(p95_means)
    trend = fit_trend([s + HALF_HOUR_S for s in starts], [p95_means[s] for s in starts])
    if trend is None:
        return None
    if trend.rising:
        return Direction.RISING
    return Direction.FALLING if trend.falling else Direction.STEADY


def subject_report(
    hours: Sequence[HourCounts],
    p50_means: Mapping[float, float],
    p95_means: Mapping[float, float],
) -> dict[str, Any]:
    """Return a subject's requests, errors, service level and latency over the hours."""
    requests = sum(hour.requests for hour in hours)
    errors = sum(hour.errors for hour in hours)
    within = sum(hour.within_target for hour in hours)
    direction = latency_direction(p95_means)
    # The service level of the period, read as the sensors read theirs.
    level = figures(
        Counts(
            requests=int(requests),
            within_target=int(within),
            errors=int(errors),
            error_allowance=sum(hour.error_allowance for hour in hours),
        ),
        max(len(hours), 1),
    )
    return {
        "requests": int(requests),
        "errors": int(errors),
        "error_rate_percent": _share(errors, requests),
        "sla_compliance_percent": _share(within, requests),
        "availability_percent": level.availability_percent,
        "error_budget_remaining_percent": level.budget_remaining_percent,
        "error_budget_exhausted": level.budget_exhausted,
        "latency_p50_ms": weighted_latency(hours, p50_means),
        "latency_p95_ms": weighted_latency(hours, p95_means),
        "latency_trend": None if direction is None else direction.value,
    }
