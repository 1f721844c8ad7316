"""The snapshot entities read: typed access to each source's sample."""

from dataclasses import dataclass

from custom_components.ai_performance.engine.snapshot import Snapshot, SourceResult


@dataclass(frozen=True)
class _Reading:
    value: float


SNAPSHOT = Snapshot(
    sources={
        "good": SourceResult(sample=_Reading(1.5), error=None, duration_ms=2.0),
        "bad": SourceResult(sample=None, error="TimeoutError", duration_ms=10.0),
    },
    collection_ms=10.5,
)


def test_sample_returns_the_sample_of_the_asked_type() -> None:
    assert SNAPSHOT.sample("good", _Reading) == _Reading(1.5)


def test_sample_is_none_for_a_failed_unknown_or_other_typed_source() -> None:
    assert SNAPSHOT.sample("bad", _Reading) is None
    assert SNAPSHOT.sample("missing", _Reading) is None
    assert SNAPSHOT.sample("good", str) is None


def test_source_ok_tells_which_sources_delivered() -> None:
    assert SNAPSHOT.source_ok("good")
    assert not SNAPSHOT.source_ok("bad")
    assert not SNAPSHOT.source_ok("missing")
