"""Base entity: one device per monitored subject, values read from the coordinator's Snapshot."""

from typing import override

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import AIPerformanceCoordinator


class AIPerformanceEntity(CoordinatorEntity[AIPerformanceCoordinator]):
    """An entity of one subject (the overview, the host, ...), fed by one source.

    With a ``source``, the entity is available only while that source delivers samples, so one
    failing source never makes the others' entities unavailable.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: EntityDescription,
        subject: str,
        source: str | None,
    ) -> None:
        """Initialise the entity of ``subject`` described by ``description``."""
        super().__init__(coordinator)
        self.entity_description = description
        self.subject = subject
        self.source = source
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = f"{entry_id}_{subject}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{entry_id}_{subject}")},
            entry_type=DeviceEntryType.SERVICE,
            translation_key=subject,
        )

    @property
    @override
    def available(self) -> bool:
        """Return True while the coordinator runs and this entity's source delivers."""
        return super().available and (
            self.source is None or self.coordinator.data.source_ok(self.source)
        )
