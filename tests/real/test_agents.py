"""Home Assistant's own LLM agents against a real llama-server: our figures against the server's.

Ground truth: llama-server's own counters (``/metrics``) for tokens and generation time, and the
test's own clock around each request for latency.
"""

import time

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors import chat_logs
from custom_components.ai_performance.ledger import Subject

from ..conftest import setup_integration
from ..real_servers import LlamaServer
from ..requests.test_agents import sensor_state
from ..requests.test_benchmark import benchmark
from ..requests.test_pipelines import run_text
from .agents import generation_speed, input_tokens
from .conftest import use_in_pipeline, wait_until

QUESTIONS = ("Name a colour.", "Name a fruit.")


def _subject(entry: MockConfigEntry, agent: str) -> Subject:
    return entry.runtime_data.ledger.subjects[agent]


def _counted(entry: MockConfigEntry, agent: str) -> int:
    subject = entry.runtime_data.ledger.subjects.get(agent)
    return 0 if subject is None else subject.totals.requests


async def _ask(hass: HomeAssistant, agent: str, text: str) -> float:
    """Ask ``agent`` through the conversation API; return the client's own latency (ms)."""
    started = time.monotonic()
    result = await conversation.async_converse(
        hass, text, None, Context(), agent_id=agent
    )
    elapsed_ms = (time.monotonic() - started) * 1000
    assert result.response.response_type.value != "error", result.response.as_dict()
    return elapsed_ms


async def _refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


@pytest.fixture(autouse=True)
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finish turns 50 ms after their answer instead of 500 ms."""
    monkeypatch.setattr(chat_logs, "SETTLE_S", 0.05)


async def test_openai_agent_tokens_are_the_servers_in_both_paths(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llama: LlamaServer,
    openai_agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    pipeline = await use_in_pipeline(hass, openai_agent)
    before = llama.metrics()

    # Twice through the conversation API, twice through an Assist pipeline (as the Assist
    # dialog and every voice satellite ask).
    client_ms = [await _ask(hass, openai_agent, text) for text in QUESTIONS]
    for text in QUESTIONS:
        events = await run_text(hass, text)
        assert events[-1].type == "run-end", [e.type for e in events]
    await wait_until(hass, lambda: _counted(mock_config_entry, openai_agent) == 4)
    after = llama.metrics()
    await _refresh(hass, mock_config_entry)

    totals = _subject(mock_config_entry, openai_agent).totals
    assert totals.input_tokens == input_tokens(after) - input_tokens(before)
    assert totals.output_tokens == (
        after["llamacpp:tokens_predicted_total"]
        - before["llamacpp:tokens_predicted_total"]
    )
    assert sensor_state(hass, openai_agent, "input_tokens") == str(totals.input_tokens)
    assert sensor_state(hass, pipeline, "requests") == "2"
    # Latency: ours against the client's clock around each conversation-API request.
    recent = list(_subject(mock_config_entry, openai_agent).log.recent)[:2]
    for record, measured in zip(recent, client_ms, strict=True):
        assert record.duration_ms == pytest.approx(measured, rel=0.01, abs=15)


async def test_output_speed_is_the_servers_generation_speed_or_unknown(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llama: LlamaServer,
    openai_agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    await use_in_pipeline(hass, openai_agent)

    # The conversation API shows no first token: the speed is unknown, never a blend.
    await _ask(hass, openai_agent, QUESTIONS[0])
    await wait_until(hass, lambda: _counted(mock_config_entry, openai_agent) == 1)
    await _refresh(hass, mock_config_entry)
    assert sensor_state(hass, openai_agent, "output_tokens_per_second") == "unknown"

    # A pipeline streams: the tokens after the first over the time after the first.
    before = llama.metrics()
    events = await run_text(hass, QUESTIONS[1])
    assert events[-1].type == "run-end"
    await wait_until(hass, lambda: _counted(mock_config_entry, openai_agent) == 2)
    after = llama.metrics()
    await _refresh(hass, mock_config_entry)

    ours = float(sensor_state(hass, openai_agent, "output_tokens_per_second"))
    # The server counts every token over the time after the first; we count the tokens after
    # the first: n/(n-1) apart at most, plus streaming through Home Assistant.
    assert ours == pytest.approx(generation_speed(before, after), rel=0.15)


async def test_llama_cpp_agent_latency_measured_tokens_unknown(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llama_cpp_agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    pipeline = await use_in_pipeline(hass, llama_cpp_agent)

    measured = await _ask(hass, llama_cpp_agent, QUESTIONS[0])
    events = await run_text(hass, QUESTIONS[1])
    assert events[-1].type == "run-end"
    await wait_until(hass, lambda: _counted(mock_config_entry, llama_cpp_agent) == 2)
    await _refresh(hass, mock_config_entry)

    (first, _) = _subject(mock_config_entry, llama_cpp_agent).log.recent
    assert first.duration_ms == pytest.approx(measured, rel=0.01, abs=15)
    # Home Assistant's llama.cpp integration reports no token counts: unknown, not 0.
    assert sensor_state(hass, llama_cpp_agent, "input_tokens") == "unknown"
    assert sensor_state(hass, llama_cpp_agent, "output_tokens_per_second") == "unknown"
    # It streams: the pipeline measured its time to first token.
    assert float(sensor_state(hass, pipeline, "ttft_p95")) > 0


async def test_a_benchmark_times_the_stream_of_a_streaming_agent(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llama: LlamaServer,
    openai_agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    before = llama.metrics()

    run = await benchmark(
        hass, agents=[openai_agent], prompts=list(QUESTIONS), count=2, warm_up=0
    )
    after = llama.metrics()

    figures = next(iter(run["results"].values()))
    assert figures["requests"] == 2
    assert figures["errors"] == 0
    # The benchmark saw the answer stream: time to first token and generation speed.
    assert 0 < figures["ttft_p50_ms"] < figures["latency_p50_ms"]
    assert figures["output_tokens_per_s"] == pytest.approx(
        generation_speed(before, after), rel=0.15
    )
