"""Automations made from the shipped blueprints, in Home Assistant's own automation engine."""

from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_fire_time_changed

BLUEPRINTS = (
    Path(__file__).parent.parent.parent / "blueprints" / "automation" / "ai_performance"
)


async def use_blueprint(hass: HomeAssistant, name: str, **inputs: Any) -> None:
    """Install the shipped blueprints and set up one automation from ``name`` with ``inputs``."""
    target = Path(hass.config.path("blueprints", "automation", "ai_performance"))
    await hass.async_add_executor_job(
        lambda: shutil.copytree(BLUEPRINTS, target, dirs_exist_ok=True)
    )
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": name,
                "alias": name.removesuffix(".yaml"),
                "use_blueprint": {"path": f"ai_performance/{name}", "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get(f"automation.{name.removesuffix('.yaml')}")
    # An automation whose blueprint or inputs do not validate is created unavailable.
    assert state is not None, hass.states.async_entity_ids("automation")
    assert state.state == "on", state


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float
) -> None:
    """Let ``minutes`` pass, firing the time listeners on the way."""
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
