"""The sensor platform: entity metadata (snapshot) and availability per source."""

from datetime import timedelta
import json
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from syrupy.assertion import SnapshotAssertion

from .conftest import setup_integration


def _describe(
    hass: HomeAssistant, entity: er.RegistryEntry, devices: dr.DeviceRegistry
) -> dict[str, Any]:
    """The stable facts of an entity: what a user sees, minus the live value.

    Plain JSON types only, so that the snapshot reads the same on every Home Assistant version
    (enum classes and the registry's own fields differ between releases).
    """
    state = hass.states.get(entity.entity_id)
    assert state is not None
    device = devices.async_get(entity.device_id or "")
    assert device is not None
    facts = {
        "unique_id": entity.unique_id,
        "translation_key": entity.translation_key,
        "entity_category": entity.entity_category,
        "disabled_by": entity.disabled_by,
        "original_device_class": entity.original_device_class,
        "unit_of_measurement": entity.unit_of_measurement,
        "attributes": dict(state.attributes),
        "device": {
            "identifiers": sorted(device.identifiers),
            "name": device.name,
            "entry_type": device.entry_type,
        },
    }
    return json.loads(json.dumps(facts, default=str))


async def test_sensor_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    mock_config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_integration(hass, mock_config_entry)

    entities = er.async_entries_for_config_entry(
        entity_registry, mock_config_entry.entry_id
    )
    described = {
        e.entity_id: _describe(hass, e, device_registry)
        for e in sorted(entities, key=lambda e: e.entity_id)
    }

    assert described == snapshot


async def test_a_failing_source_makes_only_its_sensors_unavailable(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup_integration(hass, mock_config_entry)
    host_sensors = ("sensor.host_cpu_usage", "sensor.host_memory_usage")
    own_sensor = "sensor.ai_performance_collection_duration"

    with patch("psutil.virtual_memory", side_effect=OSError("/proc is gone")):
        freezer.tick(timedelta(seconds=31))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    assert all(hass.states.get(s).state == STATE_UNAVAILABLE for s in host_sensors)
    assert float(hass.states.get(own_sensor).state) >= 0

    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert all(0 <= float(hass.states.get(s).state) <= 100 for s in host_sensors)
