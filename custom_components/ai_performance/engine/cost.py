"""What LLM requests cost: the user's price table, and the cost of one request's tokens.

Prices are per million tokens, as every provider quotes them. A price table maps a model name
to its input, output and (optionally) cached-input price; cached input tokens cost the input
price where no cached price is given. Input token counts include the cached ones (OpenAI,
Anthropic and Google all count them so), so only the uncached part pays the full input price.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Final

TOKENS_PER_PRICE: Final = 1_000_000
# No model costs this much per million tokens: a larger price is a typo (a price per token
# entered as a count, a missing decimal point).
MAX_PRICE: Final = 10_000.0

PRICE_INPUT: Final = "input"
PRICE_OUTPUT: Final = "output"
PRICE_CACHED_INPUT: Final = "cached_input"
PRICE_FIELDS: Final = (PRICE_INPUT, PRICE_OUTPUT, PRICE_CACHED_INPUT)
REQUIRED_PRICE_FIELDS: Final = (PRICE_INPUT, PRICE_OUTPUT)


class PriceProblem(StrEnum):
    """Why a price table was refused; each is a translated error of the options flow."""

    NOT_A_TABLE = "prices_not_a_table"
    BAD_MODEL = "prices_bad_model"
    NOT_PRICES = "prices_not_prices"
    UNKNOWN_FIELD = "prices_unknown_field"
    MISSING_FIELD = "prices_missing_field"
    BAD_PRICE = "prices_bad_price"


class PriceTableError(ValueError):
    """A price table that cannot be used; says which model and field are wrong."""

    def __init__(self, problem: PriceProblem, model: str = "", field: str = "") -> None:
        """Describe the problem found at ``model`` / ``field``."""
        super().__init__(f"{problem.value}: {model} {field}".strip())
        self.problem = problem
        self.model = model
        self.field = field


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The prices of one model, per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


def _price(model: str, name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_PRICE
    ):
        raise PriceTableError(PriceProblem.BAD_PRICE, model, name)
    return float(value)


def parse_price_table(raw: object) -> dict[str, ModelPrice]:
    """Return the price table of the options, or raise PriceTableError saying what is wrong.

    ``raw`` is what the YAML editor gave: a mapping of model name to a mapping of prices. None
    and an empty mapping mean no prices.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PriceTableError(PriceProblem.NOT_A_TABLE)
    table: dict[str, ModelPrice] = {}
    for model, prices in raw.items():
        if not isinstance(model, str) or not model.strip():
            raise PriceTableError(PriceProblem.BAD_MODEL, str(model))
        if not isinstance(prices, Mapping):
            raise PriceTableError(PriceProblem.NOT_PRICES, model)
        for name in prices:
            if name not in PRICE_FIELDS:
                raise PriceTableError(PriceProblem.UNKNOWN_FIELD, model, str(name))
        for name in REQUIRED_PRICE_FIELDS:
            if name not in prices:
                raise PriceTableError(PriceProblem.MISSING_FIELD, model, name)
        cached = prices.get(PRICE_CACHED_INPUT)
        table[model.strip()] = ModelPrice(
            input=_price(model, PRICE_INPUT, prices[PRICE_INPUT]),
            output=_price(model, PRICE_OUTPUT, prices[PRICE_OUTPUT]),
            cached_input=(
                None if cached is None else _price(model, PRICE_CACHED_INPUT, cached)
            ),
        )
    return table


def price_for(table: Mapping[str, ModelPrice], model: str) -> ModelPrice | None:
    """Return the prices of ``model``: by exact name, ignoring case, or without its prefix.

    Providers name models differently from their price lists ("models/gemini-2.5-flash" is
    "gemini-2.5-flash"), so a name also matches after its last "/".
    """
    if (price := table.get(model)) is not None:
        return price
    wanted = {model.casefold(), model.rsplit("/", 1)[-1].casefold()}
    for name, price in table.items():
        if name.casefold() in wanted:
            return price
    return None


def request_cost(
    price: ModelPrice,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_input_tokens: int | None,
) -> float | None:
    """Return what one request's tokens cost, or None when it reported no tokens."""
    if input_tokens is None and output_tokens is None:
        return None
    cached = min(cached_input_tokens or 0, input_tokens or 0)
    uncached = (input_tokens or 0) - cached
    cached_price = price.input if price.cached_input is None else price.cached_input
    return (
        uncached * price.input
        + cached * cached_price
        + (output_tokens or 0) * price.output
    ) / TOKENS_PER_PRICE


@dataclass(slots=True)
class MonthlySpend:
    """What requests cost in one calendar month ("2026-11"); a new month starts from zero."""

    month: str = ""
    cost: float = 0.0

    def add(self, month: str, cost: float) -> None:
        """Count ``cost`` in ``month``."""
        if month != self.month:
            self.month, self.cost = month, 0.0
        self.cost += cost

    def spent_in(self, month: str) -> float:
        """Return what was spent in ``month`` so far (zero once it is over)."""
        return self.cost if month == self.month else 0.0
