"""The electricity price, read where the user already set it: Home Assistant's Energy settings.

Local inference costs what the GPU's energy costs. The price comes from the grid source of the
Energy dashboard's settings (a fixed price, or an entity whose state is the current price, as
Home Assistant's own energy cost sensors read it), so a tariff that changes by the hour prices
each request at its hour. The price in our options is only the fallback for installs that track
no grid. Prices in Wh or MWh are converted to kWh, as the Energy dashboard does.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Any, Final

from homeassistant.components.energy.data import async_get_manager
from homeassistant.core import HomeAssistant

from .const import LOGGER

ENERGY: Final = "energy"
# The price units the Energy dashboard converts, per kWh.
_PER_KWH: Final = {"/kwh": 1.0, "/wh": 1000.0, "/mwh": 0.001}


class PriceSource(StrEnum):
    """Where the price came from."""

    ENERGY_SETTINGS = "energy_settings"
    OPTIONS = "options"


@dataclass(frozen=True, slots=True)
class ElectricityPrice:
    """How to read the current price of 1 kWh, and where it comes from."""

    source: PriceSource
    read: Callable[[], float | None]
    # The price entity of the Energy settings, where the price is one.
    entity_id: str | None = None


def _grid_flows(preferences: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """Return the grid imports of the Energy settings, in both of their formats.

    Up to 2025 a grid source held a list of imports (``flow_from``); newer releases keep one
    import per grid source, with the price on the source itself.
    """
    for source in preferences.get("energy_sources") or ():
        if source.get("type") != "grid":
            continue
        if "flow_from" in source:
            yield from source.get("flow_from") or ()
        else:
            yield source


def _entity_price(hass: HomeAssistant, entity_id: str) -> float | None:
    """Return the current price per kWh of a price entity; None while it has none."""
    state = hass.states.get(entity_id)
    if state is None:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    unit = str(state.attributes.get("unit_of_measurement") or "").lower()
    factor = next((f for suffix, f in _PER_KWH.items() if unit.endswith(suffix)), 1.0)
    price = value * factor
    return price if math.isfinite(price) and price >= 0 else None


def _fixed(price: float) -> Callable[[], float | None]:
    return lambda: price


async def async_electricity_price(
    hass: HomeAssistant, fallback: float | None, *, energy: bool = True
) -> ElectricityPrice | None:
    """Return how to read the electricity price: the Energy settings' first, else ``fallback``.

    ``energy`` False skips the Energy settings.
    """
    if energy and ENERGY in hass.config.components:
        manager = await async_get_manager(hass)
        for flow in _grid_flows(manager.data or {}):
            if (number := flow.get("number_energy_price")) is not None:
                return ElectricityPrice(PriceSource.ENERGY_SETTINGS, _fixed(number))
            if entity_id := flow.get("entity_energy_price"):
                return ElectricityPrice(
                    PriceSource.ENERGY_SETTINGS,
                    lambda entity_id=entity_id: _entity_price(hass, entity_id),
                    entity_id,
                )
    if fallback is not None:
        return ElectricityPrice(PriceSource.OPTIONS, _fixed(fallback))
    LOGGER.debug("No electricity price: local inference is not priced")
    return None
