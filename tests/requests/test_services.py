"""The record_request and rate_response actions: what they record, and what they refuse."""

import math
from typing import Any

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.const import DOMAIN

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
