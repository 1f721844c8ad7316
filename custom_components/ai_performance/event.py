"""Event platform: one event entity that fires on every alert raised or cleared."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .alert_entities import AlertEventEntity
from .coordinator import AIPerformanceConfigEntry

# Events come from the alerts, never from a request to a device.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the alert event entity."""
    async_add_entities([AlertEventEntity(entry.runtime_data.coordinator)])
