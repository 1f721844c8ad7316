"""Fixtures for the blueprint tests."""

from collections.abc import AsyncGenerator

from homeassistant.core import HomeAssistant
import pytest


@pytest.fixture(autouse=True)
async def automations_off_at_the_end(hass: HomeAssistant) -> AsyncGenerator[None]:
    """Turn every automation off after the test, as Home Assistant does when it stops.

    A time trigger always has its next time scheduled; turning off detaches it.
    """
    yield
    if hass.services.has_service("automation", "turn_off"):
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": "all"}, blocking=True
        )
