"""The sensor platform: entity metadata (snapshot), values in users' units, availability."""

from datetime import timedelta
import json
import os
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import psutil
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.ai_performance.collectors import gpu as gpu_collector
from custom_components.ai_performance.collectors.gpu import GpuCollector
from custom_components.ai_performance.collectors.host import HostCollector

from .collectors.test_host import PSI_RESOURCES
from .conftest import setup_integration
from .fake_pynvml import FAN, FIELD_VALUES, GIB, FakeGpu, FakeNvml

# Above Linux's largest pid_max (2^22): never a live process, so it has no name.
NO_SUCH_PID = 4_194_305
# Vary from machine to machine: checked apart from the snapshot.
_MACHINE_DEPENDENT = (
    "cpu_core_usage",
    "cpu_pressure",
    "memory_pressure",
    "io_pressure",
)


def _describe(
    hass: HomeAssistant, entity: er.RegistryEntry, devices: dr.DeviceRegistry
) -> dict[str, Any]:
    """The stable facts of an entity: what a user sees, minus the live value.

    Plain JSON types only, so that the snapshot reads the same on every Home Assistant version
    (enum classes and the registry's own fields differ between releases).
    """
    state = hass.states.get(entity.entity_id)
    device = devices.async_get(entity.device_id or "")
    assert device is not None
    facts = {
        "unique_id": entity.unique_id,
        "translation_key": entity.translation_key,
        "entity_category": entity.entity_category,
        "disabled_by": entity.disabled_by,
        "original_device_class": entity.original_device_class,
        "unit_of_measurement": entity.unit_of_measurement,
        "attributes": None if state is None else dict(state.attributes),
        "device": {
            "identifiers": sorted(device.identifiers),
            "name": device.name,
            "entry_type": device.entry_type,
            "model": device.model,
            "sw_version": device.sw_version,
        },
    }
    return json.loads(json.dumps(facts, default=str))


@pytest.fixture
def two_gpus(nvml: FakeNvml) -> tuple[FakeGpu, FakeGpu]:
    """Plug two GPUs of the same model; the second has no fan and no memory temperature."""
    gpus = (
        FakeGpu(
            uuid="GPU-0000aaaa",
            compute_processes=[(NO_SUCH_PID, 5 * GIB)],
            graphics_processes=[(NO_SUCH_PID + 1, None)],
        ),
        FakeGpu(uuid="GPU-1111bbbb", unsupported={FAN, FIELD_VALUES}),
    )
    nvml.plug(*gpus)
    return gpus


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("entity_registry_enabled_by_default", "two_gpus")
async def test_sensor_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    mock_config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    # The machine's own CPU use would decide whether the CPU alert is pending (it is on a
    # busy machine): a fixed reading keeps the alert's attributes the same on every run.
    with patch.object(HostCollector, "_cpu_percent", return_value=12.5):
        await setup_integration(hass, mock_config_entry)

    entities = er.async_entries_for_config_entry(
        entity_registry, mock_config_entry.entry_id
    )
    described = {
        e.entity_id: _describe(hass, e, device_registry)
        for e in sorted(entities, key=lambda e: e.entity_id)
        if e.translation_key not in _MACHINE_DEPENDENT
    }

    assert described == snapshot


async def test_per_core_and_pressure_sensors_follow_the_machine(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    await setup_integration(hass, mock_config_entry)

    entries = er.async_entries_for_config_entry(
        entity_registry, mock_config_entry.entry_id
    )
    cores = [e for e in entries if e.translation_key == "cpu_core_usage"]
    pressure = {
        e.translation_key
        for e in entries
        if e.translation_key in _MACHINE_DEPENDENT[1:]
    }
    assert len(cores) == psutil.cpu_count()
    assert all(e.disabled_by is er.RegistryEntryDisabler.INTEGRATION for e in cores)
    assert pressure == {f"{r}_pressure" for r in PSI_RESOURCES}


@pytest.mark.usefixtures("two_gpus")
async def test_gpu_values_are_in_users_units(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    gpu0 = "sensor.nvidia_geforce_rtx_4090_gpu_0"

    assert _state(hass, f"{gpu0}_power") == "215.5"  # 215 500 mW
    assert _state(hass, f"{gpu0}_power_limit") == "450.0"
    assert float(_state(hass, f"{gpu0}_energy")) == pytest.approx(2.0)  # 7.2e9 mJ
    assert float(_state(hass, f"{gpu0}_vram_used")) == pytest.approx(6.0)  # GiB
    assert float(_state(hass, f"{gpu0}_vram_free")) == pytest.approx(18.0)
    assert float(_state(hass, f"{gpu0}_vram_total")) == pytest.approx(24.0)
    assert _state(hass, f"{gpu0}_sm_clock") == "2520"
    assert _state(hass, f"{gpu0}_temperature") == "61"
    assert _state(hass, f"{gpu0}_memory_temperature") == "70"
    assert _state(hass, f"{gpu0}_gpu_utilization") == "37"
    assert _state(hass, f"{gpu0}_performance_state") == "p2"
    assert _state(hass, f"{gpu0}_throttle_reason") == "none"
    energy = hass.states.get(f"{gpu0}_energy")
    assert energy is not None
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert energy.attributes["device_class"] == "energy"


async def test_processes_sensor_lists_who_holds_vram(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    two_gpus: tuple[FakeGpu, FakeGpu],
) -> None:
    gpu0, _ = two_gpus
    gpu0.graphics_processes = [(os.getpid(), None), (NO_SUCH_PID, 1 * GIB)]
    await setup_integration(hass, mock_config_entry)

    state = hass.states.get("sensor.nvidia_geforce_rtx_4090_gpu_0_processes")

    assert state is not None
    assert state.state == "2"
    # Biggest holder first; listed twice (compute and graphics) counts once with the larger
    # size; a pid outside our namespace has no name; memory the driver cannot tell is None.
    assert state.attributes["processes"] == [
        {"pid": NO_SUCH_PID, "name": None, "gpu_memory_mib": 5120},
        {"pid": os.getpid(), "name": psutil.Process().name(), "gpu_memory_mib": None},
    ]


@pytest.mark.usefixtures("two_gpus")
async def test_process_list_is_kept_out_of_the_recorder(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    registry = er.async_get(hass)
    entity_id = "sensor.nvidia_geforce_rtx_4090_gpu_0_processes"
    entity = hass.data["entity_components"]["sensor"].get_entity(entity_id)

    assert entity is not None
    assert registry.async_get(entity_id) is not None
    assert "processes" in entity._unrecorded_attributes
    assert "processes" in entity._Entity__combined_unrecorded_attributes


@pytest.mark.usefixtures("two_gpus")
async def test_unsupported_fields_have_no_entity(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    assert hass.states.get("sensor.nvidia_geforce_rtx_4090_gpu_0_fan_speed") is not None
    assert hass.states.get("sensor.nvidia_geforce_rtx_4090_gpu_1_fan_speed") is None
    assert (
        hass.states.get("sensor.nvidia_geforce_rtx_4090_gpu_1_memory_temperature")
        is None
    )
    assert (
        hass.states.get("sensor.nvidia_geforce_rtx_4090_gpu_1_temperature") is not None
    )


async def test_one_gpu_is_named_by_its_model_alone(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    nvml: FakeNvml,
    device_registry: dr.DeviceRegistry,
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-solo", name="NVIDIA RTX A4000", memory_total=16 * GIB))
    await setup_integration(hass, mock_config_entry)

    device = device_registry.async_get_device_by_identifier(
        ("ai_performance", f"{mock_config_entry.entry_id}_gpu_GPU-solo"),
        mock_config_entry.entry_id,
    )
    assert device is not None
    assert device.name == "NVIDIA RTX A4000"
    assert device.model == "NVIDIA RTX A4000, 16 GiB"
    assert device.sw_version == "Driver 580.95.05, CUDA 13.0"
    assert device.serial_number == "GPU-solo"
    assert _state(hass, "sensor.nvidia_rtx_a4000_gpu_utilization") == "37"


@pytest.mark.usefixtures("two_gpus")
async def test_a_failing_source_makes_only_its_sensors_unavailable(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup_integration(hass, mock_config_entry)
    host_sensors = ("sensor.host_cpu_usage", "sensor.host_memory_usage")
    gpu_sensor = "sensor.nvidia_geforce_rtx_4090_gpu_0_gpu_utilization"
    own_sensor = "sensor.ai_performance_collection_duration"

    with patch("psutil.virtual_memory", side_effect=OSError("/proc is gone")):
        await _tick(hass, freezer)

    assert all(_state(hass, s) == STATE_UNAVAILABLE for s in host_sensors)
    assert _state(hass, gpu_sensor) == "37"
    assert float(_state(hass, own_sensor)) >= 0

    with patch.object(GpuCollector, "_poll", side_effect=RuntimeError("NVML crashed")):
        await _tick(hass, freezer)

    assert _state(hass, gpu_sensor) == STATE_UNAVAILABLE
    assert all(0 <= float(_state(hass, s)) <= 100 for s in host_sensors)

    await _tick(hass, freezer)

    assert _state(hass, gpu_sensor) == "37"


async def test_a_lost_gpu_goes_unavailable_then_its_device_is_removed(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    two_gpus: tuple[FakeGpu, FakeGpu],
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    gpu0, _ = two_gpus
    await setup_integration(hass, mock_config_entry)
    lost = "sensor.nvidia_geforce_rtx_4090_gpu_0_gpu_utilization"
    kept = "sensor.nvidia_geforce_rtx_4090_gpu_1_gpu_utilization"
    identifier = ("ai_performance", f"{mock_config_entry.entry_id}_gpu_{gpu0.uuid}")

    gpu0.lost = True
    await _tick(hass, freezer)

    assert _state(hass, lost) == STATE_UNAVAILABLE
    assert _state(hass, kept) == "37"
    assert (
        device_registry.async_get_device_by_identifier(
            identifier, mock_config_entry.entry_id
        )
        is not None
    )

    with patch.object(gpu_collector, "LOST_GPU_GRACE", 0.0):  # the grace period is over
        await _tick(hass, freezer)

    assert (
        device_registry.async_get_device_by_identifier(
            identifier, mock_config_entry.entry_id
        )
        is None
    )
    assert hass.states.get(lost) is None
    assert _state(hass, kept) == "37"
