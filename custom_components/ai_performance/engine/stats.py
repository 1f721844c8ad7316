"""Order statistics over small samples, exact (no sketches): sort, then interpolate."""

from collections.abc import Iterable, Sequence
import math


def percentile(values: Iterable[float], q: float) -> float | None:
    """Return the ``q``-th percentile (0-100) of ``values``, or None when there are none.

    Linear interpolation between the closest ranks, as numpy's default method does, so p50 of
    an even count is the mean of the two middle values and p100 is the maximum.
    """
    if not 0 <= q <= 100:
        msg = f"percentile must be within 0 and 100, got {q}"
        raise ValueError(msg)
    return sorted_percentile(sorted(values), q)


def sorted_percentile(ordered: Sequence[float], q: float) -> float | None:
    """Return the ``q``-th percentile (0-100) of values already in ascending order.

    The same float operations as numpy's default (linear) method, so the result is equal to
    ``numpy.percentile`` to the last bit, whichever of the two computed it.
    """
    if not ordered:
        return None
    rank = (len(ordered) - 1) * (q / 100)
    below = math.floor(rank)
    above = min(below + 1, len(ordered) - 1)
    gamma = rank - below
    low, high = ordered[below], ordered[above]
    if gamma >= 0.5:
        return high - (high - low) * (1 - gamma)
    return low + (high - low) * gamma
