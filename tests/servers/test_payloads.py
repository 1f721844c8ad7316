"""Payload shapes that servers get wrong: PromQL answers and model lists."""

from typing import Any

import pytest

from custom_components.ai_performance.collectors.servers.openai_compatible import (
    served_models,
)
from custom_components.ai_performance.collectors.servers.prometheus import (
    QueryError,
    query_value,
)


def _vector(*values: Any) -> dict[str, Any]:
    result = [{"metric": {}, "value": [1763700000.0, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_query_values() -> None:
    assert query_value(_vector("2.5")) == 2.5
    assert query_value(_vector()) is None
    assert query_value(_vector("NaN")) is None
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}}
    assert query_value(scalar) == 7.0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("nope", "not a Prometheus answer"),
        ({"status": "error", "error": "bad_data: x"}, "bad_data: x"),
        ({"status": "success", "data": []}, "not a Prometheus answer"),
        (_vector("1", "2"), "gives 2 series; aggregate it to one"),
        (_vector("one"), "not a Prometheus sample"),
        (
            {"status": "success", "data": {"resultType": "scalar", "result": 3}},
            "sample",
        ),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            "matrix",
        ),
    ],
)
def test_query_answers_that_are_not_one_number(payload: Any, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        query_value(payload)


def test_served_models() -> None:
    assert served_models({"data": [{"id": "a"}, {"id": 3}, "b"]}) == ("a",)
    with pytest.raises(ValueError, match="no data list"):
        served_models({"object": "list"})
