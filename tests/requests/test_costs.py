"""What requests cost: the options' prices applied to each request's tokens and model."""

from datetime import datetime
import sys
from types import SimpleNamespace
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigSubentryDataWithId
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.const import DOMAIN
from custom_components.ai_performance.costs import agent_model
from custom_components.ai_performance.engine.requests import RequestSource

from ..conftest import setup_integration
from ..llm_agent import AI_TASK_ID, CALL_STATS, MODEL
from .conftest import MONTHLY_BUDGET, PRICES
from .test_agents import settle_and_refresh
from .test_services import record

PRICE = PRICES[MODEL]
INPUT = sum(s[0] for s in CALL_STATS)
CACHED = sum(s[1] for s in CALL_STATS)
OUTPUT = sum(s[2] for s in CALL_STATS)
# What one turn of the test LLM costs: uncached and cached input, and output, per million.
TURN_COST = (
    (INPUT - CACHED) * PRICE["input"]
    + CACHED * PRICE["cached_input"]
    + OUTPUT * PRICE["output"]
) / 1e6


def _state(hass: HomeAssistant, unique_id: str):  # noqa: ANN202 - a State or None
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    return None if entity_id is None else hass.states.get(entity_id)


async def test_an_agents_requests_cost_what_its_models_tokens_cost(
    hass: HomeAssistant, priced_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, priced_entry)
    conversation_id = None
    for _ in range(2):
        result = await conversation.async_converse(
            hass, "use lamp_on", conversation_id, Context(), agent_id=llm_agent
        )
        conversation_id = result.conversation_id
    await settle_and_refresh(hass, priced_entry)

    prefix = f"{priced_entry.entry_id}_requests_{llm_agent}"
    total = _state(hass, f"{prefix}_cost")
    assert float(total.state) == pytest.approx(2 * TURN_COST, abs=1e-6)
    assert total.attributes["unit_of_measurement"] == "EUR"
    assert total.attributes["device_class"] == "monetary"
    assert total.attributes["state_class"] == "total"
    median = _state(hass, f"{prefix}_cost_per_request_p50")
    assert float(median.state) == pytest.approx(TURN_COST, rel=1e-6)
    assert median.attributes["unit_of_measurement"] == "EUR"

    overview = f"{priced_entry.entry_id}_overview"
    assert float(_state(hass, f"{overview}_overall_cost").state) == pytest.approx(
        2 * TURN_COST, abs=1e-6
    )
    month = _state(hass, f"{overview}_cost_this_month")
    assert float(month.state) == pytest.approx(2 * TURN_COST, abs=1e-6)
    month_start = dt_util.now().replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    assert dt_util.parse_datetime(month.attributes["last_reset"]) == month_start
    budget_used = _state(hass, f"{overview}_monthly_budget_used")
    assert float(budget_used.state) == pytest.approx(
        2 * TURN_COST / MONTHLY_BUDGET * 100, abs=0.01
    )


async def test_without_prices_there_are_no_cost_sensors(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    await conversation.async_converse(
        hass, "use lamp_on", None, Context(), agent_id=llm_agent
    )
    await settle_and_refresh(hass, mock_config_entry)

    unique_ids = {
        entry.unique_id
        for entry in er.async_entries_for_config_entry(
            er.async_get(hass), mock_config_entry.entry_id
        )
    }
    assert f"{mock_config_entry.entry_id}_requests_{llm_agent}_requests" in unique_ids
    assert not {
        unique_id
        for unique_id in unique_ids
        if unique_id.endswith(("_cost", "_cost_this_month", "_budget_used"))
        or "_cost_per_request" in unique_id
    }
    # Still, the model is known, for the log line and later prices.
    ledger = mock_config_entry.runtime_data.ledger
    assert ledger.subjects[llm_agent].log.recent[-1].model == MODEL


async def test_a_reported_request_is_priced_by_its_model_ignoring_case(
    hass: HomeAssistant, priced_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, priced_entry)
    await record(
        hass,
        subject="rag",
        duration_ms=900,
        model=MODEL.upper(),
        input_tokens=1_000_000,
        output_tokens=1_000,
    )
    await record(hass, subject="rag", duration_ms=900, model="unpriced", input_tokens=5)
    await settle_and_refresh(hass, priced_entry)

    expected = PRICE["input"] + 1_000 * PRICE["output"] / 1e6
    assert float(
        _state(hass, f"{priced_entry.entry_id}_requests_rag_cost").state
    ) == pytest.approx(expected)


async def test_a_new_month_starts_the_monthly_cost_from_zero(
    hass: HomeAssistant, priced_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(
        dt_util.as_utc(
            datetime(2026, 11, 30, 23, 0, tzinfo=dt_util.get_default_time_zone())
        )
    )
    await setup_integration(hass, priced_entry)
    await record(
        hass, subject="rag", duration_ms=900, model=MODEL, output_tokens=500_000
    )
    await priced_entry.runtime_data.coordinator.async_refresh()
    overview = f"{priced_entry.entry_id}_overview"
    assert float(_state(hass, f"{overview}_cost_this_month").state) == 4.0

    freezer.move_to(
        dt_util.as_utc(
            datetime(2026, 12, 1, 0, 30, tzinfo=dt_util.get_default_time_zone())
        )
    )
    await priced_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()

    month = _state(hass, f"{overview}_cost_this_month")
    assert float(month.state) == 0
    assert dt_util.parse_datetime(month.attributes["last_reset"]) == datetime(
        2026, 12, 1, tzinfo=dt_util.get_default_time_zone()
    )
    assert float(_state(hass, f"{overview}_overall_cost").state) == 4.0


async def test_ai_task_requests_count_under_the_ai_task_with_its_model(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)

    result = await ai_task.async_generate_data(
        hass,
        task_name="summary",
        entity_id=AI_TASK_ID,
        instructions="Summarise the day",
    )
    assert result.data == "A summary."
    await settle_and_refresh(hass, mock_config_entry)

    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{mock_config_entry.entry_id}_requests_{AI_TASK_ID}"),
        mock_config_entry.entry_id,
    )
    assert device is not None
    assert device.model == "AI Task"
    requests = _state(
        hass, f"{mock_config_entry.entry_id}_requests_{AI_TASK_ID}_requests"
    )
    assert requests.state == "1"
    record = mock_config_entry.runtime_data.ledger.subjects[AI_TASK_ID].log.recent[-1]
    assert record.source is RequestSource.AI_TASK
    assert record.model == MODEL
    assert record.conversation_id == result.conversation_id
    # AI Tasks run outside conversation traces: Home Assistant keeps no token counts for them.
    assert record.input_tokens is None
    tokens = _state(
        hass, f"{mock_config_entry.entry_id}_requests_{AI_TASK_ID}_input_tokens"
    )
    assert tokens.state == "unknown"  # not a false 0
    # The agent saw no request: the task is not counted twice.
    assert llm_agent not in mock_config_entry.runtime_data.ledger.subjects


def _entity_of(
    hass: HomeAssistant, entry: MockConfigEntry, subentry_id: str | None = None
) -> str:
    return (
        er.async_get(hass)
        .async_get_or_create(
            "conversation",
            entry.domain,
            f"{entry.entry_id}_{subentry_id}",
            config_entry=entry,
            config_subentry_id=subentry_id,
        )
        .entity_id
    )


async def test_the_model_comes_from_the_subentry_or_the_entry(
    hass: HomeAssistant,
) -> None:
    ollama = MockConfigEntry(
        domain="ollama",
        subentries_data=[
            ConfigSubentryDataWithId(
                data={"model": "llama3.2:3b"},
                subentry_id="01JSUB",
                subentry_type="conversation",
                title="Llama",
                unique_id=None,
            )
        ],
    )
    ollama.add_to_hass(hass)
    legacy = MockConfigEntry(domain="legacy_llm", options={"chat_model": "gpt-4"})
    legacy.add_to_hass(hass)

    assert agent_model(hass, _entity_of(hass, ollama, "01JSUB")) == "llama3.2:3b"
    assert agent_model(hass, _entity_of(hass, legacy)) == "gpt-4"
    assert agent_model(hass, "conversation.not_registered") is None


async def test_recommended_settings_use_the_integrations_recommended_model(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(domain="fancy_llm", options={"recommended": True})
    entry.add_to_hass(hass)
    entity_id = _entity_of(hass, entry)

    assert agent_model(hass, entity_id) is None  # the integration is not loaded
    const = SimpleNamespace(RECOMMENDED_CHAT_MODEL="fancy-1-mini")
    with patch.dict(sys.modules, {"homeassistant.components.fancy_llm.const": const}):
        assert agent_model(hass, entity_id) == "fancy-1-mini"
