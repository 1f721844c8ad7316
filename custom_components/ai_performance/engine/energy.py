"""Energy per request: the GPU's energy counter over each request, shared among concurrent ones.

NVML counts the energy a GPU used since its driver loaded. Readings of that counter, taken when
requests start and end and every second while any runs, are interpolated linearly to the
requests' own start and end times. In each stretch of time the energy is split equally among
the requests running then, so the shares of overlapping requests add up to the energy over
the time any of them ran: nothing is counted twice and no idle time is charged.
"""

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

JOULES_PER_WH: Final = 3600.0
# Readings kept: at one a second while requests run, more than an hour of activity.
MAX_READINGS: Final = 4096


@dataclass(frozen=True, slots=True)
class EnergyReading:
    """The summed energy counters of the GPUs in ``gpus`` at wall time ``at``."""

    at: float
    gpus: frozenset[str]
    joules: float


@dataclass(frozen=True, slots=True)
class Span:
    """When a request ran (wall-clock seconds)."""

    start: float
    end: float


class EnergyCounter:
    """Readings of a cumulative energy counter, interpolated between them."""

    def __init__(self, max_readings: int = MAX_READINGS) -> None:
        """Start without readings; keep at most ``max_readings`` of them."""
        self.max_readings = max_readings
        self._times: list[float] = []
        self._joules: list[float] = []
        self._gpus: frozenset[str] = frozenset()

    def __len__(self) -> int:
        """Return how many readings are kept."""
        return len(self._times)

    @property
    def last_time(self) -> float | None:
        """Return when the newest reading was taken."""
        return self._times[-1] if self._times else None

    def add(self, reading: EnergyReading) -> None:
        """Keep a reading.

        A counter that fell (a driver reload) or a changed set of GPUs starts the series anew,
        as the energy across such a change is unknown.
        """
        if self._times and reading.at <= self._times[-1]:
            return  # out of order: a slower reading finished after a newer one
        if self._times and (
            reading.gpus != self._gpus or reading.joules < self._joules[-1]
        ):
            self._times.clear()
            self._joules.clear()
        self._gpus = reading.gpus
        self._times.append(reading.at)
        self._joules.append(reading.joules)
        if len(self._times) > self.max_readings:
            drop = len(self._times) - self.max_readings
            del self._times[:drop], self._joules[:drop]

    def at(self, when: float) -> float | None:
        """Return the counter at ``when``, or None outside the readings kept."""
        times = self._times
        if not times or not times[0] <= when <= times[-1]:
            return None
        index = bisect_left(times, when)
        if times[index] == when:
            return self._joules[index]
        t0, t1 = times[index - 1], times[index]
        j0, j1 = self._joules[index - 1], self._joules[index]
        return j0 + (j1 - j0) * (when - t0) / (t1 - t0)

    def between(self, start: float, end: float) -> float | None:
        """Return the energy counted from ``start`` to ``end``, or None where unknown."""
        first, last = self.at(start), self.at(end)
        return None if first is None or last is None else last - first


def overlapping_groups(spans: Sequence[Span]) -> list[list[int]]:
    """Group the spans (by index) that overlap, directly or through others, in time order."""
    order = sorted(range(len(spans)), key=lambda i: spans[i].start)
    groups: list[list[int]] = []
    group_end = 0.0
    for i in order:
        if groups and spans[i].start < group_end:
            groups[-1].append(i)
            group_end = max(group_end, spans[i].end)
        else:
            groups.append([i])
            group_end = spans[i].end
    return groups


def share_energy(
    spans: Sequence[Span], energy_between: Callable[[float, float], float]
) -> list[float]:
    """Return each span's share of the energy counted while it ran.

    Between any two consecutive start or end times, the energy is split equally among the
    spans running then; the shares sum to the energy over the union of the spans.
    """
    bounds = sorted({t for span in spans for t in (span.start, span.end)})
    shares = [0.0] * len(spans)
    for start, end in pairwise(bounds):
        running = [
            i for i, span in enumerate(spans) if span.start <= start and span.end >= end
        ]
        if running:
            part = energy_between(start, end) / len(running)
            for i in running:
                shares[i] += part
    return shares
