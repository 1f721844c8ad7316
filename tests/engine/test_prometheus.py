"""Prometheus text parsing, PromQL-exact quantiles over bucket increases, and server KPIs."""

import math

from hypothesis import given, strategies as st
from prometheus_client.parser import text_string_to_metric_families
import pytest

from custom_components.ai_performance.engine.prometheus import (
    ExpositionError,
    IntervalQuantiles,
    bucket_increase,
    histogram_quantile,
    parse_series,
)
from custom_components.ai_performance.engine.server_metrics import (
    METRIC_NAMES,
    ServerKind,
    ServerKpis,
    ServerMetrics,
    detect_kind,
)

from ..servers.fake_servers import (
    LATENCY_BUCKETS,
    VllmState,
    fixture_text,
    llamacpp_exposition,
    vllm_exposition,
)

TTFT = "vllm:time_to_first_token_seconds"


def _reference(text: str, names: set[str], histogram: str) -> tuple[dict, dict]:
    """Sum the same series with prometheus_client's parser: the oracle."""
    values: dict[str, float] = {}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
            elif sample.name == f"{histogram}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return values, buckets


def test_parse_agrees_with_prometheus_client_on_a_vllm_exposition() -> None:
    state = VllmState(ttft=[0.003, 0.05, 0.05, 0.3, 2.0, 12.0])
    text = vllm_exposition(state)
    names = METRIC_NAMES[ServerKind.VLLM]

    series = parse_series(text, names.values, names.histograms)
    values, buckets = _reference(text, set(names.values), TTFT)

    assert series.values == values
    assert series.buckets[TTFT] == buckets
    # Summed over the label sets: three finish reasons.
    assert series.values["vllm:request_success_total"] == state.requests
    assert buckets[math.inf] == 6


def test_parse_agrees_with_prometheus_client_on_the_benchmark_fixture() -> None:
    text = fixture_text("vllm_metrics.txt")
    names = METRIC_NAMES[ServerKind.VLLM]
    series = parse_series(text, names.values, names.histograms)
    for histogram in names.histograms:
        values, buckets = _reference(text, set(names.values), histogram)
        assert series.values == values
        assert series.buckets.get(histogram, {}) == buckets


def test_labels_with_escapes_and_timestamps_are_read() -> None:
    text = (
        'vllm:num_requests_running{model_name="a \\"quoted\\" } name"} 3 1763700000000\n'
        'vllm:time_to_first_token_seconds_bucket{model_name="x,le=\\"9\\"",le="0.5"} 2\n'
        'vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="x"} 4\n'
    )
    series = parse_series(text, ["vllm:num_requests_running"], [TTFT])

    assert series.values == {"vllm:num_requests_running": 3.0}
    assert series.buckets[TTFT] == {0.5: 2.0, math.inf: 4.0}


@pytest.mark.parametrize(
    "text",
    [
        "vllm:num_requests_running\n",
        'vllm:num_requests_running{model_name="x" 3\n',
        "vllm:num_requests_running abc\n",
        'vllm:time_to_first_token_seconds_bucket{model_name="x"} 3\n',
    ],
    ids=["no value", "unterminated labels", "not a number", "bucket without le"],
)
def test_a_garbled_wanted_line_is_an_error(text: str) -> None:
    with pytest.raises(ExpositionError):
        parse_series(text, ["vllm:num_requests_running"], [TTFT])


def test_other_series_are_skipped_unread() -> None:
    series = parse_series('other_metric{x="1"} not-a-number\nfoo bar\n', ["vllm:x"])
    assert series.values == {}


# --- histogram_quantile -----------------------------------------------------------------------


def test_quantile_interpolates_inside_the_bucket_as_promql() -> None:
    buckets = {0.1: 10.0, 0.5: 30.0, 1.0: 40.0, math.inf: 40.0}
    # rank 20 falls in (0.1, 0.5] holding 20: halfway through it.
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.3)
    # rank 38 falls in (0.5, 1.0] holding 10, 8 into it.
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.9)
    # The first bucket starts at 0.
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.04)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, {1.0: 5.0, 2.0: 6.0, math.inf: 10.0}) == 2.0


@pytest.mark.parametrize(
    "buckets",
    [{}, {math.inf: 5.0}, {1.0: 3.0, 2.0: 3.0}, {1.0: 0.0, math.inf: 0.0}],
    ids=["empty", "one bucket", "no +Inf", "no observations"],
)
def test_quantile_is_none_where_promql_gives_nan(buckets: dict[float, float]) -> None:
    assert histogram_quantile(0.5, buckets) is None


def test_non_monotonic_buckets_are_fixed_as_promql_does() -> None:
    # A scrape is not atomic: a lower bucket may be read after more observations came in.
    # Read as 5, 5, 10: rank 8 is 3 of the 5 in (0.5, 1.0].
    buckets = {0.1: 5.0, 0.5: 4.0, 1.0: 10.0, math.inf: 10.0}
    assert histogram_quantile(0.8, buckets) == pytest.approx(0.8)


@given(
    st.lists(
        st.floats(min_value=0.0005, max_value=70.0, allow_nan=False),
        min_size=1,
        max_size=200,
    ),
    st.sampled_from([0.5, 0.95, 0.99]),
)
def test_quantile_lies_in_the_bucket_of_the_true_quantile(
    observations: list[float], q: float
) -> None:
    bounds = (*LATENCY_BUCKETS, math.inf)
    buckets = {b: float(sum(1 for o in observations if o <= b)) for b in bounds}
    ordered = sorted(observations)
    rank = max(1, math.ceil(q * len(ordered)))
    true_value = ordered[rank - 1]
    upper = next(b for b in bounds if true_value <= b)
    lower = max((b for b in bounds if b < true_value), default=0.0)

    estimate = histogram_quantile(q, buckets)

    assert estimate is not None
    assert lower <= estimate <= upper


# --- increases between scrapes ----------------------------------------------------------------


def test_bucket_increase_is_the_difference_and_a_reset_restarts_from_zero() -> None:
    before = {0.1: 5.0, math.inf: 10.0}
    assert bucket_increase(None, before) is None
    assert bucket_increase(before, {0.1: 7.0, math.inf: 15.0}) == {
        0.1: 2.0,
        math.inf: 5.0,
    }
    # The server restarted: everything it counted since is the increase.
    assert bucket_increase(before, {0.1: 1.0, math.inf: 2.0}) == {
        0.1: 1.0,
        math.inf: 2.0,
    }


def test_interval_quantiles_describe_only_the_last_interval() -> None:
    quantiles = IntervalQuantiles()
    slow = {0.1: 0.0, 1.0: 0.0, 10.0: 100.0, math.inf: 100.0}
    assert quantiles.update(slow) == (None, None, None)
    # 100 fast requests since: the slow ones from before must not show.
    fast = {0.1: 100.0, 1.0: 100.0, 10.0: 200.0, math.inf: 200.0}
    p50, p95, p99 = quantiles.update(fast)
    assert p50 == pytest.approx(0.05)
    assert p95 == pytest.approx(0.095)
    assert p99 == pytest.approx(0.099)
    # Nothing happened since: no quantile.
    assert quantiles.update(fast) == (None, None, None)
    # The series went missing: start afresh.
    assert quantiles.update(None) == (None, None, None)
    assert quantiles.update(fast) == (None, None, None)


# --- server KPIs ------------------------------------------------------------------------------


def test_detect_kind_from_metric_names() -> None:
    assert detect_kind(vllm_exposition(VllmState())) is ServerKind.VLLM
    assert detect_kind(llamacpp_exposition(VllmState())) is ServerKind.LLAMACPP
    assert detect_kind("# HELP up up\nup 1\n") is None


def _scrape(metrics: ServerMetrics, state: VllmState, at: float) -> ServerKpis:
    render = vllm_exposition if metrics.kind is ServerKind.VLLM else llamacpp_exposition
    return metrics.update(metrics.parse(render(state)), at)


def test_vllm_rates_percentiles_and_gauges_between_two_scrapes() -> None:
    metrics = ServerMetrics(ServerKind.VLLM)
    state = VllmState(ttft=[9.0] * 5)
    first = _scrape(metrics, state, at=100.0)
    assert first.running == 2
    assert first.kv_cache_percent == 42.0
    assert first.prompt_tokens_per_s is None
    assert first.ttft == (None, None, None)

    state.prompt_tokens += 3000
    state.generation_tokens += 600
    state.requests += 30
    state.prefix_queries += 400
    state.prefix_hits += 300
    state.ttft += [0.03] * 20
    second = _scrape(metrics, state, at=130.0)

    assert second.prompt_tokens_per_s == 100.0
    assert second.generation_tokens_per_s == 20.0
    assert second.requests_per_minute == 60.0
    assert second.prefix_cache_hit_percent == 75.0
    # Only the 20 new requests, all between 20 and 40 ms.
    assert second.ttft[0] == pytest.approx(0.03)
    assert 0.02 <= second.ttft[2] <= 0.04


def test_vllm_counter_reset_gives_the_count_since_the_restart() -> None:
    metrics = ServerMetrics(ServerKind.VLLM)
    state = VllmState(generation_tokens=90_000)
    _scrape(metrics, state, at=0.0)
    state.generation_tokens = 300  # the server restarted
    after = _scrape(metrics, state, at=30.0)
    assert after.generation_tokens_per_s == 10.0


def test_renamed_vllm_metrics_are_read_through_the_alias_table() -> None:
    metrics = ServerMetrics(ServerKind.VLLM)
    state = VllmState(legacy_names=True, kv_cache=0.5)
    _scrape(metrics, state, at=0.0)
    state.inter_token += [0.02] * 10
    kpis = _scrape(metrics, state, at=30.0)
    assert kpis.kv_cache_percent == 50.0
    assert kpis.inter_token[0] == pytest.approx(0.015)


def test_llamacpp_has_rates_and_queue_gauges_but_no_histograms() -> None:
    metrics = ServerMetrics(ServerKind.LLAMACPP)
    state = VllmState(running=1, waiting=3)
    _scrape(metrics, state, at=0.0)
    state.generation_tokens += 900
    kpis = _scrape(metrics, state, at=30.0)
    assert (kpis.running, kpis.waiting) == (1, 3)
    assert kpis.generation_tokens_per_s == 30.0
    # llama.cpp removed its KV cache gauge and has no latency histograms.
    assert kpis.kv_cache_percent is None
    assert kpis.ttft == (None, None, None)
