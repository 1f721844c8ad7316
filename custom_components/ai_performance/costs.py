"""Cost settings from the options, and which model an agent entity runs.

The price table, currency and monthly budget are set in the options flow (validated there), so
reading them here cannot fail. An agent's model comes from its config subentry, where every
current LLM integration keeps it (``chat_model``: OpenAI, Anthropic, Google; ``model``: Ollama,
OpenRouter), or from its config entry's options in older integrations.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
import sys
from typing import Any, Final, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .const import (
    CONF_CURRENCY,
    CONF_ELECTRICITY_PRICE,
    CONF_MONTHLY_BUDGET,
    CONF_PRICES,
    LOGGER,
)
from .electricity import ElectricityPrice, async_electricity_price
from .engine.cost import ModelPrice, parse_price_table

MODEL_KEYS: Final = ("chat_model", "model")
# Integrations whose "recommended settings" store no model name use this constant of theirs.
RECOMMENDED_MODEL: Final = "RECOMMENDED_CHAT_MODEL"


@dataclass(frozen=True, slots=True)
class CostSettings:
    """What requests cost and what the user means to spend."""

    currency: str
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    monthly_budget: float | None = None
    # What local inference's electricity costs (GPU energy per request), where it is known.
    electricity: ElectricityPrice | None = None

    @property
    def priced(self) -> bool:
        """Return True when any model or the electricity has a price: only then are costs shown."""
        return bool(self.prices) or self.electricity is not None


def cost_settings(hass: HomeAssistant, options: Mapping[str, Any]) -> CostSettings:
    """Return the cost settings of an entry's options."""
    return CostSettings(
        currency=options.get(CONF_CURRENCY) or hass.config.currency,
        prices=parse_price_table(options.get(CONF_PRICES)),
        monthly_budget=options.get(CONF_MONTHLY_BUDGET) or None,
    )


async def async_electricity_reader(
    hass: HomeAssistant, settings: CostSettings, options: Mapping[str, Any]
) -> ElectricityPrice:
    """Return the reader of the electricity price for ``settings``' currency.

    The Energy settings price the grid in Home Assistant's currency: with costs in another,
    only the options' own price (set in that currency) can be used.
    """
    fallback = options.get(CONF_ELECTRICITY_PRICE)
    same_currency = settings.currency == hass.config.currency
    if not same_currency:
        LOGGER.debug(
            "Costs are in %s, not %s: the Energy settings' price is not used",
            settings.currency,
            hass.config.currency,
        )
    return await async_electricity_price(hass, fallback, energy=same_currency)


class PricedDescription(Protocol):
    """An entity description that says whether it shows money."""

    @property
    def priced(self) -> bool:
        """Return True for a money sensor."""


def with_costs[DescriptionT: PricedDescription](
    descriptions: Iterable[DescriptionT], settings: CostSettings
) -> list[DescriptionT]:
    """Return the descriptions to use: money ones only with a price table, in its currency."""
    return [
        replace(description, native_unit_of_measurement=settings.currency)  # type: ignore[type-var]
        if description.priced
        else description
        for description in descriptions
        if settings.priced or not description.priced
    ]


def agent_model(hass: HomeAssistant, entity_id: str) -> str | None:
    """Return the model an agent or AI Task entity runs, where its integration says."""
    entity = er.async_get(hass).async_get(entity_id)
    if entity is None or entity.config_entry_id is None:
        return None
    entry = hass.config_entries.async_get_entry(entity.config_entry_id)
    if entry is None:
        return None
    subentry_id = getattr(entity, "config_subentry_id", None)
    subentry = entry.subentries.get(subentry_id) if subentry_id else None
    settings = (
        subentry.data if subentry is not None else {**entry.data, **entry.options}
    )
    for key in MODEL_KEYS:
        if isinstance(model := settings.get(key), str) and model:
            return model
    return _recommended_model(entry)


def _recommended_model(entry: ConfigEntry) -> str | None:
    # Only a module Home Assistant already imported is read: importing here would block.
    const = sys.modules.get(f"homeassistant.components.{entry.domain}.const")
    model = getattr(const, RECOMMENDED_MODEL, None)
    return model if isinstance(model, str) else None


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """Return the local start of calendar month ``month`` ("2026-11") and of the next one."""
    year, number = (int(part) for part in month.split("-"))
    following = date(year + number // 12, number % 12 + 1, 1)
    return (
        dt_util.start_of_local_day(date(year, number, 1)),
        dt_util.start_of_local_day(following),
    )
