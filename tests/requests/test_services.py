"""The record_request and rate_response actions: what they record, and what they refuse."""

import math
from typing import Any

from homeassistant.components import assist_pipeline, conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.const import DOMAIN
from custom_components.ai_performance.engine.requests import (
    RequestRecord,
    RequestSource,
)
from custom_components.ai_performance.ledger import SubjectKind

from ..conftest import setup_integration
from .test_agents import sensor_state, settle_and_refresh


async def record(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, "record_request", data, blocking=True)


async def test_a_reported_request_counts_under_its_own_device(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    await record(
        hass,
        subject="rag_service",
        duration_ms=1200,
        ttft_ms=300,
        input_tokens=1000,
        cached_input_tokens=800,
        output_tokens=90,
        model="llama3.2:3b",
    )
    await record(hass, subject="rag_service", duration_ms="800", error="timeout")
    await settle_and_refresh(hass, mock_config_entry)

    assert sensor_state(hass, "rag_service", "requests") == "2"
    assert float(sensor_state(hass, "rag_service", "latency_p50")) == 1000
    assert float(sensor_state(hass, "rag_service", "ttft_p50")) == 300
    assert float(sensor_state(hass, "rag_service", "error_rate")) == 50
    assert float(sensor_state(hass, "rag_service", "cache_hit")) == 80
    # The 89 tokens after the first in the 900 ms after it.
    assert float(
        sensor_state(hass, "rag_service", "output_tokens_per_second")
    ) == pytest.approx(89 / 0.9, abs=1e-3)


@pytest.mark.parametrize(
    ("data", "key", "placeholder"),
    [
        ({"duration_ms": 5}, "missing_field", "subject"),
        ({"subject": "x"}, "missing_field", "duration_ms"),
        ({"subject": "x", "duration_ms": -1}, "invalid_field", "duration_ms"),
        ({"subject": "x", "duration_ms": math.nan}, "invalid_field", "duration_ms"),
        ({"subject": "x", "duration_ms": math.inf}, "invalid_field", "duration_ms"),
        ({"subject": "x", "duration_ms": 1e12}, "invalid_field", "duration_ms"),
        ({"subject": "x", "duration_ms": "fast"}, "invalid_field", "duration_ms"),
        ({"subject": "x", "duration_ms": True}, "invalid_field", "duration_ms"),
        (
            {"subject": "x", "duration_ms": 10, "ttft_ms": 20},
            "invalid_field",
            "ttft_ms",
        ),
        (
            {"subject": "x", "duration_ms": 10, "output_tokens": 1.5},
            "invalid_field",
            "output_tokens",
        ),
        (
            {
                "subject": "x",
                "duration_ms": 10,
                "input_tokens": 5,
                "cached_input_tokens": 6,
            },
            "invalid_field",
            "cached_input_tokens",
        ),
        ({"subject": " ", "duration_ms": 10}, "invalid_field", "subject"),
        (
            {"subject": "x", "duration_ms": 10, "colour": "red"},
            "unknown_fields",
            "colour",
        ),
    ],
)
async def test_bad_input_is_refused_with_a_translated_error_and_records_nothing(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
    placeholder: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    with pytest.raises(ServiceValidationError) as caught:
        await record(hass, **data)
    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == key
    assert placeholder in str(caught.value.translation_placeholders)
    assert mock_config_entry.runtime_data.ledger.subjects == {}


async def test_ratings_give_each_agent_a_satisfaction_score(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "rate_response", {"rating": "up"}, blocking=True
        )
    assert caught.value.translation_key == "no_request_to_rate"

    result = await conversation.async_converse(
        hass, "hello", None, Context(), agent_id=llm_agent
    )
    await settle_and_refresh(hass, mock_config_entry)
    for rating, target in (
        ("up", {"conversation_id": result.conversation_id}),
        ("up", {}),
        ("down", {"agent_id": llm_agent}),
        ("up", {}),
    ):
        await hass.services.async_call(
            DOMAIN, "rate_response", {"rating": rating, **target}, blocking=True
        )
    await settle_and_refresh(hass, mock_config_entry)
    assert float(sensor_state(hass, llm_agent, "satisfaction")) == 75

    for bad in ({"rating": "meh"}, {"rating": "up", "conversation_id": "unknown"}):
        with pytest.raises(ServiceValidationError):
            await hass.services.async_call(DOMAIN, "rate_response", bad, blocking=True)
    await settle_and_refresh(hass, mock_config_entry)
    assert float(sensor_state(hass, llm_agent, "satisfaction")) == 75


# --- Subjects of their own ----------------------------------------------------------------------


async def test_a_report_cannot_forge_an_observed_agents_figures(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    await conversation.async_converse(
        hass, "hello", None, Context(), agent_id=llm_agent
    )
    await settle_and_refresh(hass, mock_config_entry)
    p50 = sensor_state(hass, llm_agent, "latency_p50")
    ledger = mock_config_entry.runtime_data.ledger
    requests = ledger.summary(llm_agent)["requests"]

    with pytest.raises(ServiceValidationError) as caught:
        await record(hass, subject=llm_agent, duration_ms=60_000, error="timeout")
    await settle_and_refresh(hass, mock_config_entry)

    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == "observed_subject"
    assert caught.value.translation_placeholders["field"] == "subject"
    assert caught.value.translation_placeholders["subject"] == llm_agent
    assert "subject" in str(caught.value)
    assert sensor_state(hass, llm_agent, "latency_p50") == p50
    assert ledger.summary(llm_agent)["requests"] == requests
    # A name of its own is still counted.
    await record(hass, subject="rag_service", duration_ms=500)
    await settle_and_refresh(hass, mock_config_entry)
    assert sensor_state(hass, "rag_service", "requests") == "1"


@pytest.mark.parametrize(
    "subject",
    [
        "conversation.home_assistant",
        "conversation.not_used_yet",
        "Conversation.Home_Assistant",
        "ai_task.anything",
    ],
)
async def test_a_report_under_an_agent_or_ai_task_entity_id_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, subject: str
) -> None:
    await setup_integration(hass, mock_config_entry)

    with pytest.raises(ServiceValidationError) as caught:
        await record(hass, subject=subject, duration_ms=60_000)

    assert caught.value.translation_key == "observed_subject"
    assert caught.value.translation_placeholders["field"] == "subject"
    assert mock_config_entry.runtime_data.ledger.subjects == {}


@pytest.mark.parametrize("kind", [k for k in SubjectKind if k != SubjectKind.EXTERNAL])
async def test_a_report_under_a_subject_measured_here_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, kind: SubjectKind
) -> None:
    await setup_integration(hass, mock_config_entry)
    ledger = mock_config_entry.runtime_data.ledger
    ledger.subject("measured_here", kind)

    with pytest.raises(ServiceValidationError) as caught:
        await record(hass, subject="measured_here", duration_ms=60_000)

    assert caught.value.translation_key == "observed_subject"
    assert ledger.summary("measured_here")["requests"] == 0


async def test_a_report_under_an_assist_pipeline_id_is_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    await setup_integration(hass, mock_config_entry)
    pipeline_id = assist_pipeline.async_get_pipeline(hass).id

    for spelling in (pipeline_id, pipeline_id.upper()):
        with pytest.raises(ServiceValidationError) as caught:
            await record(hass, subject=spelling, duration_ms=60_000)
        assert caught.value.translation_key == "observed_subject"
    assert mock_config_entry.runtime_data.ledger.subjects == {}
    await record(hass, subject="my_pipeline_watcher", duration_ms=60_000)
    assert set(mock_config_entry.runtime_data.ledger.subjects) == {
        "my_pipeline_watcher"
    }


# --- Numbers that cannot work, and huge values ---------------------------------------------------

NOT_NUMBERS = [math.nan, math.inf, -math.inf, "nan", "-inf", "inf", 1e308]


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize(
    ("service", "data", "field"),
    [
        ("record_request", {"subject": "x"}, "duration_ms"),
        ("record_request", {"subject": "x", "duration_ms": 1e300}, "ttft_ms"),
        ("record_request", {"subject": "x", "duration_ms": 10}, "input_tokens"),
        ("record_request", {"subject": "x", "duration_ms": 10}, "output_tokens"),
        (
            "record_request",
            {"subject": "x", "duration_ms": 10},
            "cached_input_tokens",
        ),
        ("snooze_alert", {"alert_id": "a"}, "minutes"),
        ("run_benchmark", {}, "count"),
        ("run_benchmark", {}, "concurrency"),
        ("run_benchmark", {}, "warm_up"),
        ("set_keep_alive", {"model": "m"}, "keep_alive"),
    ],
)
async def test_an_action_refuses_a_number_that_cannot_work_on_its_field(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    *,
    service: str,
    data: dict[str, Any],
    field: str,
    value: object,
) -> None:
    await setup_integration(hass, mock_config_entry)

    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, service, {**data, field: value}, blocking=True
        )

    assert caught.value.translation_key == "invalid_field"
    placeholders = caught.value.translation_placeholders
    # ttft_ms is refused before the duration it is compared with, whatever the duration.
    assert placeholders["field"] in (field, "duration_ms")
    assert mock_config_entry.runtime_data.ledger.subjects == {}


HUGE = "9" * 1_000_000


@pytest.mark.parametrize(
    "data",
    [
        {"subject": "x", "duration_ms": HUGE},
        {"subject": HUGE, "duration_ms": 5},
        {"subject": "x", "duration_ms": 5, HUGE: 1},
        {"subject": "x", "duration_ms": 5, "model": [HUGE]},
    ],
)
async def test_a_huge_refused_value_is_echoed_as_a_short_prefix(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, data: dict[str, Any]
) -> None:
    await setup_integration(hass, mock_config_entry)

    with pytest.raises(ServiceValidationError) as caught:
        await record(hass, **data)

    placeholders = caught.value.translation_placeholders
    assert all(len(text) <= 200 for text in placeholders.values()), placeholders
    assert "…" in "".join(placeholders.values())
    assert len(str(caught.value)) < 500


async def test_an_unknown_agent_is_echoed_as_a_short_prefix(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    agent = "conversation." + "a" * 87  # the longest text an action takes

    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "run_benchmark", {"agents": [agent]}, blocking=True
        )

    assert caught.value.translation_key == "unknown_agent"
    assert caught.value.translation_placeholders["agent"] == agent[:60] + "…"


async def test_an_agent_reported_under_before_reports_were_refused_gets_its_own_figures(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A ledger saved by an earlier version can hold reports under an agent's entity id.
    await setup_integration(hass, mock_config_entry)
    ledger = mock_config_entry.runtime_data.ledger
    forged = RequestRecord(
        id="forged",
        source=RequestSource.EXTERNAL,
        subject="conversation.llm",
        start=0.0,
        end=60.0,
    )
    ledger.add(forged)
    measured = RequestRecord(
        id="measured",
        source=RequestSource.AGENT,
        subject="conversation.llm",
        start=100.0,
        end=100.042,
    )

    ledger.add(measured)

    subject = ledger.subjects["conversation.llm"]
    assert subject.kind is SubjectKind.AGENT
    assert subject.totals.requests == 1
    assert list(subject.log.recent) == [measured]
    assert "measured here" in caplog.text
    # And a report reaching the ledger under it is not counted.
    ledger.add(forged)
    assert subject.totals.requests == 1


async def test_a_refused_number_names_its_range_in_full(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    with pytest.raises(ServiceValidationError) as caught:
        await record(hass, subject="rag", duration_ms=-1)

    assert caught.value.translation_placeholders["expected"] == (
        "a number from 0 to 86,400,000"
    )
