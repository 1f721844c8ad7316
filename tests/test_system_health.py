"""System health: each source's status and our own cost."""

import asyncio
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    get_system_health_info,
)

from custom_components.ai_performance.collectors.gpu import NVML_LOCK_WAIT
from custom_components.ai_performance.const import DOMAIN

from .conftest import setup_integration
from .fake_pynvml import FakeGpu, FakeNvml


async def _info(hass: HomeAssistant) -> dict[str, Any]:
    assert await async_setup_component(hass, "system_health", {})
    await hass.async_block_till_done()
    return await get_system_health_info(hass, DOMAIN)


async def test_without_nvml_it_says_so(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    info = await _info(hass)

    assert info["host"] == "ok"
    assert info["gpu"] == (
        "no NVIDIA GPU monitoring here (NVML Shared Library Not Found)"
    )
    assert info["nvml_version"] == "not loaded"
    assert info["requests"] == "ok"
    assert info["collection_duration"].endswith(" ms")
    assert info["loop_overhead"].endswith(" %")
    assert info["executor_overhead"].endswith(" %")


async def test_gpus_with_one_lost(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, nvml: FakeNvml
) -> None:
    lost = FakeGpu(uuid="GPU-b")
    nvml.plug(FakeGpu(uuid="GPU-a"), lost)
    await setup_integration(hass, mock_config_entry)
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    assert await _info(hass)

    lost.lost = True
    await mock_config_entry.runtime_data.coordinator.async_refresh()
    info = await _info(hass)

    assert info["gpu"] == "2 GPU(s), driver 580.95.05, CUDA 13.0, 1 failing"
    assert info["nvml_version"] == "13.580.95.05"


async def test_a_driver_without_gpus(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, nvml: FakeNvml
) -> None:
    nvml.library = True
    await setup_integration(hass, mock_config_entry)

    assert (await _info(hass))["gpu"] == "no GPU found"


async def test_a_failing_source_is_reported(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"))
    await setup_integration(hass, mock_config_entry)
    coordinator = mock_config_entry.runtime_data.coordinator
    collector = next(c for c in coordinator.collectors if c.key == "gpu")
    collector._poll_lock.acquire()  # a poll that never ends
    await coordinator.async_refresh()  # published without the GPU, still waiting
    await asyncio.sleep(NVML_LOCK_WAIT + 0.2)  # the GPU gives up waiting
    # Its late answer lands (the next poll waits for the lock again).
    await coordinator.async_refresh()
    collector._poll_lock.release()

    assert (await _info(hass))["gpu"].startswith("failing: GpuBusyError")


async def test_nothing_once_unloaded(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    assert await _info(hass)

    await hass.config_entries.async_unload(mock_config_entry.entry_id)

    assert await _info(hass) == {}
