"""Host resource stays high: actions only after the value has stayed past the threshold."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
from pytest_homeassistant_custom_component.common import async_mock_service

from .helpers import advance, use_blueprint

SENSOR = "sensor.host_memory_usage"


async def _automation(hass: HomeAssistant) -> list[ServiceCall]:
    calls = async_mock_service(hass, "test", "memory_high")
    await use_blueprint(
        hass,
        "host_resource_high.yaml",
        sensor=SENSOR,
        threshold=80,
        duration={"minutes": 5},
        actions=[{"action": "test.memory_high"}],
    )
    return calls


async def test_resource_high_runs_actions_after_the_duration(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    hass.states.async_set(SENSOR, "40")
    calls = await _automation(hass)

    hass.states.async_set(SENSOR, "92")
    await advance(hass, freezer, 4)
    assert calls == []

    await advance(hass, freezer, 2)
    assert len(calls) == 1


async def test_resource_high_ignores_a_short_spike(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    hass.states.async_set(SENSOR, "40")
    calls = await _automation(hass)

    hass.states.async_set(SENSOR, "95")
    await advance(hass, freezer, 1)
    hass.states.async_set(SENSOR, "50")
    await advance(hass, freezer, 10)

    assert calls == []
