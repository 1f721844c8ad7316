"""Sensor platform: every KPI as a sensor with device class, unit and state class."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .collectors.host import HostSample
from .const import SOURCE_HOST, SUBJECT_HOST, SUBJECT_OVERVIEW
from .coordinator import AIPerformanceConfigEntry, AIPerformanceCoordinator
from .engine.snapshot import Snapshot
from .entity import AIPerformanceEntity

# Read-only: every value comes from the coordinator.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class AIPerformanceSensorEntityDescription(SensorEntityDescription):
    """A sensor: which subject's device it belongs to, its source, and how to read its value."""

    subject: str
    source: str | None
    value_fn: Callable[[Snapshot, str], StateType]


def _host_percentage(
    key: str, read: Callable[[HostSample], float]
) -> AIPerformanceSensorEntityDescription:
    """Describe a host utilisation sensor (%), read from the host source's sample."""
    return AIPerformanceSensorEntityDescription(
        key=key,
        translation_key=key,
        subject=SUBJECT_HOST,
        source=SOURCE_HOST,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda snapshot, _: (
            read(sample)
            if (sample := snapshot.sample(SOURCE_HOST, HostSample))
            else None
        ),
    )


SENSORS: tuple[AIPerformanceSensorEntityDescription, ...] = (
    AIPerformanceSensorEntityDescription(
        key="collection_duration",
        translation_key="collection_duration",
        subject=SUBJECT_OVERVIEW,
        source=None,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda snapshot, _: snapshot.collection_ms,
    ),
    _host_percentage("cpu_usage", lambda sample: sample.cpu_percent),
    _host_percentage("memory_usage", lambda sample: sample.memory_percent),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every description."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        AIPerformanceSensor(coordinator, description) for description in SENSORS
    )


class AIPerformanceSensor(AIPerformanceEntity, SensorEntity):
    """A KPI of one subject."""

    entity_description: AIPerformanceSensorEntityDescription

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: AIPerformanceSensorEntityDescription,
    ) -> None:
        """Initialise the sensor from its description."""
        super().__init__(
            coordinator, description, description.subject, description.source
        )

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value from the latest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data, self.subject)
