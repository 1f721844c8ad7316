"""A Prometheus server: instant PromQL queries over a fleet, each query a sensor.

Presets cover a vLLM fleet and a DCGM GPU fleet; users add their own queries. A query must give
one number (a scalar, or a vector of at most one series: aggregate with ``sum()``/``avg()``); an
empty vector is an unknown value. A query that fails makes only its own sensor unavailable.
"""

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math
from typing import Any, Final, override

from homeassistant.const import PERCENTAGE, UnitOfInformation, UnitOfPower, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.util import slugify

from ...const import CONF_PRESETS, CONF_QUERIES, CONF_QUERY, UNIT_TOKENS_PER_SECOND
from .base import ServerCollector, ServerSettings
from .client import ServerClient, ServerError

QUERY_PATH: Final = "/api/v1/query"
# Prometheus answers a bad query with 400 and a query it could not run with 422, both with a
# JSON body that says why.
QUERY_ERROR_STATUSES: Final = (400, 422)


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
            'sum(rate({__name__=~"vllm:(prompt|generation)_tokens_total"}[5m]))',
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
    """Prometheus refused or could not run a query; ``str()`` is its explanation."""


def query_value(payload: Any) -> float | None:
    """Return the single number of an instant query's answer (None for an empty vector)."""
    if not isinstance(payload, dict):
        msg = "not a Prometheus answer"
        raise QueryError(msg)
    if payload.get("status") != "success":
        raise QueryError(str(payload.get("error") or "query failed")[:200])
    data = payload.get("data")
    if not isinstance(data, dict):
        msg = "not a Prometheus answer"
        raise QueryError(msg)
    result = data.get("result")
    match data.get("resultType"):
        case "scalar":
            return _sample_value(result)
        case "vector" if isinstance(result, list):
            if not result:
                return None
            if len(result) > 1:
                msg = (
                    f"gives {len(result)} series; aggregate it to one, e.g. with sum()"
                )
                raise QueryError(msg)
            return _sample_value(
                result[0].get("value") if isinstance(result[0], dict) else None
            )
        case other:
            msg = f"gives a {other}, not a number"
            raise QueryError(msg)


def _sample_value(sample: Any) -> float | None:
    if not isinstance(sample, list) or len(sample) != 2:
        msg = "not a Prometheus sample"
        raise QueryError(msg)
    try:
        value = float(sample[1])
    except TypeError, ValueError:
        msg = "not a Prometheus sample"
        raise QueryError(msg) from None
    return value if math.isfinite(value) else None


async def async_run_query(client: ServerClient, promql: str) -> float | None:
    """Run one instant query; QueryError when Prometheus refuses it."""
    payload = await client.get_json(
        QUERY_PATH, params={"query": promql}, body_statuses=QUERY_ERROR_STATUSES
    )
    return query_value(payload)


@dataclass(frozen=True, slots=True)
class PrometheusSample:
    """One poll: each query's value, or why it failed."""

    values: Mapping[str, float | None]
    errors: Mapping[str, str]


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
        values: dict[str, float | None] = {}
        errors: dict[str, str] = {}
        for query, result in zip(self.queries, results, strict=True):
            if isinstance(result, (QueryError, ServerError)):
                errors[query.key] = str(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                values[query.key] = result
        return PrometheusSample(values=values, errors=errors)
