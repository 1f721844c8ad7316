"""Binary sensor platform: problems automations can trigger on."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.binary_sensor import (
    DOMAIN as BINARY_SENSOR_DOMAIN,
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .alert_entities import alert_binary_sensors, async_add_new_alerts
from .collectors.gpu import FIELD_THROTTLE, GpuInfo, GpuReading
from .coordinator import AIPerformanceConfigEntry, AIPerformanceCoordinator
from .engine.gpu import is_throttling
from .entity import (
    AIPerformanceGpuEntity,
    async_add_entities_removing_stale,
    async_add_new_keys,
    async_add_new_machine_entities,
    current_gpus,
)
from .server_entities import (
    async_add_new_models,
    model_binary_sensors,
    server_binary_sensors,
)
from .trend_entities import latency_anomaly_sensors

# Read-only: every value comes from the coordinator.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class GpuBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor of a GPU device: the NVML field it needs, and how to decide it."""

    field: str
    is_on_fn: Callable[[GpuReading], bool | None]
    attributes_fn: Callable[[GpuReading], dict[str, Any]]


GPU_BINARY_SENSORS: tuple[GpuBinarySensorEntityDescription, ...] = (
    GpuBinarySensorEntityDescription(
        key="throttling",
        translation_key="throttling",
        device_class=BinarySensorDeviceClass.PROBLEM,
        field=FIELD_THROTTLE,
        is_on_fn=lambda r: (
            None if r.throttle_reasons is None else is_throttling(r.throttle_reasons)
        ),
        attributes_fn=lambda r: {"reasons": list(r.throttle_reasons or ())},
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors each GPU supports, and those of each model server."""
    coordinator = entry.runtime_data.coordinator
    entities = gpu_binary_sensors(coordinator)
    entities.extend(alert_binary_sensors(coordinator))
    entities.extend(latency_anomaly_sensors(coordinator))
    async_add_entities_removing_stale(
        hass,
        entry,
        BINARY_SENSOR_DOMAIN,
        {None: entities, **server_binary_sensors(coordinator)},
        async_add_entities,
    )
    entry.async_on_unload(
        async_add_new_machine_entities(
            coordinator, async_add_entities, gpu_binary_sensors
        )
    )
    entry.async_on_unload(
        async_add_new_models(coordinator, async_add_entities, model_binary_sensors)
    )
    entry.async_on_unload(async_add_new_alerts(coordinator, async_add_entities))
    entry.async_on_unload(
        async_add_new_keys(
            coordinator,
            async_add_entities,
            lambda c: c.data.latency_checks,
            latency_anomaly_sensors,
        )
    )


def gpu_binary_sensors(
    coordinator: AIPerformanceCoordinator,
) -> list[BinarySensorEntity]:
    """Return the binary sensors of every GPU: NVML's and each AI host's."""
    return [
        GpuBinarySensor(coordinator, description, gpu)
        for gpu in current_gpus(coordinator)
        for description in GPU_BINARY_SENSORS
        if description.field in gpu.supported
    ]


class GpuBinarySensor(AIPerformanceGpuEntity, BinarySensorEntity):
    """A problem of one GPU."""

    entity_description: GpuBinarySensorEntityDescription

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: GpuBinarySensorEntityDescription,
        gpu: GpuInfo,
    ) -> None:
        """Initialise the binary sensor of ``gpu`` from its description."""
        super().__init__(coordinator, description, gpu, description.field)

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True while the problem is present."""
        reading = self.reading
        return None if reading is None else self.entity_description.is_on_fn(reading)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the active throttle reasons."""
        reading = self.reading
        return (
            None if reading is None else self.entity_description.attributes_fn(reading)
        )
