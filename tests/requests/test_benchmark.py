"""Benchmarks of conversation agents: measured through the conversation API, never counted as use."""

from typing import Any

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors.requests import (
    MAIN_WINDOW_S,
    RequestsSample,
)
from custom_components.ai_performance.const import DOMAIN, SOURCE_REQUESTS

from ..conftest import setup_integration
from ..llm_agent import AGENT_ID, CALL_STATS
from .test_agents import settle_and_refresh


async def benchmark(hass: HomeAssistant, **data: Any) -> Any:
    """Run a benchmark and wait for its results."""
    return await hass.services.async_call(
        DOMAIN, "run_benchmark", data, blocking=True, return_response=True
    )


async def test_an_agent_benchmark_measures_it_and_never_counts_as_use(
    hass: HomeAssistant, llm_agent: str, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

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
    ledger = mock_config_entry.runtime_data.ledger
    subject = ledger.subjects["benchmark_conversation_test_llm"]
    assert subject.kind == "benchmark"
    assert subject.totals.requests == 3
    assert subject.totals.output_tokens == 3 * CALL_STATS[0][2]
    # The agent itself answered nobody: no request, no service level.
    assert AGENT_ID not in ledger.subjects
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
