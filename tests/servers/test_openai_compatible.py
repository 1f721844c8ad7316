"""vLLM and llama.cpp servers: KPIs from their Prometheus metrics, through Home Assistant."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest

from custom_components.ai_performance.const import (
    CONF_SERVER_KIND,
    SUBENTRY_OPENAI_COMPATIBLE,
)

from ..conftest import our_entry, setup_integration
from .conftest import poll, server_state, server_subentry
from .fake_servers import VllmState, llamacpp_exposition, vllm_server


async def test_vllm_kpis_over_the_last_interval(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = VllmState(ttft=[30.0] * 10)
    async with vllm_server(state) as server:
        subentry = server_subentry(
            SUBENTRY_OPENAI_COMPATIBLE, server.url, **{CONF_SERVER_KIND: "vllm"}
        )
        await setup_integration(hass, our_entry(subentries=[subentry]))

        assert server_state(hass, "sensor", "running_requests").state == "2"
        assert server_state(hass, "sensor", "waiting_requests").state == "1"
        assert server_state(hass, "sensor", "kv_cache_usage").state == "42.0"
        served = server_state(hass, "sensor", "served_models")
        assert served.state == "1"
        assert served.attributes["models"] == ["Qwen/Qwen3-8B"]
        # One scrape: no interval yet.
        assert (
            server_state(hass, "sensor", "generation_tokens_per_second").state
            == STATE_UNKNOWN
        )
        assert server_state(hass, "sensor", "server_ttft_p95").state == STATE_UNKNOWN

        state.generation_tokens += 1500
        state.prompt_tokens += 6000
        state.prefix_queries += 100
        state.prefix_hits += 40
        state.ttft += [0.05] * 19 + [3.0]
        state.e2e += [1.5] * 20
        await poll(hass, freezer)

        assert (
            server_state(hass, "sensor", "generation_tokens_per_second").state == "50.0"
        )
        assert server_state(hass, "sensor", "prompt_tokens_per_second").state == "200.0"
        assert server_state(hass, "sensor", "prefix_cache_hit_rate").state == "40.0"
        # The 20 requests of the interval only, in milliseconds.
        ttft_p50 = float(server_state(hass, "sensor", "server_ttft_p50").state)
        assert 40 <= ttft_p50 <= 60
        latency_p95 = float(server_state(hass, "sensor", "server_latency_p95").state)
        assert 1000 <= latency_p95 <= 2500
        # Nothing queued in this interval: unknown, not 0.
        assert server_state(hass, "sensor", "queue_time_p95").state == STATE_UNKNOWN
        # p99 is there, disabled by default.
        assert server_state(hass, "sensor", "server_ttft_p99") is None


async def test_vllm_restart_and_missing_series(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = VllmState(generation_tokens=1_000_000)
    async with vllm_server(state) as server:
        subentry = server_subentry(
            SUBENTRY_OPENAI_COMPATIBLE, server.url, **{CONF_SERVER_KIND: "vllm"}
        )
        await setup_integration(hass, our_entry(subentries=[subentry]))
        state.generation_tokens = 600  # restarted
        state.legacy_names = True  # and an older build: renamed series
        await poll(hass, freezer)
        assert (
            server_state(hass, "sensor", "generation_tokens_per_second").state == "20.0"
        )
        assert server_state(hass, "sensor", "kv_cache_usage").state == "42.0"


async def test_llamacpp_gets_only_what_it_exposes(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = VllmState(running=1, waiting=0)
    async with vllm_server(state, llamacpp_exposition) as server:
        subentry = server_subentry(
            SUBENTRY_OPENAI_COMPATIBLE, server.url, **{CONF_SERVER_KIND: "llamacpp"}
        )
        await setup_integration(hass, our_entry(subentries=[subentry]))
        state.generation_tokens += 300
        await poll(hass, freezer)

        assert server_state(hass, "sensor", "running_requests").state == "1"
        assert (
            server_state(hass, "sensor", "generation_tokens_per_second").state == "10.0"
        )
        # No KV gauge in newer builds: unknown. No histograms: no percentile entities.
        assert server_state(hass, "sensor", "kv_cache_usage").state == STATE_UNKNOWN
        assert server_state(hass, "sensor", "server_ttft_p50") is None
        assert server_state(hass, "sensor", "prefix_cache_hit_rate") is None


@pytest.mark.parametrize(
    "body",
    [b"vllm:num_requests_running{model_name=", b"# HELP up\nup 1\n"],
    ids=["truncated", "not a model server"],
)
async def test_bad_metrics_make_the_server_unavailable(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, body: bytes
) -> None:
    async with vllm_server(VllmState()) as server:
        subentry = server_subentry(
            SUBENTRY_OPENAI_COMPATIBLE, server.url, **{CONF_SERVER_KIND: "vllm"}
        )
        await setup_integration(hass, our_entry(subentries=[subentry]))
        server.behaviour.body = body
        await poll(hass, freezer)
        assert (
            server_state(hass, "sensor", "running_requests").state == STATE_UNAVAILABLE
        )
