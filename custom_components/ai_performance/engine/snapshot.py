"""The immutable result of one coordinator tick, as the entities read it."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from .alerts import AlertStatus
from .anomaly import LatencyCheck
from .forecast import CostProjection, ResourceForecast


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source delivered in one tick: a sample, or the reason it has none."""

    sample: object | None
    error: str | None
    # Wall time of the collection, and the parts of it spent running on the event loop and in
    # executor threads (the rest is waiting: for a thread, the network, a timeout).
    duration_ms: float
    loop_ms: float = 0.0
    executor_ms: float = 0.0
    # True when the source had not answered by the time this snapshot was published: the
    # result is its previous one, and its answer lands in the next snapshot.
    late: bool = False
    # The error as a user reads it (in a repair issue): the exception's text without its
    # class, which ``error`` keeps for the log and the diagnostics.
    message: str | None = None

    @property
    def ok(self) -> bool:
        """Return True when the source delivered a sample this tick."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the entities show, taken in one tick."""

    sources: Mapping[str, SourceResult]
    # Wall time of the whole collection: all sources run concurrently, so this is about the slowest.
    collection_ms: float
    # The polling interval, and our time on the event loop and in the executor during it: every
    # source's collection, plus the loop time of updating the entities after the previous tick.
    interval_s: float = 30.0
    loop_ms: float = 0.0
    executor_ms: float = 0.0
    # Every alert rule for every subject it watches, by alert id.
    alerts: Mapping[str, AlertStatus] = field(default_factory=dict)
    # When each resource fills up, by forecast key; each agent's latency against its usual.
    forecasts: Mapping[str, ResourceForecast] = field(default_factory=dict)
    latency_checks: Mapping[str, LatencyCheck] = field(default_factory=dict)
    # Where the month's cost is heading; None without prices.
    cost_projection: CostProjection | None = None

    @property
    def loop_overhead_percent(self) -> float:
        """Return the share of the interval our work kept the event loop busy, in %."""
        return _share(self.loop_ms, self.interval_s)

    @property
    def executor_overhead_percent(self) -> float:
        """Return the share of the interval our work kept an executor thread busy, in %."""
        return _share(self.executor_ms, self.interval_s)

    def source_ok(self, key: str) -> bool:
        """Return True when source ``key`` delivered a sample this tick."""
        result = self.sources.get(key)
        return result is not None and result.ok

    def samples[T](self, kind: type[T]) -> dict[str, T]:
        """Return every sample of type ``kind`` delivered this tick, by source key.

        Several sources give the same kind: the host and each AI host give host samples.
        """
        return {
            key: result.sample
            for key, result in self.sources.items()
            if isinstance(result.sample, kind)
        }

    def sample[T](self, key: str, kind: type[T]) -> T | None:
        """Return source ``key``'s sample when it delivered one of type ``kind``, else None."""
        result = self.sources.get(key)
        if result is None or not isinstance(result.sample, kind):
            return None
        return result.sample


def _share(busy_ms: float, interval_s: float) -> float:
    return round(busy_ms / (interval_s * 1000) * 100, 4) if interval_s > 0 else 0.0
