"""The electricity price, read where the user already set it: Home Assistant's Energy settings.

Local inference costs what the GPU's energy costs. The price comes from the grid source of the
Energy dashboard's settings (a fixed price, or an entity whose state is the current price, as
Home Assistant's own energy cost sensors read it), read again for every request, so a tariff
that changes by the hour prices each request at its hour and a price changed in the settings
applies at once. The price in our options is only the fallback for installs that track no grid.
Prices per Wh or MWh are converted to kWh, as the Energy dashboard does.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum
import math
from typing import Any, Final

from homeassistant.components.energy.data import EnergyManager, async_get_manager
from homeassistant.core import HomeAssistant

ENERGY: Final = "energy"
# The price units the Energy dashboard converts, per kWh.
_PER_KWH: Final = {"/kwh": 1.0, "/wh": 1000.0, "/mwh": 0.001}


class PriceSource(StrEnum):
    """Where the price comes from."""

    ENERGY_SETTINGS = "energy_settings"
    OPTIONS = "options"


def _grid_flows(preferences: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """Return the grid imports of the Energy settings, in both of their formats.

    Older settings hold a list of imports per grid source (``flow_from``); newer releases keep
    one import per grid source, with the price on the source itself.
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


class ElectricityPrice:
    """Reads the price of 1 kWh now: the Energy settings' grid price, else the fallback."""

    def __init__(
        self,
        hass: HomeAssistant,
        manager: EnergyManager | None,
        fallback: float | None,
    ) -> None:
        """Read ``manager``'s settings (None: not used), else ``fallback`` (None: none)."""
        self._hass = hass
        self._manager = manager
        self._fallback = fallback

    def _grid_price(self) -> Mapping[str, Any] | None:
        """Return the first grid import of the Energy settings that has a price."""
        if self._manager is None:
            return None
        return next(
            (
                flow
                for flow in _grid_flows(self._manager.data or {})
                if flow.get("number_energy_price") is not None
                or flow.get("entity_energy_price")
            ),
            None,
        )

    @property
    def source(self) -> PriceSource | None:
        """Return where the price comes from now; None when no price is set anywhere."""
        if self._grid_price() is not None:
            return PriceSource.ENERGY_SETTINGS
        return None if self._fallback is None else PriceSource.OPTIONS

    def read(self) -> float | None:
        """Return the price of 1 kWh now; None where it is unknown at the moment."""
        flow = self._grid_price()
        if flow is None:
            return self._fallback
        if (number := flow.get("number_energy_price")) is not None:
            return float(number)
        return _entity_price(self._hass, str(flow["entity_energy_price"]))


async def async_electricity_price(
    hass: HomeAssistant, fallback: float | None, *, energy: bool = True
) -> ElectricityPrice:
    """Return the price reader: the Energy settings' (with ``energy``), else ``fallback``."""
    manager = None
    if energy and ENERGY in hass.config.components:
        manager = await async_get_manager(hass)
    return ElectricityPrice(hass, manager, fallback)
