"""GPU energy per request: interpolated counters, and shares of concurrent requests."""

import itertools

from hypothesis import given, strategies as st
import pytest

from custom_components.ai_performance.engine.energy import (
    EnergyCounter,
    EnergyReading,
    Span,
    overlapping_groups,
    share_energy,
)

GPUS = frozenset({"GPU-a"})


def _counter(
    *points: tuple[float, float], gpus: frozenset[str] = GPUS
) -> EnergyCounter:
    counter = EnergyCounter()
    for at, joules in points:
        counter.add(EnergyReading(at, gpus, joules))
    return counter


def test_the_counter_is_interpolated_between_readings() -> None:
    counter = _counter((10.0, 1000.0), (12.0, 1600.0), (14.0, 1700.0))

    assert counter.at(11.0) == 1300.0
    assert counter.at(12.0) == 1600.0
    assert counter.between(11.0, 13.0) == pytest.approx(350.0)
    assert counter.last_time == 14.0


def test_outside_the_readings_the_energy_is_unknown() -> None:
    counter = _counter((10.0, 1000.0), (12.0, 1600.0))

    assert counter.at(9.9) is None
    assert counter.between(11.0, 12.5) is None
    assert EnergyCounter().at(0.0) is None


def test_a_counter_that_falls_or_other_gpus_start_the_series_anew() -> None:
    counter = _counter((10.0, 1000.0), (12.0, 1600.0), (14.0, 5.0))

    assert counter.at(11.0) is None  # a driver reload: energy across it is unknown
    assert len(counter) == 1

    counter.add(EnergyReading(16.0, frozenset({"GPU-a", "GPU-b"}), 9000.0))

    assert counter.at(15.0) is None
    assert len(counter) == 1


def test_out_of_order_readings_are_ignored_and_readings_are_bounded() -> None:
    counter = EnergyCounter(max_readings=3)
    for at in (1.0, 2.0, 3.0, 4.0):
        counter.add(EnergyReading(at, GPUS, at * 100))
    counter.add(EnergyReading(3.5, GPUS, 999.0))

    assert len(counter) == 3
    assert counter.at(1.5) is None
    assert counter.at(3.5) == 350.0


def test_overlapping_spans_are_grouped_and_touching_ones_are_not() -> None:
    spans = [Span(5, 6), Span(0, 2), Span(1, 3), Span(3, 4), Span(2.5, 2.6)]

    assert overlapping_groups(spans) == [[1, 2, 4], [3], [0]]


def test_a_lone_request_gets_all_the_energy_of_its_span() -> None:
    counter = _counter((0.0, 0.0), (10.0, 3000.0))

    assert share_energy([Span(2.0, 4.0)], _known(counter)) == [pytest.approx(600.0)]


def test_concurrent_requests_split_the_time_they_share() -> None:
    # 100 J/s: A alone for 1 s, A and B together for 1 s, B alone for 2 s.
    counter = _counter((0.0, 0.0), (10.0, 1000.0))

    shares = share_energy([Span(1.0, 3.0), Span(2.0, 5.0)], _known(counter))

    assert shares == [pytest.approx(150.0), pytest.approx(250.0)]


def _known(counter: EnergyCounter):  # noqa: ANN202 - a small adapter for the tests
    def between(start: float, end: float) -> float:
        energy = counter.between(start, end)
        assert energy is not None
        return energy

    return between


_spans = st.lists(
    st.tuples(st.integers(0, 1000), st.integers(0, 300)).map(
        lambda t: Span(t[0] / 10, (t[0] + t[1]) / 10)
    ),
    min_size=1,
    max_size=12,
)
_watts = st.lists(st.integers(0, 700), min_size=2, max_size=20)


@given(spans=_spans, watts=_watts)
def test_shares_add_up_to_the_energy_over_the_union_of_the_spans(
    spans: list[Span], watts: list[int]
) -> None:
    # A counter read every 10 s with a different power in each interval.
    joules = [0.0, *itertools.accumulate(w * 10.0 for w in watts)]
    counter = _counter(*((i * 10.0, j) for i, j in enumerate(joules)))
    horizon = counter.last_time
    assert horizon is not None
    spans = [s for s in spans if s.end <= horizon] or [Span(0.0, 0.0)]

    shares = share_energy(spans, _known(counter))

    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and span.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    union_energy = sum(_known(counter)(s.start, s.end) for s in merged)
    assert sum(shares) == pytest.approx(union_energy, abs=1e-6)
    assert all(share >= -1e-9 for share in shares)
    # With a constant power, a span's share is never more than its own span's energy.
    if len(set(watts)) == 1:
        for span, share in zip(spans, shares, strict=True):
            assert share <= watts[0] * (span.end - span.start) + 1e-6


@given(spans=_spans)
def test_identical_concurrent_spans_get_identical_shares(spans: list[Span]) -> None:
    counter = _counter((0.0, 0.0), (200.0, 20_000.0))
    span = spans[0]

    shares = share_energy([span, span, span], _known(counter))

    assert shares[0] == shares[1] == shares[2]
    assert sum(shares) == pytest.approx(100.0 * (span.end - span.start))
