"""AI Performance Monitor: how the AI in a Home Assistant install performs."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .collectors import build_collectors
from .coordinator import (
    AIPerformanceConfigEntry,
    AIPerformanceCoordinator,
    AIPerformanceData,
)

PLATFORMS: list[Platform] = [Platform.SENSOR]

# Setup and unload return a boolean: Home Assistant 2026.10 requires one, and 2026.11 still accepts
# it from custom integrations. Return None once 2026.10 support is dropped.


async def async_setup_entry(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> bool:
    """Start the collectors, take the first snapshot and set up the platforms."""
    coordinator = AIPerformanceCoordinator(hass, entry, build_collectors(hass))
    # The coordinator stops its collectors on unload, also when this setup fails part way.
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = AIPerformanceData(coordinator=coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> bool:
    """Unload the platforms; the coordinator's shutdown then stops every collector."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
