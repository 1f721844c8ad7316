"""vLLM servers (a fake: vLLM needs a GPU) through Home Assistant; llama.cpp runs for real in
tests/real."""

import asyncio
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors.servers import base as server_base
from custom_components.ai_performance.const import (
    CONF_SERVER_KIND,
    SUBENTRY_OPENAI_COMPATIBLE,
)

from ..conftest import our_entry, setup_integration
from .conftest import poll, server_state, server_subentry
from .fake_servers import VllmState, vllm_server


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


async def _poll_until_answered(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Poll the server now, and once more after its poll has ended (answered or timed out)."""
    coordinator = entry.runtime_data.coordinator
    (server,) = [c for c in coordinator.collectors if c.key.startswith("server:")]
    server.poll_next_tick()
    await coordinator.async_refresh()
    await asyncio.sleep(server_base.POLL_TIMEOUT_S + 0.1)
    await coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_metrics_too_slow_while_requests_run_is_busy_not_down(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    state = VllmState(running=2, waiting=1)
    with patch.object(server_base, "POLL_TIMEOUT_S", 0.3):
        async with vllm_server(state) as server:
            subentry = server_subentry(
                SUBENTRY_OPENAI_COMPATIBLE, server.url, **{CONF_SERVER_KIND: "vllm"}
            )
            entry = our_entry(subentries=[subentry])
            await setup_integration(hass, entry)

            # Requests were running at the last answer: a late answer means busy.
            server.behaviour.delay_s = 0.6
            await _poll_until_answered(hass, entry)
            reachable = server_state(hass, "binary_sensor", "reachable")
            assert reachable.state == STATE_ON
            assert reachable.attributes["busy"] is True
            assert server_state(hass, "sensor", "running_requests").state == "2"

            # Failing, then silent: down, whatever its last figures showed.
            server.behaviour.delay_s = 0.0
            server.behaviour.status = 500
            await _poll_until_answered(hass, entry)
            assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF
            server.behaviour.status = None
            server.behaviour.delay_s = 0.6
            await _poll_until_answered(hass, entry)
            assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF

            # Idle at its last answer, then silent: down.
            server.behaviour.delay_s = 0.0
            state.running = state.waiting = 0
            await _poll_until_answered(hass, entry)
            reachable = server_state(hass, "binary_sensor", "reachable")
            assert reachable.attributes["busy"] is False
            server.behaviour.delay_s = 0.6
            await _poll_until_answered(hass, entry)
            assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF
            assert (
                server_state(hass, "sensor", "running_requests").state
                == STATE_UNAVAILABLE
            )
            # The log names the server by its title, never by its subentry id.
            assert "Source openai_compatible test is unavailable" in caplog.text
            assert subentry["subentry_id"] not in caplog.text
