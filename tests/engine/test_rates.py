"""Counter rates: per second, first reading gives none, resets never go negative."""

from hypothesis import given, strategies as st

from custom_components.ai_performance.engine.rates import CounterRate


def test_rate_per_second_between_readings() -> None:
    rate = CounterRate()

    assert rate.update(1000, at=10.0) is None
    assert rate.update(4000, at=12.0) == 1500.0


def test_a_reset_counts_the_new_value_as_the_increase() -> None:
    rate = CounterRate()
    rate.update(10_000, at=0.0)

    assert rate.update(300, at=3.0) == 100.0


def test_no_elapsed_time_gives_none() -> None:
    rate = CounterRate()
    rate.update(5, at=1.0)

    assert rate.update(9, at=1.0) is None


@given(st.lists(st.integers(0, 10**12), min_size=2, max_size=50))
def test_never_negative(readings: list[int]) -> None:
    rate = CounterRate()
    results = [rate.update(value, at=float(i)) for i, value in enumerate(readings)]

    assert results[0] is None
    assert all(r is not None and r >= 0 for r in results[1:])
