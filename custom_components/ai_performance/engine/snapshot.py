"""The immutable result of one coordinator tick, as the entities read it."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source delivered in one tick: a sample, or the reason it has none."""

    sample: object | None
    error: str | None
    duration_ms: float

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

    def source_ok(self, key: str) -> bool:
        """Return True when source ``key`` delivered a sample this tick."""
        result = self.sources.get(key)
        return result is not None and result.ok

    def sample[T](self, key: str, kind: type[T]) -> T | None:
        """Return source ``key``'s sample when it delivered one of type ``kind``, else None."""
        result = self.sources.get(key)
        if result is None or not isinstance(result.sample, kind):
            return None
        return result.sample
