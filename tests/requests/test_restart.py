"""Nothing lost: totals, windowed figures and alert timers survive reloads and restarts."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant import loader
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)

from custom_components.ai_performance.const import DOMAIN
from custom_components.ai_performance.engine.requests import RequestLog
from custom_components.ai_performance.ledger import LOG_SAVE_INTERVAL_S, STORAGE_VERSION

from ..conftest import ENTRY_ID, our_entry, setup_integration, tick
from ..llm_agent import MODEL
from .conftest import PRICES
from .test_agents import sensor_state, settle_and_refresh
from .test_services import record

# A minute and a half before an hour ends: hours of service levels close during the tests.
BEFORE_AN_HOUR_ENDS = "2026-12-01T09:58:30+00:00"
# Ten output tokens of the priced model, three times.
COST = 3 * 10 * PRICES[MODEL]["output"] / 1e6


async def test_totals_survive_a_restart(
    hass: HomeAssistant,
    priced_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await setup_integration(hass, priced_entry)
    for duration in (100, 200, 300):
        await record(
            hass, subject="rag", duration_ms=duration, output_tokens=10, model=MODEL
        )
    # Stopping flushes the debounced save.
    await hass.async_stop(force=True)
    saved = hass_storage[f"{DOMAIN}.{ENTRY_ID}.requests"]
    assert saved["version"] == STORAGE_VERSION
    assert saved["data"]["subjects"]["rag"]["totals"]["requests"] == 3
    assert saved["data"]["monthly_spend"]["cost"] == pytest.approx(COST)

    async with async_test_home_assistant() as restarted:
        restarted.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # let it load ours
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=DOMAIN,
            entry_id=ENTRY_ID,
            title="AI Performance",
            options=priced_entry.options,
        )
        await setup_integration(restarted, entry)
        # The device and its counters are back before any new request.
        assert sensor_state(restarted, "rag", "requests") == "3"
        assert sensor_state(restarted, "rag", "output_tokens") == "30"
        assert float(sensor_state(restarted, "rag", "cost")) == pytest.approx(COST)
        month_cost = restarted.states.get("sensor.ai_performance_cost_this_month")
        assert month_cost is not None
        assert float(month_cost.state) == pytest.approx(COST)
        await record(restarted, subject="rag", duration_ms=50)
        await settle_and_refresh(restarted, entry)
        assert sensor_state(restarted, "rag", "requests") == "4"
        await restarted.config_entries.async_unload(entry.entry_id)
        # Unloading writes at once.
        assert (
            hass_storage[f"{DOMAIN}.{ENTRY_ID}.requests"]["data"]["subjects"]["rag"][
                "totals"
            ]["requests"]
            == 4
        )
        await restarted.async_stop(force=True)


def figures(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Return the state and attributes of every request figure and request alert."""
    measured = ("_requests_", "_overview_overall_", "_overview_sla_", "_overview_avail")
    shown = {}
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        if entity.disabled:
            continue
        if any(part in entity.unique_id for part in measured) or (
            entity.domain == "binary_sensor" and "rag" in entity.unique_id
        ):
            state = hass.states.get(entity.entity_id)
            assert state is not None, entity.entity_id
            shown[entity.entity_id] = (state.state, dict(state.attributes))
    return shown


async def optimize(hass: HomeAssistant) -> Any:
    """Return what the optimize action finds, as Developer Tools shows it."""
    return await hass.services.async_call(
        DOMAIN, "optimize", {}, blocking=True, return_response=True
    )


async def report_requests(hass: HomeAssistant, count: int) -> None:
    """Report ``count`` requests under "rag", every third one failed."""
    for n in range(count):
        await record(
            hass,
            subject="rag",
            duration_ms=100 + 37 * n,
            ttft_ms=20 + n,
            output_tokens=40 + n,
            input_tokens=500,
            cached_input_tokens=100 * (n % 4),
            error="timeout" if n % 3 == 0 else None,
        )


async def test_a_reload_changes_no_figure_and_keeps_a_pending_alerts_timer(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, priced_entry: MockConfigEntry
) -> None:
    freezer.move_to(
        BEFORE_AN_HOUR_ENDS
    )  # the service levels' hour closes before the reload
    await setup_integration(hass, priced_entry)
    await report_requests(hass, 12)
    await tick(hass, freezer, 60)
    await tick(hass, freezer, 60)  # the error-rate alert of "rag" is pending now
    alert = "binary_sensor.rag_error_rate_alert"
    assert hass.states.get(alert).attributes["level"] == "pending"
    before = figures(hass, priced_entry)
    assert before["sensor.rag_latency_p95"][0] not in ("unknown", "unavailable")

    # An options save reloads the entry.
    await hass.config_entries.async_reload(priced_entry.entry_id)
    await hass.async_block_till_done()

    assert figures(hass, priced_entry) == before
    # The alert is due 5 minutes after the errors began, as if no reload happened.
    for _ in range(3):
        await tick(hass, freezer, 60)
    assert hass.states.get(alert).attributes["level"] == "pending"
    await tick(hass, freezer, 60)
    assert hass.states.get(alert).state == "on"


async def test_a_restart_changes_no_windowed_figure(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    priced_entry: MockConfigEntry,
) -> None:
    freezer.move_to(
        BEFORE_AN_HOUR_ENDS
    )  # the service levels' hour closes before the stop
    await setup_integration(hass, priced_entry)
    await report_requests(hass, 30)
    await tick(hass, freezer, 15 * 60)  # every request is 15 minutes old
    before = figures(hass, priced_entry)
    advice_before = await optimize(hass)
    await hass.async_stop(force=True)

    async with async_test_home_assistant() as restarted:
        restarted.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # let it load ours
        entry = our_entry(dict(priced_entry.options))
        await setup_integration(restarted, entry)
        await tick(restarted, None, 0)

        after = figures(restarted, entry)
        advice_after = await optimize(restarted)
        await restarted.async_stop(force=True)
    assert after == before
    # The optimiser reads the same day of requests as the sensors.
    assert advice_after == advice_before
    assert "10 of 30 requests" in advice_before["recommendations"][0]["rationale"]


async def test_the_request_logs_are_saved_every_five_minutes_without_a_stop(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    priced_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    # A crash (no unload, no stop) loses at most the requests of the last save interval.
    await setup_integration(hass, priced_entry)
    await report_requests(hass, 4)
    key = f"{DOMAIN}.{ENTRY_ID}.request_logs"
    assert key not in hass_storage

    freezer.tick(LOG_SAVE_INTERVAL_S)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    saved = RequestLog.restored(hass_storage[key]["data"]["logs"]["rag"])
    assert len(saved) == 4


async def test_removing_the_integration_leaves_nothing_saved_behind(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    priced_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await setup_integration(hass, priced_entry)
    await report_requests(hass, 12)
    await tick(hass, freezer, 60)
    await hass.config_entries.async_unload(priced_entry.entry_id)
    ours = f"{DOMAIN}.{ENTRY_ID}."
    assert {key for key in hass_storage if key.startswith(ours)} >= {
        f"{ours}requests",
        f"{ours}request_logs",
    }

    await hass.config_entries.async_remove(priced_entry.entry_id)
    await hass.async_block_till_done()

    assert [key for key in hass_storage if key.startswith(ours)] == []
