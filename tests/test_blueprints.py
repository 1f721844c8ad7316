"""The shipped blueprints load and behave in Home Assistant's own automation engine."""

from datetime import timedelta
from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

BLUEPRINTS = (
    Path(__file__).parent.parent / "blueprints" / "automation" / "ai_performance"
)
SENSOR = "sensor.host_memory_usage"


async def _automation_from_blueprint(hass: HomeAssistant) -> list[ServiceCall]:
    target = Path(hass.config.path("blueprints", "automation", "ai_performance"))
    await hass.async_add_executor_job(
        lambda: shutil.copytree(BLUEPRINTS, target, dirs_exist_ok=True)
    )
    calls = async_mock_service(hass, "test", "memory_high")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "ai_performance/host_resource_high.yaml",
                    "input": {
                        "sensor": SENSOR,
                        "threshold": 80,
                        "duration": {"minutes": 5},
                        "actions": [{"action": "test.memory_high"}],
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    return calls


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float
) -> None:
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_resource_high_runs_actions_after_the_duration(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    hass.states.async_set(SENSOR, "40")
    calls = await _automation_from_blueprint(hass)

    hass.states.async_set(SENSOR, "92")
    await _advance(hass, freezer, 4)
    assert calls == []

    await _advance(hass, freezer, 2)
    assert len(calls) == 1


async def test_resource_high_ignores_a_short_spike(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    hass.states.async_set(SENSOR, "40")
    calls = await _automation_from_blueprint(hass)

    hass.states.async_set(SENSOR, "95")
    await _advance(hass, freezer, 1)
    hass.states.async_set(SENSOR, "50")
    await _advance(hass, freezer, 10)

    assert calls == []
