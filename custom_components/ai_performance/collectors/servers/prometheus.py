"""A Prometheus server: instant PromQL queries over a fleet, each query a sensor.

Presets cover a vLLM fleet and a DCGM GPU fleet; users add their own queries. A query must give
one number (a scalar, or a vector of at most one series: aggregate with ``sum()``/``avg()``).
A query's own problem (Prometheus refused or timed it out, no series, several series, NaN or
±Inf, an answer too large) is that query's alone: its sensor is unknown and says why in its
``problem`` attribute. The server counts as down only when no query got an answer from it.
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Any, Final, override

from homeassistant.const import PERCENTAGE, UnitOfInformation, UnitOfPower, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.util import slugify

from ...const import CONF_PRESETS, CONF_QUERIES, CONF_QUERY, UNIT_TOKENS_PER_SECOND
from . import base
from .base import ServerCollector, ServerSettings
from .client import ServerClient, ServerError, ServerProblem, async_error_text

QUERY_PATH: Final = "/api/v1/query"
# Prometheus answers a bad query with 400, one it could not run with 422, a timed-out one with
# 503 and its own failure with 500, each with a JSON body that says why (docs/querying/api.md,
# "Format overview"; web/api/v1/api.go, getDefaultErrorCode).
QUERY_ERROR_STATUSES: Final = (400, 422, 500, 503)
# Shares of a poll's time limit: Prometheus's own limit for a query (its ``timeout``
# parameter), and how long we wait for its answer.
QUERY_SHARE: Final = 0.75
CLIENT_SHARE: Final = 0.9


class QueryProblem(StrEnum):
    """Why a query gave no number; the values are the ``problem`` attribute's states."""

    REFUSED = "refused"
    TIMEOUT = "timeout"
    EMPTY = "empty"
    SEVERAL_SERIES = "several_series"
    NOT_FINITE = "not_finite"
    TOO_LARGE = "too_large"
    NOT_A_NUMBER = "not_a_number"


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL query shown as a sensor."""

    key: str
    name: str
    promql: str
    unit: str | None
    # A translation key for presets; user queries are named by the user.
    translation_key: str | None = None


PRESETS: Final[Mapping[str, tuple[Query, ...]]] = {
    "vllm_fleet": (
        Query(
            "vllm_fleet_ttft_p95",
            "vLLM fleet time to first token (p95)",
            "histogram_quantile(0.95, sum by (le) "
            "(rate(vllm:time_to_first_token_seconds_bucket[5m])))",
            UnitOfTime.SECONDS,
            "vllm_fleet_ttft_p95",
        ),
        Query(
            "vllm_fleet_tokens_per_second",
            "vLLM fleet tokens per second",
            # Two sums: rate() of both counters in one selector drops their names and leaves
            # two series with one label set, which Prometheus refuses.
            "sum(rate(vllm:prompt_tokens_total[5m]))"
            " + sum(rate(vllm:generation_tokens_total[5m]))",
            UNIT_TOKENS_PER_SECOND,
            "vllm_fleet_tokens_per_second",
        ),
        Query(
            "vllm_fleet_waiting_requests",
            "vLLM fleet waiting requests",
            "sum(vllm:num_requests_waiting)",
            None,
            "vllm_fleet_waiting_requests",
        ),
    ),
    "dcgm_fleet": (
        Query(
            "dcgm_fleet_gpu_utilization",
            "GPU fleet utilization",
            "avg(DCGM_FI_DEV_GPU_UTIL)",
            PERCENTAGE,
            "dcgm_fleet_gpu_utilization",
        ),
        Query(
            "dcgm_fleet_memory_used",
            "GPU fleet memory used",
            "sum(DCGM_FI_DEV_FB_USED)",
            UnitOfInformation.MEBIBYTES,
            "dcgm_fleet_memory_used",
        ),
        Query(
            "dcgm_fleet_power",
            "GPU fleet power",
            "sum(DCGM_FI_DEV_POWER_USAGE)",
            UnitOfPower.WATT,
            "dcgm_fleet_power",
        ),
    ),
}


def user_query_key(name: str) -> str:
    """Return the key of a user's query named ``name``."""
    return f"query_{slugify(name)}"


def configured_queries(data: Mapping[str, Any]) -> list[Query]:
    """Return the preset and user queries of a Prometheus subentry."""
    queries = [
        query
        for preset in data.get(CONF_PRESETS, ())
        for query in PRESETS.get(preset, ())
    ]
    queries.extend(
        Query(
            user_query_key(item["name"]),
            item["name"],
            item[CONF_QUERY],
            item.get("unit") or None,
        )
        for item in data.get(CONF_QUERIES, ())
    )
    return queries


class QueryError(Exception):
    """A query gave no number; ``str()`` is the explanation, ``problem`` the reason."""

    def __init__(self, problem: QueryProblem, detail: str) -> None:
        """Describe why the query gave no number."""
        super().__init__(detail)
        self.problem = problem


# Prometheus's errorType for a query that ran out of time.
_TIMEOUT_ERRORS: Final = ("timeout", "canceled")


def query_value(payload: Any) -> float:
    """Return the single number of an instant query's answer; QueryError for none."""
    if not isinstance(payload, dict):
        raise QueryError(QueryProblem.NOT_A_NUMBER, "not a Prometheus answer")
    if payload.get("status") != "success":
        problem = (
            QueryProblem.TIMEOUT
            if payload.get("errorType") in _TIMEOUT_ERRORS
            else QueryProblem.REFUSED
        )
        raise QueryError(problem, str(payload.get("error") or "query failed")[:200])
    data = payload.get("data")
    if not isinstance(data, dict):
        raise QueryError(QueryProblem.NOT_A_NUMBER, "not a Prometheus answer")
    result = data.get("result")
    match data.get("resultType"):
        case "scalar":
            return _sample_value(result)
        case "vector" if isinstance(result, list):
            if not result:
                raise QueryError(QueryProblem.EMPTY, "no series matched")
            if len(result) > 1:
                msg = (
                    f"gives {len(result)} series; aggregate it to one, e.g. with sum()"
                )
                raise QueryError(QueryProblem.SEVERAL_SERIES, msg)
            return _sample_value(
                result[0].get("value") if isinstance(result[0], dict) else None
            )
        case other:
            raise QueryError(
                QueryProblem.NOT_A_NUMBER, f"gives a {other}, not a number"
            )


def _sample_value(sample: Any) -> float:
    if not isinstance(sample, list) or len(sample) != 2:
        raise QueryError(QueryProblem.NOT_A_NUMBER, "not a Prometheus sample")
    try:
        value = float(sample[1])
    except TypeError, ValueError:
        raise QueryError(QueryProblem.NOT_A_NUMBER, "not a Prometheus sample") from None
    if not math.isfinite(value):
        raise QueryError(QueryProblem.NOT_FINITE, f"the value is {sample[1]}")
    return value


async def async_run_query(client: ServerClient, promql: str) -> float:
    """Run one instant query; QueryError when it gives no number.

    Prometheus is asked to give up on the query before we give up on the poll, so that a slow
    query answers "timeout" as its own problem instead of taking the whole poll with it.
    """
    poll_s = base.POLL_TIMEOUT_S
    try:
        payload = await client.get_json(
            QUERY_PATH,
            # Prometheus reads whole numbers of a unit only ("1.5s" is refused).
            params={
                "query": promql,
                "timeout": f"{round(poll_s * QUERY_SHARE * 1000)}ms",
            },
            body_statuses=QUERY_ERROR_STATUSES,
            seconds=poll_s * CLIENT_SHARE,
        )
    except ServerError as err:
        if err.problem is ServerProblem.TOO_LARGE:
            # One query's huge answer says nothing about the server.
            raise QueryError(QueryProblem.TOO_LARGE, str(err)) from None
        raise
    return query_value(payload)


@dataclass(frozen=True, slots=True)
class PrometheusSample:
    """One poll: each query's value, or why it gave none."""

    values: Mapping[str, float]
    problems: Mapping[str, QueryError]


class PrometheusCollector(ServerCollector[PrometheusSample]):
    """Runs a Prometheus subentry's queries concurrently."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, settings: ServerSettings
    ) -> None:
        """Prepare the queries."""
        super().__init__(hass, entry_id, settings)
        self.queries: Sequence[Query] = configured_queries(settings.data)

    @override
    async def _async_poll(self) -> PrometheusSample:
        results = await asyncio.gather(
            *(async_run_query(self.client, q.promql) for q in self.queries),
            return_exceptions=True,
        )
        server_errors = [r for r in results if isinstance(r, ServerError)]
        if server_errors and len(server_errors) == len(results):
            # Not one query got through: the server is down (or refuses our token).
            raise server_errors[0]
        values: dict[str, float] = {}
        problems: dict[str, QueryError] = {}
        for query, result in zip(self.queries, results, strict=True):
            if isinstance(result, QueryError):
                problems[query.key] = result
            elif isinstance(result, ServerError):
                # Others got through: this query alone met the failure.
                problem = (
                    QueryProblem.TIMEOUT
                    if result.problem is ServerProblem.TIMEOUT
                    else QueryProblem.REFUSED
                )
                problems[query.key] = QueryError(
                    problem, await async_error_text(self.hass, result)
                )
            elif isinstance(result, BaseException):
                raise result
            else:
                values[query.key] = result
        return PrometheusSample(values=values, problems=problems)
