"""Percentiles: exact values and properties."""

from hypothesis import given, strategies as st
import pytest

from custom_components.ai_performance.engine.stats import percentile

values = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=200
)


def test_interpolates_between_ranks_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    assert percentile([5], 99) == 5


def test_no_values_give_none() -> None:
    assert percentile([], 95) is None


@pytest.mark.parametrize("q", [-1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="within 0 and 100"):
        percentile([1.0], q)


@given(values, st.floats(min_value=0, max_value=100))
def test_bounded_by_min_and_max(sample: list[float], q: float) -> None:
    result = percentile(sample, q)
    assert result is not None
    assert min(sample) <= result <= max(sample)


@given(values, st.floats(0, 100), st.floats(0, 100))
def test_monotone_in_q(sample: list[float], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    assert percentile(sample, low) <= percentile(sample, high)  # type: ignore[operator]


@given(values)
def test_ends_are_min_and_max(sample: list[float]) -> None:
    assert percentile(sample, 0) == min(sample)
    assert percentile(sample, 100) == max(sample)
