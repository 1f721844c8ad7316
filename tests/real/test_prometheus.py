"""A real Prometheus: presets and queries evaluated by Prometheus itself, problems kept per query.

Ground truth is Prometheus's own HTTP API, asked the same query right after our poll.
"""

import asyncio
from pathlib import Path
import time
from unittest.mock import patch

from homeassistant.const import (
    CONF_URL,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.ai_performance.collectors.servers import base as server_base
from custom_components.ai_performance.collectors.servers.prometheus import (
    PRESETS,
    QueryProblem,
    user_query_key,
)
from custom_components.ai_performance.const import (
    CONF_PRESETS,
    CONF_QUERIES,
    DOMAIN,
    SUBENTRY_PROMETHEUS,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration, tick
from ..real_servers import Exporter, LlamaServer, PrometheusServer, prometheus_server
from ..servers.conftest import (
    SERVER_ID,
    flow_input,
    server_state,
    server_subentry,
    start_flow,
    submit_flow,
)
from .exposition import (
    DCGM_MEMORY_USED,
    DCGM_POWER,
    DCGM_UTILIZATION_MEAN,
    TTFT_P95_S,
    VLLM_WAITING,
)

# What the vLLM preset used to ask: rate() drops both counters' names, which leaves two series
# with one label set, and Prometheus refuses the whole query (HTTP 422).
OLD_VLLM_TOKENS_QUERY = (
    'sum(rate({__name__=~"vllm:(prompt|generation)_tokens_total"}[5m]))'
)
# What the exporter's series give once Prometheus has scraped them (rates excepted: a rate over
# 5 minutes reaches the exporter's 210 tokens/s only after 5 minutes of samples).
STEADY = {
    "vllm_fleet_ttft_p95": TTFT_P95_S,
    "vllm_fleet_waiting_requests": VLLM_WAITING,
    "dcgm_fleet_gpu_utilization": DCGM_UTILIZATION_MEAN,
    "dcgm_fleet_memory_used": DCGM_MEMORY_USED,
    "dcgm_fleet_power": DCGM_POWER,
}


def _wait_for_rates(prometheus: PrometheusServer) -> None:
    """Wait until Prometheus holds enough scrapes for the rates of the vLLM preset."""
    prometheus.wait_for("rate(vllm:generation_tokens_total[5m]) > 0")


async def test_the_presets_add_and_show_what_prometheus_answers(
    hass: HomeAssistant, prometheus: PrometheusServer
) -> None:
    _wait_for_rates(prometheus)
    # The query the vLLM preset had: refused by a real Prometheus.
    status, answer = prometheus.query(OLD_VLLM_TOKENS_QUERY)
    assert status == 422
    assert "same labelset" in answer["error"]
    presets = (*PRESETS["vllm_fleet"], *PRESETS["dcgm_fleet"])

    await setup_integration(hass, our_entry())
    before = {query.key: prometheus.value(query.promql) for query in presets}
    result = await start_flow(hass, SUBENTRY_PROMETHEUS)
    result = await submit_flow(
        hass,
        result["flow_id"],
        flow_input(prometheus.url, **{CONF_PRESETS: ["vllm_fleet", "dcgm_fleet"]}),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    await hass.async_block_till_done()
    after = {query.key: prometheus.value(query.promql) for query in presets}
    subentry_id = next(
        s.subentry_id
        for s in hass.config_entries.async_get_entry(ENTRY_ID).subentries.values()
        if s.subentry_type == SUBENTRY_PROMETHEUS
    )

    for query in presets:
        state = server_state(hass, "sensor", query.key, f"server_{subentry_id}")
        assert state is not None, query.key
        assert "problem" not in state.attributes, query.key
        # What Prometheus answered just before and just after our poll brackets ours (a
        # rate over 5 minutes of a fresh series still grows towards its true value).
        low, high = sorted((before[query.key], after[query.key]))
        assert low * (1 - 1e-9) <= float(state.state) <= high * (1 + 1e-9), query.key
        if query.key in STEADY:
            assert float(state.state) == pytest.approx(STEADY[query.key], rel=0.02)


async def test_the_flow_checks_every_query_on_prometheus(
    hass: HomeAssistant, prometheus: PrometheusServer
) -> None:
    good = "sum(DCGM_FI_DEV_POWER_USAGE)"
    await setup_integration(hass, our_entry())
    result = await start_flow(hass, SUBENTRY_PROMETHEUS)

    result = await submit_flow(hass, result["flow_id"], flow_input(prometheus.url))
    assert result["errors"] == {CONF_QUERIES: "no_queries"}

    twice = [{"name": "Power", "query": good}, {"name": "power", "query": good}]
    result = await submit_flow(
        hass, result["flow_id"], flow_input(prometheus.url, **{CONF_QUERIES: twice})
    )
    assert result["errors"] == {CONF_QUERIES: "query_invalid"}

    for bad, says in (
        ("sum(", "parse error"),
        ("DCGM_FI_DEV_GPU_UTIL", "gives 2 series"),
        (OLD_VLLM_TOKENS_QUERY, "same labelset"),
    ):
        result = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(
                prometheus.url, **{CONF_QUERIES: [{"name": "Bad", "query": bad}]}
            ),
        )
        assert result["errors"] == {CONF_QUERIES: "query_failed"}, bad
        assert result["description_placeholders"]["name"] == "Bad"
        assert says in result["description_placeholders"]["error"], bad

    # Nothing to show yet is no reason to refuse a query.
    mine = [{"name": " Power ", "query": good}, {"name": "Later", "query": "sum(nope)"}]
    result = await submit_flow(
        hass, result["flow_id"], flow_input(prometheus.url, **{CONF_QUERIES: mine})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_QUERIES] == [
        {"name": "Power", "query": good, "unit": ""},
        {"name": "Later", "query": "sum(nope)", "unit": ""},
    ]
    await hass.async_block_till_done()


QUERIES = {
    "Power": ("sum(DCGM_FI_DEV_POWER_USAGE)", None),
    "Per GPU": ("DCGM_FI_DEV_GPU_UTIL", QueryProblem.SEVERAL_SERIES),
    "Nothing": ("sum(no_such_series)", QueryProblem.EMPTY),
    "Not a number": ("0 / 0", QueryProblem.NOT_FINITE),
    "Infinite": ("1 / 0", QueryProblem.NOT_FINITE),
    "Everything": ("aip_bulk", QueryProblem.TOO_LARGE),
    "Refused": (OLD_VLLM_TOKENS_QUERY, QueryProblem.REFUSED),
}


async def test_a_query_problem_stays_with_its_query(
    hass: HomeAssistant, prometheus: PrometheusServer
) -> None:
    prometheus.wait_for("count(aip_bulk) > 3999")
    subentry = server_subentry(
        SUBENTRY_PROMETHEUS,
        prometheus.url,
        **{
            CONF_QUERIES: [
                {"name": name, "query": promql, "unit": "W" if name == "Power" else ""}
                for name, (promql, _) in QUERIES.items()
            ]
        },
    )
    await setup_integration(hass, our_entry(subentries=[subentry]))

    for name, (promql, problem) in QUERIES.items():
        state = server_state(hass, "sensor", user_query_key(name))
        assert state is not None, name
        assert state.attributes["query"] == promql
        assert state.attributes["friendly_name"] == f"prometheus test {name}"
        if problem is None:
            assert float(state.state) == pytest.approx(prometheus.value(promql))
            assert state.attributes["unit_of_measurement"] == "W"
            assert "problem" not in state.attributes
            continue
        # Known to be unknown, and why: the sensor stays available with its reason.
        assert state.state == STATE_UNKNOWN, name
        assert state.attributes["problem"] == problem.value, name
        assert state.attributes["problem_detail"], name
    assert server_state(hass, "binary_sensor", "reachable").state == STATE_ON
    assert not [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]


async def test_a_timed_out_query_is_that_querys_problem(
    hass: HomeAssistant, real_paths: dict[str, str], workdir: Path, fleet: Exporter
) -> None:
    # A Prometheus that gives every query a millisecond: counting thousands of series takes
    # longer, and it answers 503 with errorType "timeout".
    slow_query = "count(aip_bulk) + count(aip_bulk offset 1s)"
    with prometheus_server(
        real_paths, workdir / "timeouts", {"fleet": fleet.target}, "--query.timeout=1ms"
    ) as slow:
        slow.wait_for("up == 1")
        status, answer = slow.query(slow_query)
        while status == 200 and not answer["data"]["result"]:  # not scraped yet
            await asyncio.sleep(0.2)
            status, answer = slow.query(slow_query)
        assert (status, answer["errorType"]) == (503, "timeout")
        subentry = server_subentry(
            SUBENTRY_PROMETHEUS,
            slow.url,
            **{CONF_QUERIES: [{"name": "Slow", "query": slow_query, "unit": ""}]},
        )
        await setup_integration(hass, our_entry(subentries=[subentry]))

        state = server_state(hass, "sensor", user_query_key("Slow"))
        assert state.state == STATE_UNKNOWN
        assert state.attributes["problem"] == QueryProblem.TIMEOUT.value
        assert server_state(hass, "binary_sensor", "reachable").state == STATE_ON


async def test_a_server_that_is_not_prometheus_is_named_so(
    hass: HomeAssistant, llama: LlamaServer
) -> None:
    await setup_integration(hass, our_entry())
    result = await start_flow(hass, SUBENTRY_PROMETHEUS)
    result = await submit_flow(
        hass,
        result["flow_id"],
        flow_input(llama.url, **{CONF_PRESETS: ["dcgm_fleet"]}),
    )
    # llama-server answers 404 at Prometheus's query path.
    assert result["errors"] == {CONF_URL: "unexpected_answer"}
    assert "HTTP 404" in result["description_placeholders"]["error"]


async def test_a_hung_prometheus_delays_no_other_source(
    hass: HomeAssistant,
    real_paths: dict[str, str],
    workdir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        patch.object(server_base, "POLL_TIMEOUT_S", 2.0),
        prometheus_server(real_paths, workdir / "hung", {}) as hung,
    ):
        subentry = server_subentry(
            SUBENTRY_PROMETHEUS,
            hung.url,
            **{CONF_QUERIES: [{"name": "Up", "query": "sum(up)", "unit": ""}]},
        )
        entry = our_entry(subentries=[subentry])
        await setup_integration(hass, entry)
        coordinator = entry.runtime_data.coordinator
        source = server_base.server_source(SERVER_ID)
        server = next(c for c in coordinator.collectors if c.key == source)
        hung.process.pause()  # SIGSTOP: connections are accepted, nothing answers
        try:
            tick_s = []
            for _ in range(3):
                server.poll_next_tick()
                started = time.monotonic()
                await tick(hass)
                tick_s.append(time.monotonic() - started)
                snapshot = coordinator.data
                assert not snapshot.sources["host"].late
                assert not snapshot.sources["requests"].late
                await asyncio.sleep(0.5)
            # The others published on time, each tick; the server's poll was left running.
            assert max(tick_s) < 1.0, tick_s
            assert snapshot.sources[source].late
            # Its timeout lands in a later snapshot: only its own entities go.
            await asyncio.sleep(2.0)
            await tick(hass)
            assert not coordinator.data.sources[source].ok
            assert "no answer" in (coordinator.data.sources[source].error or "")
            assert coordinator.data.sources["host"].ok
            up = server_state(hass, "sensor", user_query_key("Up"))
            assert up.state == STATE_UNAVAILABLE
            assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF
            # The log names the server by its title, never by its subentry id.
            assert "Source prometheus test is unavailable" in caplog.text
            assert SERVER_ID not in caplog.text
        finally:
            hung.process.resume()
