"""Alert entities: a problem sensor per rule and subject, health, and the alert event entity."""

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Final, override

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .alert_rules import RULES_BY_KEY, RuleKey
from .alerts import EVENT_TYPES
from .collectors.ai_host import NodeExporterCollector
from .collectors.base import (
    device_identifier,
    gpu_subject,
    request_subject,
    source_name,
)
from .collectors.requests import RequestsSample
from .const import SOURCE_REQUESTS, SUBJECT_HOST, SUBJECT_OVERVIEW
from .coordinator import AIPerformanceCoordinator
from .engine.alerts import AlertLevel, AlertStatus
from .engine.snapshot import Snapshot
from .entity import (
    AIPerformanceEntity,
    OverviewEntity,
    ai_host_collectors,
    ai_host_device_info,
    async_add_new_keys,
    current_gpus,
    gpu_device_info,
    host_device_info,
    overview_device_info,
)
from .issues import with_unit
from .request_sensors import subject_device_info as request_subject_device_info

ATTR_SEVERITY: Final = "severity"
ATTR_VALUE: Final = "value"
ATTR_READING: Final = "reading"
ATTR_COVERED_BY: Final = "covered_by"
ATTR_SUBJECTS: Final = "subjects"
HEALTH_OK: Final = "ok"
HEALTH_DEGRADED: Final = "degraded"
HEALTH_CRITICAL: Final = "critical"
# The newest alerts listed in the active alerts sensor's attribute (the count has them all).
MAX_LISTED_ALERTS: Final = 20


def subject_device_info(
    coordinator: AIPerformanceCoordinator, subject: str
) -> DeviceInfo:
    """Return the device of ``subject``, as the entities of that subject describe it."""
    entry_id = coordinator.config_entry.entry_id
    snapshot = coordinator.data
    if subject == SUBJECT_OVERVIEW:
        return overview_device_info(entry_id)
    if subject == SUBJECT_HOST:
        return host_device_info(entry_id)
    for gpu in current_gpus(coordinator):
        if subject == gpu_subject(gpu.uuid):
            return gpu_device_info(coordinator.hass, entry_id, gpu)
    for collector in ai_host_collectors(coordinator):
        if subject == collector.subject and isinstance(
            collector, NodeExporterCollector
        ):
            return ai_host_device_info(entry_id, collector)
    requests = snapshot.sample(SOURCE_REQUESTS, RequestsSample)
    for key, stats in (requests.subjects if requests else {}).items():
        if subject == request_subject(key):
            return request_subject_device_info(coordinator, stats)
    # Not in this snapshot (its source failed): link to the device it already has.
    return DeviceInfo(identifiers={device_identifier(entry_id, subject)})


ALERT_BINARY_SENSORS: Final = {
    rule: BinarySensorEntityDescription(
        key=f"{rule}_alert",
        translation_key=f"{rule}_alert",
        device_class=BinarySensorDeviceClass.PROBLEM,
    )
    for rule in RuleKey
}
# The configuration directory's disk has a name of its own, as its sensors do.
CONFIG_DISK_ALERT: Final = BinarySensorEntityDescription(
    key="config_disk_alert",
    translation_key="config_disk_alert",
    device_class=BinarySensorDeviceClass.PROBLEM,
)
HEALTH: Final = SensorEntityDescription(
    key="health",
    translation_key="health",
    device_class=SensorDeviceClass.ENUM,
    options=[HEALTH_OK, HEALTH_DEGRADED, HEALTH_CRITICAL],
)
ACTIVE_ALERTS: Final = SensorEntityDescription(
    key="active_alerts",
    translation_key="active_alerts",
    state_class=SensorStateClass.MEASUREMENT,
)
ALERT_EVENTS: Final = EventEntityDescription(
    key="alerts", translation_key="alerts", event_types=list(EVENT_TYPES)
)


class AlertBinarySensor(AIPerformanceEntity, BinarySensorEntity):
    """On while one rule's alert is raised for one subject (and not snoozed)."""

    # The measured value changes every tick while an alert is pending or raised.
    _unrecorded_attributes = frozenset(
        {ATTR_VALUE, ATTR_READING, ATTR_COVERED_BY, ATTR_SUBJECTS}
    )

    def __init__(self, coordinator: AIPerformanceCoordinator, key: str) -> None:
        """Initialise the sensor of alert ``key``."""
        status = coordinator.data.alerts[key]
        rule = RuleKey(status.rule)
        description = ALERT_BINARY_SENSORS[rule]
        if status.item == coordinator.hass.config.config_dir:
            description = CONFIG_DISK_ALERT
        elif status.item:  # one per other disk, named by its mount point
            description = replace(description, key=f"{description.key}_{status.item}")
            self._attr_translation_placeholders = {"mount": status.item}
        super().__init__(
            coordinator,
            description,
            subject=status.subject,
            device_info=subject_device_info(coordinator, status.subject),
            need=None,
        )
        self.alert_key = key
        self._unit = coordinator.config_entry.runtime_data.alerts.units.get(rule)
        self._recommendation = RULES_BY_KEY[rule].recommendation

    @override
    async def async_added_to_hass(self) -> None:
        """Let the alert actions find this alert by its entity id."""
        await super().async_added_to_hass()
        alerts = self.coordinator.config_entry.runtime_data.alerts
        entity_id = self.entity_id
        alerts.entity_alerts[entity_id] = self.alert_key

        @callback
        def forget() -> None:
            alerts.entity_alerts.pop(entity_id, None)

        self.async_on_remove(forget)

    @property
    def status(self) -> AlertStatus | None:
        """Return this alert's status after the last tick; None once its subject is gone."""
        return self.coordinator.data.alerts.get(self.alert_key)

    @property
    @override
    def available(self) -> bool:
        """Return True while the alert exists."""
        return super().available and self.status is not None

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True while the alert is raised."""
        status = self.status
        return None if status is None else status.raised

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the severity, the value against its threshold, since when, and what to do."""
        status = self.status
        if status is None:
            return None
        watching = status.level is not AlertLevel.OK
        attributes: dict[str, Any] = {
            ATTR_SEVERITY: status.severity,
            "level": status.level,
            ATTR_VALUE: status.value if watching else None,
            # The value with its unit, as a tile shows it beside the severity ("3250 ms").
            ATTR_READING: with_unit(status.value, self._unit or "")
            if watching
            else None,
            "threshold": status.threshold,
            "unit": self._unit,
            "since": _datetime(status.since) if watching else None,
            "snoozed_until": _datetime(status.snoozed_until),
            "acknowledged": status.acknowledged,
            "recommendation": self._recommendation if status.raised else None,
        }
        if status.subject == SUBJECT_OVERVIEW:
            # Quiet while these subjects' own alerts are raised; the subjects whose own
            # figure misses the target.
            attributes[ATTR_COVERED_BY] = list(status.covered_by)
            attributes[ATTR_SUBJECTS] = list(status.subjects)
        return attributes


def _datetime(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt_util.utc_from_timestamp(timestamp).isoformat()


def alert_binary_sensors(
    coordinator: AIPerformanceCoordinator, keys: Iterable[str] | None = None
) -> list[AlertBinarySensor]:
    """Return the binary sensors of alerts ``keys`` (every alert when None)."""
    wanted = coordinator.data.alerts if keys is None else keys
    return [AlertBinarySensor(coordinator, key) for key in wanted]


@callback
def async_add_new_alerts(
    coordinator: AIPerformanceCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> Callable[[], None]:
    """Add the binary sensor of each alert that appears (a new agent, a new GPU)."""
    return async_add_new_keys(
        coordinator,
        async_add_entities,
        lambda c: c.data.alerts,
        alert_binary_sensors,
    )


# --- The overview: how many alerts, and one word for everything -------------------------------


def health(snapshot: Snapshot) -> str:
    """Return critical with any critical alert, degraded with a warning or a failing source."""
    severities = {status.severity for status in snapshot.alerts.values()}
    if AlertLevel.CRITICAL in severities:
        return HEALTH_CRITICAL
    if AlertLevel.WARNING in severities or not all(
        result.ok for result in snapshot.sources.values()
    ):
        return HEALTH_DEGRADED
    return HEALTH_OK


def raised_alerts(snapshot: Snapshot) -> list[AlertStatus]:
    """Return the raised alerts, critical first, then the newest first."""
    raised = [status for status in snapshot.alerts.values() if status.raised]
    return sorted(
        raised,
        key=lambda s: (s.level is not AlertLevel.CRITICAL, -(s.since or 0.0)),
    )


class HealthSensor(OverviewEntity, SensorEntity):
    """Ok, degraded or critical: everything we watch, in one word."""

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Initialise the sensor on the overview device."""
        super().__init__(coordinator, HEALTH)

    @property
    @override
    def native_value(self) -> StateType:
        """Return the health after the last tick."""
        return health(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the sources not delivering now, as logs name them (a server's title)."""
        failing = {k for k, r in self.coordinator.data.sources.items() if not r.ok}
        return {
            "failing_sources": sorted(
                source_name(c) for c in self.coordinator.collectors if c.key in failing
            )
        }


class ActiveAlertsSensor(OverviewEntity, SensorEntity):
    """How many alerts are raised, listing them."""

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Initialise the sensor on the overview device."""
        super().__init__(coordinator, ACTIVE_ALERTS)

    @property
    @override
    def native_value(self) -> StateType:
        """Return the number of raised alerts."""
        return len(raised_alerts(self.coordinator.data))

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the raised alerts, critical first."""
        return {
            "alerts": [
                {
                    "rule": status.rule,
                    "name": status.name,
                    "severity": status.severity,
                    "since": _datetime(status.since),
                }
                for status in raised_alerts(self.coordinator.data)[:MAX_LISTED_ALERTS]
            ]
        }


def alert_sensors(coordinator: AIPerformanceCoordinator) -> list[SensorEntity]:
    """Return the overview's health and active alerts sensors."""
    return [HealthSensor(coordinator), ActiveAlertsSensor(coordinator)]


class AlertEventEntity(OverviewEntity, EventEntity):
    """Fires alert_raised and alert_cleared, with the alert's data."""

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Initialise the event entity on the overview device."""
        super().__init__(coordinator, ALERT_EVENTS)

    @override
    async def async_added_to_hass(self) -> None:
        """Listen to the alerts until removed."""
        await super().async_added_to_hass()
        manager = self.coordinator.config_entry.runtime_data.alerts
        self.async_on_remove(manager.async_add_listener(self._async_alert))

    @callback
    def _async_alert(self, event_type: str, data: dict[str, Any]) -> None:
        self._trigger_event(event_type, data)
        self.async_write_ha_state()
