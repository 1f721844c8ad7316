"""Conversation agents through the real conversation component: one request per turn."""

import asyncio
import json
import logging

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors.requests import RequestsCollector
from custom_components.ai_performance.const import DOMAIN

from ..conftest import setup_integration
from ..llm_agent import CALL_STATS, FIRST_TOKEN_DELAY_S
from .conftest import SETTLE_S


async def settle_and_refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Let finished turns settle, then take a snapshot."""
    await asyncio.sleep(SETTLE_S * 5)
    await hass.async_block_till_done()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


def requests_collector(entry: MockConfigEntry) -> RequestsCollector:
    """Return the entry's requests source (it owns the chat-log and pipeline watchers)."""
    return next(
        c
        for c in entry.runtime_data.coordinator.collectors
        if isinstance(c, RequestsCollector)
    )


def sensor_state(hass: HomeAssistant, subject: str, key: str) -> str:
    """Return the state of a request sensor by its unique id."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"01JAIPERFORMANCE0000000000_requests_{subject}_{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_an_llm_turn_with_tools_is_one_request_with_its_tokens(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llm_agent: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.ai_performance")
    await setup_integration(hass, mock_config_entry)

    result = await conversation.async_converse(
        hass, "use lamp_on broken_tool", None, Context(), agent_id=llm_agent
    )
    assert result.response.speech["plain"]["speech"] == "Done, the lamp is on."
    await settle_and_refresh(hass, mock_config_entry)

    # A device for the agent appeared, named after it.
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{mock_config_entry.entry_id}_requests_{llm_agent}"),
        mock_config_entry.entry_id,
    )
    assert device is not None
    assert device.name == "Test LLM"
    assert device.model == "Conversation agent"

    inputs = sum(s[0] for s in CALL_STATS)
    cached = sum(s[1] for s in CALL_STATS)
    outputs = sum(s[2] for s in CALL_STATS)
    assert sensor_state(hass, llm_agent, "requests") == "1"
    assert sensor_state(hass, llm_agent, "input_tokens") == str(inputs)
    assert sensor_state(hass, llm_agent, "output_tokens") == str(outputs)
    assert float(sensor_state(hass, llm_agent, "cache_hit")) == pytest.approx(
        cached / inputs * 100, abs=1e-3
    )
    # Two tool calls, one of which failed.
    assert float(sensor_state(hass, llm_agent, "tool_failure_rate")) == 50
    assert float(sensor_state(hass, llm_agent, "handled_locally")) == 0
    assert float(sensor_state(hass, llm_agent, "error_rate")) == 0
    # Two model calls, each waiting before its first delta.
    latency = float(sensor_state(hass, llm_agent, "latency_p95"))
    assert latency >= 2 * FIRST_TOKEN_DELAY_S * 1000
    assert latency < 5000

    lines = [
        json.loads(m.removeprefix("request "))
        for m in caplog.messages
        if m.startswith("request {")
    ]
    assert len(lines) == 1
    line = lines[0]
    assert line["subject"] == llm_agent
    assert line["ai_performance_id"]
    assert line["complexity"] == "complex"
    assert (line["input_tokens"], line["output_tokens"]) == (inputs, outputs)
    assert line["duration_ms"] == pytest.approx(latency, abs=0.01)


async def test_the_built_in_agent_is_measured_as_local_with_its_error_codes(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)

    for _ in range(2):
        result = await conversation.async_converse(
            hass, "what is the weather", None, Context()
        )
        assert result.response.response_type.value == "error"
    await settle_and_refresh(hass, mock_config_entry)

    agent = "conversation.home_assistant"
    assert sensor_state(hass, agent, "requests") == "2"
    assert float(sensor_state(hass, agent, "handled_locally")) == 100
    assert float(sensor_state(hass, agent, "error_rate")) == 100
    state = hass.states.get(
        er.async_get(hass).async_get_entity_id(
            "sensor",
            DOMAIN,
            f"{mock_config_entry.entry_id}_requests_{agent}_error_rate",
        )
    )
    assert state.attributes["errors_by_code"] == {"unknown": 2}


async def test_every_turn_of_a_conversation_counts_once(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    conversation_id = None
    for _ in range(3):
        result = await conversation.async_converse(
            hass, "use lamp_on", conversation_id, Context(), agent_id=llm_agent
        )
        conversation_id = result.conversation_id
        await settle_and_refresh(hass, mock_config_entry)
    assert sensor_state(hass, llm_agent, "requests") == "3"
    assert float(sensor_state(hass, llm_agent, "tool_failure_rate")) == 0
    overall = hass.states.get("sensor.ai_performance_overall_latency_p95")
    assert overall is not None
    assert float(overall.state) > 0
