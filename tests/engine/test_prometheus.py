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
    parse_labelled,
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
    assert detect_kind(llamacpp_text(0, 0, 0)) is ServerKind.LLAMACPP
    assert detect_kind(sglang_text(0, 0, 0, [])) is ServerKind.SGLANG
    assert detect_kind(tgi_text(0, 0, [])) is ServerKind.TGI
    assert detect_kind("# HELP up up\nup 1\n") is None


def _scrape(metrics: ServerMetrics, state: VllmState, at: float) -> ServerKpis:
    return metrics.update(metrics.parse(vllm_exposition(state)), at)


def llamacpp_text(
    processed: float,
    cached: float,
    predicted: float,
    drafted: float = 0,
    accepted: float = 0,
) -> str:
    """Counters named as llama-server b11669 writes them (checked in tests/real)."""
    return (
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed, "
        "excluding cached tokens\n# TYPE llamacpp:prompt_tokens_total counter\n"
        f"llamacpp:prompt_tokens_total {processed}\n"
        f"llamacpp:prompt_tokens_cached_total {cached}\n"
        f"llamacpp:tokens_predicted_total {predicted}\n"
        f"llamacpp:spec_decode_num_draft_tokens_total {drafted}\n"
        f"llamacpp:spec_decode_num_accepted_tokens_total {accepted}\n"
        "llamacpp:requests_processing 1\nllamacpp:requests_deferred 0\n"
    )


def sglang_text(
    prompt: float, generation: float, cached: float, ttft: list[float]
) -> str:
    """Series named as sgl-project/sglang python/sglang/srt/metrics/collector.py names them."""
    labels = 'model_name="Qwen/Qwen3-8B",engine_type="unified",tp_rank="0",pp_rank="0"'
    lines = [
        f"sglang:num_running_reqs{{{labels}}} 3.0",
        f"sglang:num_queue_reqs{{{labels}}} 2.0",
        f"sglang:token_usage{{{labels}}} 0.25",
        f'sglang:prompt_tokens_total{{model_name="Qwen/Qwen3-8B"}} {prompt}',
        f'sglang:generation_tokens_total{{model_name="Qwen/Qwen3-8B"}} {generation}',
        f'sglang:cached_tokens_total{{model_name="Qwen/Qwen3-8B"}} {cached}',
        f'sglang:num_requests_total{{model_name="Qwen/Qwen3-8B"}} {len(ttft)}',
    ]
    for le in (0.1, 0.5, 1.0, 2.0):
        count = sum(1 for value in ttft if value <= le)
        lines.append(
            f'sglang:time_to_first_token_seconds_bucket{{le="{le}",'
            f'model_name="Qwen/Qwen3-8B"}} {count}'
        )
    lines.append(
        'sglang:time_to_first_token_seconds_bucket{le="+Inf",model_name="Qwen/Qwen3-8B"} '
        f"{len(ttft)}"
    )
    return "\n".join(lines) + "\n"


def tgi_text(input_tokens: float, generated: float, durations: list[float]) -> str:
    """Series named as huggingface/text-generation-inference router/src/server.rs names them.

    Its counters carry no ``_total``; token counts are the sums of per-request histograms.
    """
    lines = [
        "# TYPE tgi_queue_size gauge",
        "tgi_queue_size 4",
        "tgi_batch_current_size 2",
        f"tgi_request_success {len(durations)}",
        f"tgi_request_input_length_sum {input_tokens}",
        f"tgi_request_input_length_count {len(durations)}",
        f"tgi_request_generated_tokens_sum {generated}",
        f"tgi_request_generated_tokens_count {len(durations)}",
    ]
    for le in (0.5, 1.0, 2.0, 4.0):
        count = sum(1 for value in durations if value <= le)
        lines.append(f'tgi_request_duration_bucket{{le="{le}"}} {count}')
    lines.append(f'tgi_request_duration_bucket{{le="+Inf"}} {len(durations)}')
    return "\n".join(lines) + "\n"


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


def test_llamacpp_cache_hits_count_the_cached_among_all_prompt_tokens() -> None:
    metrics = ServerMetrics(ServerKind.LLAMACPP)
    metrics.update(metrics.parse(llamacpp_text(100, 0, 10)), 0.0)
    # 300 prompt tokens read, 100 of them processed and 200 from the cache.
    kpis = metrics.update(metrics.parse(llamacpp_text(200, 200, 910)), 30.0)
    assert kpis.prefix_cache_hit_percent == pytest.approx(200 / 300 * 100, abs=0.01)
    assert kpis.generation_tokens_per_s == 30.0
    assert kpis.prompt_tokens_per_s == pytest.approx(100 / 30, abs=1e-3)
    assert (kpis.running, kpis.waiting) == (1, 0)
    assert kpis.kv_cache_percent is None
    assert kpis.ttft == (None, None, None)
    # No draft model: no acceptance rate.
    assert kpis.draft_acceptance_percent is None


def test_llamacpp_speed_is_tokens_over_its_own_time() -> None:
    metrics = ServerMetrics(ServerKind.LLAMACPP)
    counters = (
        "llamacpp:prompt_tokens_total {}\nllamacpp:prompt_seconds_total {}\n"
        "llamacpp:tokens_predicted_total {}\nllamacpp:tokens_predicted_seconds_total {}\n"
    )
    metrics.update(metrics.parse(counters.format(0, 0, 0, 0)), 0.0)
    # 200 tokens generated in 4 s of the server's time, within 60 s of wall time.
    kpis = metrics.update(metrics.parse(counters.format(300, 1.5, 200, 4.0)), 60.0)
    assert kpis.generation_speed == 50.0
    assert kpis.generation_tokens_per_s == pytest.approx(200 / 60, abs=1e-3)
    assert kpis.prompt_speed == 200.0
    # Nothing generated since: no speed (rather than 0).
    kpis = metrics.update(metrics.parse(counters.format(300, 1.5, 200, 4.0)), 90.0)
    assert kpis.generation_speed is None
    assert kpis.generation_tokens_per_s == 0.0


def test_only_the_series_a_server_shows_are_offered() -> None:
    metrics = ServerMetrics(ServerKind.LLAMACPP)
    names = metrics.names
    assert metrics.offers(names.kv_cache)  # never read: everything its kind may show
    metrics.parse(llamacpp_text(0, 0, 0))
    assert not metrics.offers(names.kv_cache)
    assert metrics.offers(names.cache_hits)
    assert not metrics.offers(())


def test_llamacpp_without_a_cache_counter_has_no_cache_hit_rate() -> None:
    # Builds before prompt_tokens_cached_total: unknown, never a false 0 %.
    metrics = ServerMetrics(ServerKind.LLAMACPP)
    old_build = "llamacpp:prompt_tokens_total {}\nllamacpp:tokens_predicted_total 0\n"
    metrics.update(metrics.parse(old_build.format(100)), 0.0)
    kpis = metrics.update(metrics.parse(old_build.format(400)), 30.0)
    assert kpis.prompt_tokens_per_s == 10.0
    assert kpis.prefix_cache_hit_percent is None


def test_llamacpp_speculative_decoding_acceptance() -> None:
    metrics = ServerMetrics(ServerKind.LLAMACPP)
    metrics.update(metrics.parse(llamacpp_text(0, 0, 0, 100, 60)), 0.0)
    kpis = metrics.update(metrics.parse(llamacpp_text(0, 0, 0, 500, 360)), 30.0)
    assert kpis.draft_acceptance_percent == 75.0


def test_vllm_cached_prompt_tokens_and_preemptions() -> None:
    metrics = ServerMetrics(ServerKind.VLLM)
    state = VllmState()
    _scrape(metrics, state, at=0.0)
    state.preemptions += 6
    kpis = _scrape(metrics, state, at=60.0)
    assert kpis.preemptions_per_minute == 6.0


def test_sglang_through_its_alias_table() -> None:
    metrics = ServerMetrics(ServerKind.SGLANG)
    metrics.update(metrics.parse(sglang_text(0, 0, 0, [])), 0.0)
    kpis = metrics.update(
        metrics.parse(sglang_text(3000, 600, 750, [0.05] * 19 + [1.5])), 30.0
    )
    assert (kpis.running, kpis.waiting) == (3, 2)
    assert kpis.kv_cache_percent == 25.0
    assert kpis.prompt_tokens_per_s == 100.0
    assert kpis.generation_tokens_per_s == 20.0
    # SGLang counts cached tokens among its prompt tokens.
    assert kpis.prefix_cache_hit_percent == 25.0
    assert kpis.requests_per_minute == 40.0
    assert kpis.ttft[0] == pytest.approx(0.05, abs=0.05)


def test_tgi_through_its_alias_table() -> None:
    metrics = ServerMetrics(ServerKind.TGI)
    metrics.update(metrics.parse(tgi_text(0, 0, [])), 0.0)
    kpis = metrics.update(metrics.parse(tgi_text(1500, 300, [0.8] * 10)), 30.0)
    assert (kpis.running, kpis.waiting) == (2, 4)
    assert kpis.prompt_tokens_per_s == 50.0
    assert kpis.generation_tokens_per_s == 10.0
    assert kpis.requests_per_minute == 20.0
    assert 0.5 <= kpis.e2e[0] <= 1.0
    assert kpis.kv_cache_percent is None


def test_parse_labelled_agrees_with_prometheus_client() -> None:
    """Every sample of the wanted series, with its labels unescaped, as prometheus_client reads."""
    text = (
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
        "# TYPE node_cpu_seconds_total counter\n"
        'node_cpu_seconds_total{cpu="0",mode="idle"} 18540.84\n'
        'node_cpu_seconds_total{cpu="0",mode="user"} 6686.98\n'
        'node_cpu_seconds_total{cpu="1",mode="idle"} 1.5e+04\n'
        "node_load1 0.33\n"
        'node_filesystem_avail_bytes{device="/dev/a\\"b",fstype="ext4",mountpoint="/m\\\\n\\n"}'
        " 8.1093107712e+10 1700000000000\n"
        'other_series{cpu="0"} 1\n'
    )
    names = {"node_cpu_seconds_total", "node_load1", "node_filesystem_avail_bytes"}

    parsed = parse_labelled(text, names)

    expected: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                expected.setdefault(sample.name, []).append(
                    (dict(sample.labels), sample.value)
                )
    assert parsed == expected
    assert parsed["node_filesystem_avail_bytes"][0][0]["mountpoint"] == "/m\\n\n"


@pytest.mark.parametrize(
    "text",
    ['node_load1{cpu="0" 1\n', "node_load1\n", "node_load1 abc\n"],
    ids=["unterminated", "no value", "not a number"],
)
def test_parse_labelled_refuses_a_garbled_wanted_line(text: str) -> None:
    with pytest.raises(ExpositionError):
        parse_labelled(text, {"node_load1"})
