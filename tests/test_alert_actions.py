"""The snooze_alert, acknowledge_alert and reset_statistics actions."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.const import DOMAIN

from .conftest import ENTRY_ID, setup_integration, tick
from .fake_pynvml import FakeGpu
from .test_alerts import ALERT_ID, ISSUE_ID, TEMPERATURE_ALERT, overheat, watching


async def act(hass: HomeAssistant, service: str, **data: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


@pytest.fixture
async def critical(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, gpu: FakeGpu
) -> None:
    """The GPU's temperature alert critical for 10 minutes, with its repair issue."""
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=12)
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_ON


@pytest.mark.usefixtures("critical")
async def test_snooze_by_entity_then_end_it_by_id(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    done = await act(hass, "snooze_alert", entity_id=TEMPERATURE_ALERT, minutes=30)
    await tick(hass, freezer)

    assert done == {"alert_id": ALERT_ID, "snoozed_minutes": 30}
    state = hass.states.get(TEMPERATURE_ALERT)
    assert state.state == STATE_OFF
    assert state.attributes["snoozed_until"] is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ID) is None

    await act(hass, "snooze_alert", alert_id=ALERT_ID, minutes=0)
    await tick(hass, freezer)
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_ON


@pytest.mark.usefixtures("critical")
async def test_acknowledge_keeps_the_alert_but_drops_its_issue_until_it_changes(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, gpu: FakeGpu
) -> None:
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, ISSUE_ID) is not None

    done = await act(hass, "acknowledge_alert", entity_id=TEMPERATURE_ALERT)
    state = hass.states.get(TEMPERATURE_ALERT)
    assert done == {"alert_id": ALERT_ID, "acknowledged": True}
    assert state.state == STATE_ON
    assert state.attributes["acknowledged"] is True
    await tick(hass, freezer)
    assert registry.async_get_issue(DOMAIN, ISSUE_ID) is None
    assert hass.states.get(TEMPERATURE_ALERT).attributes["acknowledged"] is True

    # Down to warning: a new severity, no longer acknowledged.
    gpu.temperature = 86
    await tick(hass, freezer)
    assert hass.states.get(TEMPERATURE_ALERT).attributes["acknowledged"] is False

    gpu.temperature = 60
    await tick(hass, freezer)
    with pytest.raises(ServiceValidationError) as caught:
        await act(hass, "acknowledge_alert", alert_id=ALERT_ID)
    assert caught.value.translation_key == "alert_not_raised"


@pytest.mark.parametrize(
    ("service", "data", "key", "named"),
    [
        ("snooze_alert", {}, "invalid_field", "entity_id or alert_id"),
        (
            "snooze_alert",
            {"entity_id": TEMPERATURE_ALERT, "alert_id": ALERT_ID},
            "invalid_field",
            "entity_id or alert_id",
        ),
        ("snooze_alert", {"alert_id": "nope"}, "unknown_alert", "nope"),
        (
            "snooze_alert",
            {"alert_id": ALERT_ID, "minutes": 20000},
            "invalid_field",
            "minutes",
        ),
        ("acknowledge_alert", {"entity_id": "sensor.x"}, "unknown_alert", "sensor.x"),
        (
            "acknowledge_alert",
            {"alert_id": ALERT_ID, "minutes": 5},
            "unknown_fields",
            "minutes",
        ),
    ],
)
@pytest.mark.usefixtures("critical")
async def test_alert_actions_refuse_bad_input(
    hass: HomeAssistant, service: str, data: dict[str, Any], key: str, named: str
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await act(hass, service, **data)
    assert caught.value.translation_key == key
    assert named in str(caught.value)
    assert hass.states.get(TEMPERATURE_ALERT).attributes["snoozed_until"] is None


async def _two_subjects(hass: HomeAssistant) -> None:
    for subject, tokens in (("rag", 100), ("search", 50)):
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": subject, "duration_ms": 900, "output_tokens": tokens},
            blocking=True,
        )


async def test_reset_says_what_it_would_reset_until_confirmed(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    await _two_subjects(hass)
    ledger = mock_config_entry.runtime_data.ledger

    with pytest.raises(ServiceValidationError) as caught:
        await act(hass, "reset_statistics", subject="rag")
    assert caught.value.translation_key == "confirm_reset"
    assert "of rag: 1 requests" in str(caught.value)
    assert ledger.subjects["rag"].totals.requests == 1

    done = await act(hass, "reset_statistics", subject="rag", confirm=True)

    assert done["reset"] == {
        "rag": {
            "requests": 1,
            "errors": 0,
            "input_tokens": 0,
            "output_tokens": 100,
            "cost": 0.0,
            "energy_wh": 0.0,
        }
    }
    assert ledger.subjects["rag"].totals.requests == 0
    assert len(ledger.subjects["rag"].log) == 0
    assert ledger.subjects["search"].totals.output_tokens == 50

    everything = await act(hass, "reset_statistics", confirm=True)
    assert set(everything["reset"]) == {"rag", "search"}
    assert ledger.subjects["search"].totals.requests == 0


async def test_reset_refuses_an_unknown_subject_and_non_administrators(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, hass_read_only_user: User
) -> None:
    await setup_integration(hass, mock_config_entry)
    await _two_subjects(hass)

    with pytest.raises(ServiceValidationError) as caught:
        await act(hass, "reset_statistics", subject="nobody", confirm=True)
    assert caught.value.translation_key == "unknown_subject"
    assert "rag, search" in str(caught.value)

    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "reset_statistics",
            {"confirm": True},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry.runtime_data.ledger.subjects["rag"].totals.requests == 1
