"""Benchmarks of conversation agents: measured through the conversation API, never counted as use."""

from typing import Any

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors.requests import (
    MAIN_WINDOW_S,
    RequestsSample,
)
from custom_components.ai_performance.const import DOMAIN, SOURCE_REQUESTS
from custom_components.ai_performance.engine.requests import Totals

from ..conftest import setup_integration
from ..llm_agent import AGENT_ID
from .test_agents import settle_and_refresh


async def benchmark(hass: HomeAssistant, **data: Any) -> Any:
    """Run a benchmark and wait for its results."""
    return await hass.services.async_call(
        DOMAIN, "run_benchmark", data, blocking=True, return_response=True
    )


def _device_names(hass: HomeAssistant, entry: MockConfigEntry) -> set[str | None]:
    """Return the names of the entry's devices."""
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    return {device.name for device in devices}


def _request_entities(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    """Return the unique ids of the entry's entities of requests subjects."""
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    prefix = f"{entry.entry_id}_requests_"
    return {e.unique_id for e in entities if e.unique_id.startswith(prefix)}


async def test_an_agent_benchmark_measures_it_and_never_counts_as_use(
    hass: HomeAssistant, llm_agent: str, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    devices = _device_names(hass, mock_config_entry)

    run = await benchmark(
        hass, agents=[llm_agent], prompts=["Hello", "How are you?"], count=3
    )
    await settle_and_refresh(hass, mock_config_entry)

    assert run["status"] == "finished"
    assert run["completed"] == run["total"] == 4  # one warm-up and three measured
    figures = run["results"][AGENT_ID]
    assert figures["requests"] == 3
    assert figures["errors"] == 0
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p95_ms"]
    assert figures["latency_p95_ms"] <= figures["latency_p99_ms"]
    # Tokens come from the agent's chat log: one model call per answer.
    assert figures["output_tokens_per_s"] > 0
    assert run["comparison"] == {}
    # The agent itself answered nobody: no request, no service level; and the benchmark's
    # target is no subject of its own either: no device, no entities.
    assert list(mock_config_entry.runtime_data.ledger.subjects) == []
    assert _device_names(hass, mock_config_entry) == devices
    assert _request_entities(hass, mock_config_entry) == set()
    sample = mock_config_entry.runtime_data.coordinator.data.sample(
        SOURCE_REQUESTS, RequestsSample
    )
    assert sample.overall[MAIN_WINDOW_S].count == 0
    assert sample.overall_sla[24].requests == 0
    state = hass.states.get("sensor.ai_performance_benchmark")
    assert state.state == "finished"
    assert state.attributes["progress"] == 100.0
    assert state.attributes["results"][AGENT_ID]["requests"] == 3


async def test_the_default_benchmark_asks_home_assistants_agent_harmless_questions(
    hass: HomeAssistant, llm_agent: str, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    run = await benchmark(hass)

    assert run["prompts"] == ["What time is it?", "What is the date today?"]
    assert list(run["results"]) == [conversation.HOME_ASSISTANT_AGENT]
    assert run["results"][conversation.HOME_ASSISTANT_AGENT]["requests"] == 5


async def test_two_agents_side_by_side(
    hass: HomeAssistant, llm_agent: str, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    run = await benchmark(
        hass,
        agents=[conversation.HOME_ASSISTANT_AGENT, llm_agent],
        prompts="What time is it?",
        count=2,
        warm_up=0,
        concurrency=2,
    )

    local, llm = (
        run["results"][a] for a in (conversation.HOME_ASSISTANT_AGENT, AGENT_ID)
    )
    assert local["requests"] == llm["requests"] == 2
    ratio = run["comparison"][AGENT_ID]["latency_p50_ratio"]
    assert ratio == pytest.approx(
        llm["latency_p50_ms"] / local["latency_p50_ms"], rel=1e-2
    )


@pytest.mark.parametrize(
    ("data", "key", "field"),
    [
        ({"count": 0}, "invalid_field", "count"),
        ({"count": 2.5}, "invalid_field", "count"),
        ({"concurrency": 9}, "invalid_field", "concurrency"),
        ({"warm_up": -1}, "invalid_field", "warm_up"),
        ({"prompts": []}, "invalid_field", "prompts"),
        ({"prompts": ["ok", ""]}, "invalid_field", "prompts"),
        (
            {"agents": ["conversation.a"] * 3, "models": ["m", "n"]},
            "invalid_field",
            "agents and models",
        ),
        ({"agents": ["conversation.nobody"]}, "unknown_agent", "conversation.nobody"),
        ({"models": ["llama3.2:3b"]}, "no_ollama_server", ""),
        ({"target": "x"}, "unknown_fields", "target"),
    ],
)
@pytest.mark.usefixtures("llm_agent")
async def test_bad_input_is_refused_before_anything_runs(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
    field: str,
) -> None:
    await setup_integration(hass, mock_config_entry)

    with pytest.raises(ServiceValidationError) as caught:
        await benchmark(hass, **data)

    assert caught.value.translation_key == key
    assert field in str(caught.value)
    assert mock_config_entry.runtime_data.benchmark.run is None
    assert hass.states.get("sensor.ai_performance_benchmark").state == "idle"


async def test_a_benchmark_target_left_as_a_device_by_an_earlier_version_is_removed(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    mock_config_entry: MockConfigEntry,
) -> None:
    # Earlier versions counted each benchmark target as a subject, with a device and sensors.
    subject = "benchmark_conversation_test_llm"
    hass_storage[f"{DOMAIN}.{mock_config_entry.entry_id}.requests"] = {
        "version": 1,
        "key": f"{DOMAIN}.{mock_config_entry.entry_id}.requests",
        "data": {
            "subjects": {
                subject: {
                    "kind": "benchmark",
                    "name": "Benchmark: conversation.test_llm",
                    "totals": Totals(requests=5).as_dict(),
                }
            }
        },
    }
    mock_config_entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={(DOMAIN, f"{mock_config_entry.entry_id}_requests_{subject}")},
        name="Benchmark: conversation.test_llm",
        model="Benchmark",
    )
    for key in ("requests", "latency_p95"):
        er.async_get(hass).async_get_or_create(
            "sensor",
            DOMAIN,
            f"{mock_config_entry.entry_id}_requests_{subject}_{key}",
            config_entry=mock_config_entry,
            device_id=device.id,
        )

    await setup_integration(hass, mock_config_entry)

    assert subject not in mock_config_entry.runtime_data.ledger.subjects
    assert dr.async_get(hass).async_get(device.id) is None
    assert _request_entities(hass, mock_config_entry) == set()
