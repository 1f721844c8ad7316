"""Payload shapes that servers get wrong: PromQL answers and model lists."""

from typing import Any

import pytest

from custom_components.ai_performance.collectors.servers.base import POLL_TIMEOUT_S
from custom_components.ai_performance.collectors.servers.client import (
    ServerError,
    ServerProblem,
)
from custom_components.ai_performance.collectors.servers.openai_compatible import (
    served_models,
)
from custom_components.ai_performance.collectors.servers.prometheus import (
    QueryError,
    QueryProblem,
    async_run_query,
    query_value,
)


def _vector(*values: Any) -> dict[str, Any]:
    result = [{"metric": {}, "value": [1763700000.0, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_query_values() -> None:
    assert query_value(_vector("2.5")) == 2.5
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}}
    assert query_value(scalar) == 7.0


@pytest.mark.parametrize(
    ("payload", "problem", "message"),
    [
        ("nope", QueryProblem.NOT_A_NUMBER, "not a Prometheus answer"),
        (
            {"status": "error", "errorType": "bad_data", "error": "x"},
            QueryProblem.REFUSED,
            "x",
        ),
        (
            {"status": "error", "errorType": "timeout", "error": "query timed out"},
            QueryProblem.TIMEOUT,
            "query timed out",
        ),
        (
            {"status": "success", "data": []},
            QueryProblem.NOT_A_NUMBER,
            "not a Prometheus answer",
        ),
        (_vector(), QueryProblem.EMPTY, "no series matched"),
        (_vector("NaN"), QueryProblem.NOT_FINITE, "NaN"),
        (_vector("+Inf"), QueryProblem.NOT_FINITE, "Inf"),
        (_vector("1", "2"), QueryProblem.SEVERAL_SERIES, "gives 2 series; aggregate"),
        (_vector("one"), QueryProblem.NOT_A_NUMBER, "not a Prometheus sample"),
        (
            {"status": "success", "data": {"resultType": "scalar", "result": 3}},
            QueryProblem.NOT_A_NUMBER,
            "sample",
        ),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            QueryProblem.NOT_A_NUMBER,
            "matrix",
        ),
    ],
)
def test_query_answers_that_are_not_one_number(
    payload: Any, problem: QueryProblem, message: str
) -> None:
    with pytest.raises(QueryError, match=message) as raised:
        query_value(payload)
    assert raised.value.problem is problem


def test_served_models() -> None:
    assert served_models({"data": [{"id": "a"}, {"id": 3}, "b"]}) == ("a",)
    with pytest.raises(ValueError, match="no data list"):
        served_models({"object": "list"})


class _Client:
    """Stands in for a ServerClient: records the request, answers or fails as told."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.params: dict[str, str] = {}
        self.seconds: float | None = None

    async def get_json(self, _path: str, **kwargs: Any) -> Any:
        self.params = kwargs["params"]
        self.seconds = kwargs["seconds"]
        if self.error is not None:
            raise self.error
        return self.answer


async def test_prometheus_gives_up_on_a_query_before_we_give_up_on_the_poll() -> None:
    client = _Client(answer=_vector("1"))
    assert await async_run_query(client, "sum(up)") == 1.0  # type: ignore[arg-type]
    poll_s = POLL_TIMEOUT_S
    assert client.params == {
        "query": "sum(up)",
        "timeout": f"{round(poll_s * 0.75 * 1000)}ms",
    }
    assert client.seconds is not None
    assert poll_s * 0.75 < client.seconds < poll_s


async def test_a_query_too_large_is_its_own_problem() -> None:
    client = _Client(error=ServerError(ServerProblem.TOO_LARGE, "too large"))
    with pytest.raises(QueryError) as raised:
        await async_run_query(client, "everything")  # type: ignore[arg-type]
    assert raised.value.problem is QueryProblem.TOO_LARGE
