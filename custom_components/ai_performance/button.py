"""Buttons on the overview device: benchmark, optimise now (dry run), create the dashboard."""

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import AIPerformanceConfigEntry
from .dashboard_entities import CreateDashboardButton
from .optimizer_entities import OptimizeButton, RunBenchmarkButton

# Presses run in tasks of their own (a benchmark in the background): no limit needed.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the overview's buttons."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        [
            RunBenchmarkButton(coordinator),
            OptimizeButton(coordinator),
            CreateDashboardButton(coordinator),
        ]
    )
