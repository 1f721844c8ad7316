"""Nothing lost: totals survive a restart of Home Assistant, and count each request once."""

from typing import Any

from homeassistant import loader
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.ai_performance.const import DOMAIN
from custom_components.ai_performance.ledger import STORAGE_VERSION

from ..conftest import ENTRY_ID, setup_integration
from ..llm_agent import MODEL
from .conftest import PRICES
from .test_agents import sensor_state, settle_and_refresh
from .test_services import record

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
