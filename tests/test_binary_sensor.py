"""The binary sensor platform: a GPU's throttling problem."""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from .conftest import setup_integration
from .fake_pynvml import THROTTLE, FakeGpu, FakeNvml

THROTTLING = "binary_sensor.nvidia_geforce_rtx_4090_throttling"
REASON = "sensor.nvidia_geforce_rtx_4090_throttle_reason"


async def test_throttling_is_a_problem_only_when_the_gpu_is_slowed_down(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    nvml: FakeNvml,
    freezer: FrozenDateTimeFactory,
) -> None:
    gpu = FakeGpu(uuid="GPU-a", throttle_mask=0x01)  # idle: clocks down, nothing wrong
    nvml.plug(gpu)
    await setup_integration(hass, mock_config_entry)

    idle = hass.states.get(THROTTLING)
    assert idle is not None
    assert idle.state == STATE_OFF
    assert idle.attributes["device_class"] == "problem"
    assert hass.states.get(REASON).state == "gpu_idle"

    gpu.throttle_mask = 0x04 | 0x20  # power cap and software thermal slowdown
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)

    throttled = hass.states.get(THROTTLING)
    assert throttled.state == STATE_ON
    assert throttled.attributes["reasons"] == ["sw_thermal_slowdown", "sw_power_cap"]
    reason = hass.states.get(REASON)
    assert reason.state == "sw_thermal_slowdown"
    assert reason.attributes["reasons"] == ["sw_thermal_slowdown", "sw_power_cap"]


async def test_no_throttle_entities_where_the_card_cannot_tell(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a", unsupported={THROTTLE}))
    await setup_integration(hass, mock_config_entry)

    assert hass.states.get(THROTTLING) is None
    assert hass.states.get(REASON) is None
    assert hass.states.get("sensor.nvidia_geforce_rtx_4090_gpu_utilization") is not None
