"""Prices and the cost of a request's tokens."""

import math

import pytest

from custom_components.ai_performance.engine.cost import (
    MAX_PRICE,
    ModelPrice,
    MonthlySpend,
    PriceProblem,
    PriceTableError,
    parse_price_table,
    price_for,
    request_cost,
)


def test_a_price_table_is_read_with_cached_input_optional() -> None:
    table = parse_price_table(
        {
            "gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6},
            " claude-haiku ": {"input": 1, "output": 5},
        }
    )

    assert table == {
        "gpt-4o-mini": ModelPrice(input=0.15, output=0.6, cached_input=0.075),
        "claude-haiku": ModelPrice(input=1.0, output=5.0),
    }


@pytest.mark.parametrize("raw", [None, {}])
def test_no_table_means_no_prices(raw: object) -> None:
    assert parse_price_table(raw) == {}


@pytest.mark.parametrize(
    ("raw", "problem", "model", "field"),
    [
        (["gpt"], PriceProblem.NOT_A_TABLE, "", ""),
        ({1: {"input": 1, "output": 1}}, PriceProblem.BAD_MODEL, "1", ""),
        ({"gpt": [1, 2]}, PriceProblem.NOT_PRICES, "gpt", ""),
        (
            {"gpt": {"input": 1, "output": 1, "x": 1}},
            PriceProblem.UNKNOWN_FIELD,
            "gpt",
            "x",
        ),
        ({"gpt": {"output": 1}}, PriceProblem.MISSING_FIELD, "gpt", "input"),
        ({"gpt": {"input": True, "output": 1}}, PriceProblem.BAD_PRICE, "gpt", "input"),
        (
            {"gpt": {"input": math.nan, "output": 1}},
            PriceProblem.BAD_PRICE,
            "gpt",
            "input",
        ),
        (
            {"gpt": {"input": 1, "output": math.inf}},
            PriceProblem.BAD_PRICE,
            "gpt",
            "output",
        ),
        (
            {"gpt": {"input": 1, "output": MAX_PRICE + 1}},
            PriceProblem.BAD_PRICE,
            "gpt",
            "output",
        ),
    ],
)
def test_a_bad_table_says_where_it_is_wrong(
    raw: object, problem: PriceProblem, model: str, field: str
) -> None:
    with pytest.raises(PriceTableError) as caught:
        parse_price_table(raw)

    assert (caught.value.problem, caught.value.model, caught.value.field) == (
        problem,
        model,
        field,
    )


def test_a_model_matches_exactly_ignoring_case_or_without_its_prefix() -> None:
    flash = ModelPrice(input=0.3, output=2.5)
    mini = ModelPrice(input=0.15, output=0.6)
    table = {"gemini-2.5-flash": flash, "GPT-4o-mini": mini}

    assert price_for(table, "gemini-2.5-flash") is flash
    assert price_for(table, "models/gemini-2.5-flash") is flash
    assert price_for(table, "gpt-4o-mini") is mini
    assert price_for(table, "gpt-4o") is None


def test_cached_tokens_pay_the_cached_price_and_the_rest_the_input_price() -> None:
    price = ModelPrice(input=2.0, output=8.0, cached_input=0.5)

    # 350 uncached x 2 + 500 cached x 0.5 + 42 output x 8, per million.
    assert request_cost(price, 850, 42, 500) == pytest.approx(0.001286)


def test_without_a_cached_price_cached_tokens_cost_the_input_price() -> None:
    price = ModelPrice(input=2.0, output=8.0)

    assert request_cost(price, 1000, 0, 400) == pytest.approx(0.002)


def test_a_request_without_token_counts_has_no_cost() -> None:
    assert request_cost(ModelPrice(input=1, output=1), None, None, None) is None


def test_more_cached_than_input_tokens_never_makes_a_cost_negative() -> None:
    price = ModelPrice(input=2.0, output=8.0, cached_input=0.5)

    assert request_cost(price, 100, None, 500) == pytest.approx(100 * 0.5 / 1e6)


def test_a_new_month_starts_from_zero() -> None:
    spend = MonthlySpend()
    spend.add("2026-10", 1.5)
    spend.add("2026-10", 0.5)

    assert spend.spent_in("2026-10") == 2.0
    assert spend.spent_in("2026-11") == 0.0

    spend.add("2026-11", 0.25)

    assert spend.spent_in("2026-11") == 0.25
    assert spend.spent_in("2026-10") == 0.0
