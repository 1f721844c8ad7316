"""A real llama-server added as a model server: its KPIs against its own counters.

Ground truth: the server's ``/metrics``, read by the test right before each of our polls, at
moments when no request runs (so the counters stand still between the two reads).
"""

import asyncio
import time

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors.servers.base import ServerCollector
from custom_components.ai_performance.const import (
    CONF_SERVER_KIND,
    DOMAIN,
    SUBENTRY_OPENAI_COMPATIBLE,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..real_servers import LlamaServer
from ..servers.conftest import flow_input, server_state, start_flow, submit_flow

PROMPT = "List the days of the week."


async def _add_llama_server(hass: HomeAssistant, llama: LlamaServer) -> str:
    """Add the server through the flow, as a user does; return its subject."""
    result = await start_flow(hass, SUBENTRY_OPENAI_COMPATIBLE)
    result = await submit_flow(hass, result["flow_id"], flow_input(llama.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    assert result["data"][CONF_SERVER_KIND] == "llamacpp"
    await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    (subentry,) = entry.subentries.values()
    return f"server_{subentry.subentry_id}"


async def test_a_llama_server_without_metrics_is_told_so_and_a_stopped_one_is_unreachable(
    hass: HomeAssistant, llama_without_metrics: LlamaServer
) -> None:
    await setup_integration(hass, our_entry())
    result = await start_flow(hass, SUBENTRY_OPENAI_COMPATIBLE)

    running = await submit_flow(
        hass, result["flow_id"], flow_input(llama_without_metrics.url)
    )

    # It answers /metrics with 501 "Start it with `--metrics`": our advice is the same.
    assert running["errors"] == {"base": "no_metrics"}
    assert running["description_placeholders"]["error"] == "/metrics: HTTP 501"

    await hass.async_add_executor_job(llama_without_metrics.process.stop)
    stopped = await submit_flow(
        hass, result["flow_id"], flow_input(llama_without_metrics.url)
    )

    assert stopped["errors"] == {"base": "cannot_connect"}
    assert stopped["description_placeholders"]["error"] == (
        "/metrics: connection refused"
    )


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Poll the server now (its interval is a minute) and publish the snapshot."""
    for collector in entry.runtime_data.coordinator.collectors:
        if isinstance(collector, ServerCollector):
            collector.poll_next_tick()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


def _value(hass: HomeAssistant, key: str, subject: str) -> float:
    state = server_state(hass, "sensor", key, subject)
    assert state is not None, key
    return float(state.state)


async def test_llama_server_rates_and_cache_match_its_own_counters(
    hass: HomeAssistant, llama: LlamaServer
) -> None:
    await setup_integration(hass, our_entry())
    subject = await _add_llama_server(hass, llama)
    entry = hass.config_entries.async_get_entry(ENTRY_ID)

    state = server_state(hass, "sensor", "served_models", subject)
    assert state.attributes["models"] == [llama.alias]
    before, started = llama.metrics(), time.monotonic()
    await _poll(hass, entry)
    # The same prompt twice: the second one finds its prefix in the server's cache.
    for _ in range(2):
        llama.chat(PROMPT, max_tokens=24)
    # The counters stand still now; a window of seconds makes the few milliseconds between
    # the test's read and our poll at either end a small share of it.
    await asyncio.sleep(2.5)
    after, ended = llama.metrics(), time.monotonic()
    await _poll(hass, entry)

    seconds = ended - started
    generated = (
        after["llamacpp:tokens_predicted_total"]
        - before["llamacpp:tokens_predicted_total"]
    )
    processed = (
        after["llamacpp:prompt_tokens_total"] - before["llamacpp:prompt_tokens_total"]
    )
    cached = (
        after["llamacpp:prompt_tokens_cached_total"]
        - before["llamacpp:prompt_tokens_cached_total"]
    )
    assert generated > 0
    assert cached > 0
    assert _value(hass, "generation_tokens_per_second", subject) == pytest.approx(
        generated / seconds, rel=0.01
    )
    assert _value(hass, "prompt_tokens_per_second", subject) == pytest.approx(
        processed / seconds, rel=0.01
    )
    # llama.cpp counts processed prompt tokens without the cached ones.
    assert _value(hass, "prefix_cache_hit_rate", subject) == pytest.approx(
        cached / (processed + cached) * 100, abs=0.01
    )
    assert _value(hass, "running_requests", subject) == 0
    assert _value(hass, "waiting_requests", subject) == 0
    # No draft model: the speculative-decoding counters stay at 0, the rate unknown.
    assert after["llamacpp:spec_decode_num_draft_tokens_total"] == 0
    registry = er.async_get(hass)
    draft = registry.async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_{subject}_draft_acceptance_rate"
    )
    assert draft is not None
    assert registry.async_get(draft).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    # Speed: the server's own tokens over the server's own time spent on them.
    assert _value(hass, "generation_speed", subject) == pytest.approx(
        generated
        / (
            after["llamacpp:tokens_predicted_seconds_total"]
            - before["llamacpp:tokens_predicted_seconds_total"]
        ),
        rel=1e-3,
    )
    assert _value(hass, "prompt_speed", subject) == pytest.approx(
        processed
        / (
            after["llamacpp:prompt_seconds_total"]
            - before["llamacpp:prompt_seconds_total"]
        ),
        rel=1e-3,
    )
    # This build shows no KV-cache gauge and no latency histograms: no sensors for them.
    assert "llamacpp:kv_cache_usage_ratio" not in after
    assert (
        registry.async_get_entity_id(
            "sensor", DOMAIN, f"{ENTRY_ID}_{subject}_kv_cache_usage"
        )
        is None
    )
    assert server_state(hass, "sensor", "server_ttft_p50", subject) is None


async def test_updating_a_server_sensor_reads_the_server_now(
    hass: HomeAssistant, llama: LlamaServer
) -> None:
    await setup_integration(hass, our_entry())
    subject = await _add_llama_server(hass, llama)
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_{subject}_generation_tokens_per_second"
    )
    llama.chat(PROMPT, max_tokens=8)

    # Its interval is a minute: only an update asked for reads it again now.
    await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": entity_id}, blocking=True
    )
    await hass.async_block_till_done()

    assert float(hass.states.get(entity_id).state) > 0
