"""Answers are not failures: "could not understand" and "no such device" are counted apart."""

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.const import CONF_ANSWER_CODES, DOMAIN

from ..conftest import setup_integration
from .test_agents import sensor_state, settle_and_refresh

AGENT = "conversation.home_assistant"
# What Home Assistant's own agent answers, with the error code of its answer.
NOT_UNDERSTOOD = "asdf qwerty zork"  # no_intent_match
NO_SUCH_DEVICE = "turn on the kitchen lights"  # no_valid_targets
ANSWERED = "what time is it"  # no error


async def ask(hass: HomeAssistant, *sentences: str) -> None:
    """Ask Home Assistant's own agent each sentence, one turn each."""
    for text in sentences:
        await conversation.async_converse(hass, text, None, Context())


def attributes(hass: HomeAssistant, unique_id: str) -> dict:
    """Return the attributes of our sensor ``unique_id`` (after the entry id)."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"01JAIPERFORMANCE0000000000_{unique_id}"
    )
    assert entity_id is not None, unique_id
    state = hass.states.get(entity_id)
    assert state is not None
    return dict(state.attributes)


def overview_state(hass: HomeAssistant, key: str) -> str:
    """Return the state of an overview sensor by its key."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"01JAIPERFORMANCE0000000000_overview_{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_not_understood_and_no_such_device_are_unanswered_not_errors(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)

    await ask(hass, NOT_UNDERSTOOD, NOT_UNDERSTOOD, NO_SUCH_DEVICE, ANSWERED)
    await settle_and_refresh(hass, mock_config_entry)

    assert sensor_state(hass, AGENT, "requests") == "4"
    assert float(sensor_state(hass, AGENT, "error_rate")) == 0
    assert float(sensor_state(hass, AGENT, "unanswered_rate")) == 75
    assert attributes(hass, f"requests_{AGENT}_unanswered_rate")[
        "unanswered_by_code"
    ] == {"no_intent_match": 2, "no_valid_targets": 1}
    assert attributes(hass, f"requests_{AGENT}_error_rate")["errors_by_code"] == {}
    assert float(overview_state(hass, "overall_error_rate")) == 0
    assert float(overview_state(hass, "overall_unanswered_rate")) == 75
    # Never against the service level either.
    assert float(sensor_state(hass, AGENT, "availability_24h")) == 100
    assert float(sensor_state(hass, AGENT, "error_budget_remaining_30d")) == 100
    assert float(overview_state(hass, "availability_24h")) == 100
    assert overview_state(hass, "health") == "ok"


async def test_changing_the_answer_codes_reads_the_saved_requests_again(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, llm_agent: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    await ask(hass, NOT_UNDERSTOOD, NO_SUCH_DEVICE, ANSWERED, ANSWERED)
    await settle_and_refresh(hass, mock_config_entry)
    assert float(sensor_state(hass, AGENT, "error_rate")) == 0

    # Every code a failure: the options save reloads the entry.
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "sla"}
    )
    form = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**form, CONF_ANSWER_CODES: []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    await settle_and_refresh(hass, mock_config_entry)

    # The requests restored after the reload are the same four, counted the new way.
    assert sensor_state(hass, AGENT, "requests") == "4"
    assert float(sensor_state(hass, AGENT, "error_rate")) == 50
    assert float(sensor_state(hass, AGENT, "unanswered_rate")) == 0
    assert attributes(hass, f"requests_{AGENT}_error_rate")["errors_by_code"] == {
        "no_intent_match": 1,
        "no_valid_targets": 1,
    }
    assert float(overview_state(hass, "overall_error_rate")) == 50
