"""Assist pipelines through the real assist_pipeline component: stage timings per run."""

from typing import Any

from homeassistant.components import assist_pipeline, conversation
from homeassistant.components.assist_pipeline import PipelineInput, PipelineStage
from homeassistant.components.assist_pipeline.pipeline import (
    KEY_ASSIST_PIPELINE,
    PipelineEvent,
    PipelineRun,
)
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import (
    chat_session,
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.const import DOMAIN

from ..conftest import setup_integration
from ..llm_agent import AT_LEAST_2026_11, CALL_STATS, FIRST_TOKEN_DELAY_S
from .test_agents import requests_collector, sensor_state, settle_and_refresh


async def run_text(
    hass: HomeAssistant, text: str, conversation_id: str | None = None
) -> list[PipelineEvent]:
    """Run the preferred pipeline on text, from the intent stage to its end."""
    events: list[PipelineEvent] = []
    pipeline = assist_pipeline.async_get_pipeline(hass)
    run = PipelineRun(
        hass,
        context=Context(),
        pipeline=pipeline,
        start_stage=PipelineStage.INTENT,
        end_stage=PipelineStage.INTENT,
        event_callback=events.append,
    )
    # 2026.11 wants the caller's context (the owner of the conversation); 2026.10 takes none.
    owner = {"context": None} if AT_LEAST_2026_11 else {}
    with chat_session.async_get_chat_session(hass, conversation_id, **owner) as session:
        pipeline_input = PipelineInput(intent_input=text, run=run, session=session)
        await pipeline_input.validate()
        await pipeline_input.execute()
    return events


@pytest.fixture
async def llm_pipeline(hass: HomeAssistant, llm_agent: str) -> str:
    """Set up Assist with the test LLM agent as the preferred pipeline's agent."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    pipeline = assist_pipeline.async_get_pipeline(hass)
    await assist_pipeline.async_update_pipeline(
        hass, pipeline, conversation_engine=llm_agent
    )
    return pipeline.id


async def test_a_text_run_gives_agent_latency_and_time_to_first_token(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_pipeline: str
) -> None:
    await setup_integration(hass, mock_config_entry)

    events = await run_text(hass, "use lamp_on")
    assert events[-1].type == "run-end"
    await settle_and_refresh(hass, mock_config_entry)

    assert sensor_state(hass, llm_pipeline, "requests") == "1"
    agent_p95 = float(sensor_state(hass, llm_pipeline, "agent_latency_p95"))
    ttft = float(sensor_state(hass, llm_pipeline, "ttft_p95"))
    assert ttft >= 2 * FIRST_TOKEN_DELAY_S * 1000  # a tool round before the answer
    assert agent_p95 >= ttft
    assert float(sensor_state(hass, llm_pipeline, "latency_p95")) >= agent_p95
    assert float(sensor_state(hass, llm_pipeline, "error_rate")) == 0
    # No speech in a text run: speech-to-text and perceived latency are unknown.
    assert sensor_state(hass, llm_pipeline, "stt_latency_p95") == "unknown"
    # The agent's own request got the pipeline's time to first token.
    assert float(sensor_state(hass, "conversation.test_llm", "ttft_p95")) == ttft
    # Pipelines do not count twice in the overall figures.
    overall = hass.states.get("sensor.ai_performance_overall_request_rate")
    assert overall is not None
    assert float(overall.state) == pytest.approx(1 / 5, abs=1e-3)


async def test_runs_are_counted_once_however_often_the_store_is_read(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_pipeline: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    watcher = requests_collector(mock_config_entry).pipelines
    conversation_id = None
    for _ in range(3):
        events = await run_text(hass, "hello", conversation_id)
        conversation_id = events[0].data["conversation_id"]  # type: ignore[index]
        for _ in range(3):
            watcher.poll()
    await settle_and_refresh(hass, mock_config_entry)
    assert sensor_state(hass, llm_pipeline, "requests") == "3"
    assert sensor_state(hass, "conversation.test_llm", "requests") == "3"


async def test_a_reload_counts_no_run_again(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_pipeline: str
) -> None:
    # Home Assistant still holds the last runs when an options save reloads us.
    await setup_integration(hass, mock_config_entry)
    for _ in range(2):
        await run_text(hass, "hello")
    await settle_and_refresh(hass, mock_config_entry)
    assert sensor_state(hass, llm_pipeline, "requests") == "2"

    await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await run_text(hass, "hello")  # a run during the new setup's life counts
    await settle_and_refresh(hass, mock_config_entry)

    assert sensor_state(hass, llm_pipeline, "requests") == "3"
    assert sensor_state(hass, "conversation.test_llm", "requests") == "3"


async def test_a_changed_store_turns_pipelines_off_with_a_repair_issue(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_pipeline: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    await run_text(hass, "hello")
    data: Any = hass.data[KEY_ASSIST_PIPELINE]
    for runs in data.pipeline_debug.values():
        for run in runs.values():
            run.events[0] = object()  # an event of a shape we do not know
    watcher = requests_collector(mock_config_entry).pipelines
    mock_config_entry.runtime_data.ledger.counted_runs.clear()
    watcher.poll()

    issue = ir.async_get(hass).async_get_issue(DOMAIN, "assist_internals_changed")
    assert issue is not None
    assert issue.translation_key == "assist_internals_changed"
    assert not watcher.available
    # Agents are still measured.
    await settle_and_refresh(hass, mock_config_entry)
    assert sensor_state(hass, "conversation.test_llm", "requests") == "1"


async def test_an_agent_asked_through_a_pipeline_keeps_its_tokens(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_pipeline: str
) -> None:
    # In a pipeline the user's message comes before the agent's conversation trace exists:
    # the turn must still find the trace that holds the provider's token counts.
    await setup_integration(hass, mock_config_entry)

    conversation_id = None
    for _ in range(2):
        events = await run_text(hass, "hello", conversation_id)
        conversation_id = events[0].data["conversation_id"]  # type: ignore[index]
    await settle_and_refresh(hass, mock_config_entry)

    input_tokens, _cached, output_tokens = CALL_STATS[0]  # one model call per answer
    agent = "conversation.test_llm"
    assert sensor_state(hass, agent, "requests") == "2"
    assert sensor_state(hass, agent, "input_tokens") == str(2 * input_tokens)
    assert sensor_state(hass, agent, "output_tokens") == str(2 * output_tokens)


async def test_the_slowest_run_is_split_into_stages_and_links_to_assist_debug(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_pipeline: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    events = await run_text(hass, "use lamp_on")
    await settle_and_refresh(hass, mock_config_entry)

    state = hass.states.get(f"sensor.{_object_id(hass, llm_pipeline)}_slowest_stage")
    assert state is not None
    stages = state.attributes["stages"]
    # Ground truth: Home Assistant's own event times of the intent stage, and the agent's
    # two delayed model calls (a tool round, then the answer) before its first answer token.
    at = {event.type: event.timestamp for event in events}
    agent_ms = (
        dt_util.parse_datetime(at["intent-end"])  # type: ignore[operator]
        - dt_util.parse_datetime(at["intent-start"])
    ).total_seconds() * 1000
    assert set(stages) == {"prompt_processing", "generation"}
    assert stages["prompt_processing"] >= 2 * FIRST_TOKEN_DELAY_S * 1000
    assert sum(stages.values()) == pytest.approx(agent_ms, abs=1)
    assert state.state == max(stages, key=stages.__getitem__)
    assert state.attributes["debug_path"] == (
        f"/config/voice-assistants/debug/{llm_pipeline}"
    )
    # The agent's own device has the breakdown too, but no pipeline to debug.
    agent = hass.states.get("sensor.test_llm_slowest_stage")
    assert agent is not None
    assert agent.state in {"prompt_processing", "generation"}
    assert "debug_path" not in agent.attributes


def _object_id(hass: HomeAssistant, pipeline_id: str) -> str:
    """Return the object id our sensors of a pipeline have (from its requests sensor)."""
    registry = er.async_get(hass)
    entity_id = next(
        entry.entity_id
        for entry in registry.entities.values()
        if entry.unique_id.endswith(f"requests_{pipeline_id}_requests")
    )
    return entity_id.removeprefix("sensor.").removesuffix("_requests")


@pytest.fixture
async def built_in_pipeline(hass: HomeAssistant, llm_agent: str) -> str:
    """Set up Assist with its preferred pipeline on the built-in agent (both "Home Assistant").

    ``llm_agent`` sets the conversation component up.
    """
    assert await async_setup_component(hass, "assist_pipeline", {})
    pipeline = assist_pipeline.async_get_pipeline(hass)
    assert pipeline.name == "Home Assistant"
    assert pipeline.conversation_engine == conversation.HOME_ASSISTANT_AGENT
    return pipeline.id


def _request_entity_id(hass: HomeAssistant, subject: str) -> str | None:
    return er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"01JAIPERFORMANCE0000000000_requests_{subject}_requests"
    )


async def test_a_pipeline_named_like_its_agent_gets_a_device_and_entity_ids_of_its_own(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, built_in_pipeline: str
) -> None:
    await setup_integration(hass, mock_config_entry)

    await run_text(hass, "what time is it")
    await settle_and_refresh(hass, mock_config_entry)
    await settle_and_refresh(hass, mock_config_entry)

    devices = dr.async_get(hass)
    agent = devices.async_get_device_by_identifier(
        (DOMAIN, f"{mock_config_entry.entry_id}_requests_conversation.home_assistant"),
        mock_config_entry.entry_id,
    )
    pipeline = devices.async_get_device_by_identifier(
        (DOMAIN, f"{mock_config_entry.entry_id}_requests_{built_in_pipeline}"),
        mock_config_entry.entry_id,
    )
    assert agent is not None
    assert pipeline is not None
    assert agent.name == "Home Assistant"
    assert pipeline.name == "Assist: Home Assistant"
    assert _request_entity_id(hass, conversation.HOME_ASSISTANT_AGENT) == (
        "sensor.home_assistant_requests"
    )
    assert _request_entity_id(hass, built_in_pipeline) == (
        "sensor.assist_home_assistant_requests"
    )


async def test_an_existing_pipeline_device_is_renamed_and_keeps_its_entity_ids(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, built_in_pipeline: str
) -> None:
    # An earlier version named the pipeline's device like its agent's: its ids ended in _2.
    mock_config_entry.add_to_hass(hass)
    identifier = (DOMAIN, f"{mock_config_entry.entry_id}_requests_{built_in_pipeline}")
    old = dr.async_get(hass).async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={identifier},
        name="Home Assistant",
    )
    er.async_get(hass).async_get_or_create(
        "sensor",
        DOMAIN,
        f"01JAIPERFORMANCE0000000000_requests_{built_in_pipeline}_requests",
        config_entry=mock_config_entry,
        device_id=old.id,
        suggested_object_id="home_assistant_requests_2",
    )

    await setup_integration(hass, mock_config_entry)
    await run_text(hass, "what time is it")
    await settle_and_refresh(hass, mock_config_entry)
    await settle_and_refresh(hass, mock_config_entry)

    device = dr.async_get(hass).async_get_device_by_identifier(
        identifier, mock_config_entry.entry_id
    )
    assert device is not None
    assert device.name == "Assist: Home Assistant"
    assert _request_entity_id(hass, built_in_pipeline) == (
        "sensor.home_assistant_requests_2"
    )
