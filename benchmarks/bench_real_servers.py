"""Our figures against real servers' own, in one run (see docs/performance.md).

Starts llama-server with a real model (Gemma 3 270M), our exporter of vLLM and DCGM series and
two Prometheus servers (one scraping the exporter and llama-server, one that is frozen with
SIGSTOP), then a test Home Assistant with its own OpenAI integration pointed at llama-server,
the conversation and Assist pipeline components, and this integration. Writes
benchmarks/results/real_servers.json:

- tokens_error_abs: over 4 requests through the conversation API and 4 Assist pipeline runs to
  Home Assistant's OpenAI agent, |our input tokens - the server's| + |our output tokens - the
  server's|, the server's being the increase of its /metrics counters (prompt tokens processed
  plus cached; tokens predicted).
- decode_speed_error_pct: the agent's output speed after the pipeline runs (the only requests
  with a measured first token) against the server's own generation speed over the same runs
  (increase of tokens_predicted_total / increase of tokens_predicted_seconds_total), in %.
- latency_p50_error_pct: the agent's p50 over the conversation-API requests against the p50 of
  the benchmark's own clock around each request, in %.
- server_rate_error_pct: the llama.cpp server's generation tokens/s sensor against the increase
  of tokens_predicted_total over the time between two reads of /metrics taken right before each
  of our two polls (no request runs at either moment), in %.
- prometheus_presets_ok_share: the preset queries (vLLM and DCGM fleets) that were added through
  the flow and give a number on the real Prometheus, as a share of all presets.
- slow_source_publish_delay_ms_p95: over 10 ticks while one Prometheus source hangs, how much
  later the tick published than the median of 10 ticks before the hang, spaced alike (p95, ms).
  The publish deadline (0.25 s) bounds it.
"""

# ruff: noqa: E402, I001 - the path is fixed, then tests.ha_compat loaded, before other imports
from pathlib import Path
import sys

# The repository root replaces the script's own folder on the path: the integration, the tests'
# helpers and benchmarks.smoke are imported from there.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import asyncio
from contextlib import ExitStack
import json
import os
import statistics
import tempfile
import time
from typing import Any
from unittest.mock import patch

from aiohttp.resolver import ThreadedResolver

# The test plugin's helpers on Home Assistant 2026.11: see tests/ha_compat.py.
import tests.ha_compat  # noqa: F401
import custom_components.ai_performance  # noqa: F401 - ours, before the plugin's package
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from homeassistant import loader
from homeassistant.components import assist_pipeline, conversation
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import aiohttp_client, entity_registry as er, frame
from homeassistant.setup import async_setup_component

from custom_components.ai_performance.collectors import chat_logs
from custom_components.ai_performance.collectors.servers.base import (
    ServerCollector,
)
from custom_components.ai_performance.collectors.servers.prometheus import PRESETS
from custom_components.ai_performance.const import (
    CONF_OUTAGE_MINUTES,
    CONF_PRESETS,
    CONF_QUERIES,
    DOMAIN,
    SUBENTRY_OPENAI_COMPATIBLE,
    SUBENTRY_PROMETHEUS,
)
from benchmarks.smoke import output, size
from tests.real.agents import add_llm_agent, generation_speed, input_tokens
from tests.real.exposition import fleet_exporter
from tests.real_servers import (
    LlamaServer,
    exporter,
    llama_server,
    prometheus_server,
    provisioned,
)
from tests.requests.test_pipelines import run_text

RESULTS = output(Path(__file__).parent / "results" / "real_servers.json")
QUESTIONS = size(
    ("Name a colour.", "Name a fruit.", "Name a city.", "Name a tree."),
    ("Name a colour.",),
)
MAX_TOKENS = size(64, 8)
HUNG_TICKS = size(10, 2)
TICK_GAP_S = 0.2
ENTRY_ID = "bench"


def _plain_resolver(_hass: object) -> ThreadedResolver:
    """Resolve names without zeroconf, as the test plugin does (no network component here)."""
    resolver = ThreadedResolver()
    resolver.real_close = resolver.close  # type: ignore[attr-defined]
    return resolver


def _increase(after: dict[str, float], before: dict[str, float], name: str) -> float:
    return after[name] - before[name]


def _error_pct(ours: float, truth: float) -> float:
    return round(abs(ours / truth - 1) * 100, 3)


async def _settle(hass: HomeAssistant, done: Any, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not done():
        if time.monotonic() > deadline:
            msg = "turns never finished"
            raise RuntimeError(msg)
        await asyncio.sleep(0.05)
        await hass.async_block_till_done()


async def _add_server(hass: HomeAssistant, kind: str, data: dict[str, Any]) -> Any:
    result = await hass.config_entries.subentries.async_init(
        (ENTRY_ID, kind), context={"source": SOURCE_USER}
    )
    return await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {"verify_ssl": True, "scan_interval": 60, CONF_OUTAGE_MINUTES: 15, **data},
    )


def _subentry_id(hass: HomeAssistant, kind: str) -> str:
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    return next(
        s.subentry_id for s in entry.subentries.values() if s.subentry_type == kind
    )


def _sensor(hass: HomeAssistant, unique_id: str) -> Any:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    return None if entity_id is None else hass.states.get(entity_id)


async def _refresh(hass: HomeAssistant, *, servers: bool = False) -> float:
    """Tick once (servers polled now when asked); return how long the tick took (s)."""
    coordinator = hass.config_entries.async_get_entry(ENTRY_ID).runtime_data.coordinator
    if servers:
        for collector in coordinator.collectors:
            if isinstance(collector, ServerCollector):
                collector.poll_next_tick()
    started = time.monotonic()
    await coordinator.async_refresh()
    elapsed = time.monotonic() - started
    await hass.async_block_till_done()
    return elapsed


async def _agent_figures(
    hass: HomeAssistant, llama: LlamaServer, agent: str
) -> dict[str, float]:
    ledger = hass.config_entries.async_get_entry(ENTRY_ID).runtime_data.ledger

    def counted() -> int:
        subject = ledger.subjects.get(agent)
        return 0 if subject is None else subject.totals.requests

    before = llama.metrics()
    client_ms = []
    for question in QUESTIONS:
        started = time.monotonic()
        await conversation.async_converse(
            hass, question, None, Context(), agent_id=agent
        )
        client_ms.append((time.monotonic() - started) * 1000)
    await _settle(hass, lambda: counted() == len(QUESTIONS))
    ours_ms = [r.duration_ms for r in ledger.subjects[agent].log.recent]
    between = llama.metrics()
    for question in QUESTIONS:
        await run_text(hass, question)
    await _settle(hass, lambda: counted() == 2 * len(QUESTIONS))
    after = llama.metrics()
    await _refresh(hass)

    totals = ledger.subjects[agent].totals
    tokens_error = abs(
        totals.input_tokens - (input_tokens(after) - input_tokens(before))
    )
    tokens_error += abs(
        totals.output_tokens
        - _increase(after, before, "llamacpp:tokens_predicted_total")
    )
    server_speed = generation_speed(between, after)
    stats = ledger.subjects[agent].log.stats(time.time(), 3600)
    return {
        "tokens_error_abs": tokens_error,
        "decode_speed_error_pct": _error_pct(stats.output_tokens_per_s, server_speed),
        "decode_speed_ours_tokens_per_s": round(stats.output_tokens_per_s, 2),
        "decode_speed_server_tokens_per_s": round(server_speed, 2),
        "latency_p50_error_pct": _error_pct(
            statistics.median(ours_ms), statistics.median(client_ms)
        ),
        "latency_p50_client_ms": round(statistics.median(client_ms), 1),
    }


async def _server_rate(hass: HomeAssistant, llama: LlamaServer) -> dict[str, float]:
    result = await _add_server(hass, SUBENTRY_OPENAI_COMPATIBLE, {"url": llama.url})
    assert result["type"] == "create_entry", result
    await hass.async_block_till_done()
    subject = f"{ENTRY_ID}_server_{_subentry_id(hass, SUBENTRY_OPENAI_COMPATIBLE)}"
    before, started = llama.metrics(), time.monotonic()
    await _refresh(hass, servers=True)
    for question in QUESTIONS:
        llama.chat(question, max_tokens=MAX_TOKENS)
    after, ended = llama.metrics(), time.monotonic()
    await _refresh(hass, servers=True)
    truth = _increase(after, before, "llamacpp:tokens_predicted_total") / (
        ended - started
    )
    ours = float(_sensor(hass, f"{subject}_generation_tokens_per_second").state)
    return {"server_rate_error_pct": _error_pct(ours, truth)}


async def _presets(hass: HomeAssistant, prometheus_url: str) -> dict[str, float]:
    result = await _add_server(
        hass,
        SUBENTRY_PROMETHEUS,
        {"url": prometheus_url, CONF_PRESETS: list(PRESETS), CONF_QUERIES: []},
    )
    if result["type"] != "create_entry":
        return {"prometheus_presets_ok_share": 0.0}
    await hass.async_block_till_done()
    subject = f"{ENTRY_ID}_server_{_subentry_id(hass, SUBENTRY_PROMETHEUS)}"
    queries = [q for preset in PRESETS.values() for q in preset]
    ok = 0
    for query in queries:
        state = _sensor(hass, f"{subject}_{query.key}")
        try:
            float(state.state)
        except AttributeError, ValueError:
            continue
        ok += "problem" not in state.attributes
    return {"prometheus_presets_ok_share": round(ok / len(queries), 3)}


async def _hung_delay(hass: HomeAssistant, hung: Any) -> dict[str, float]:
    result = await _add_server(
        hass,
        SUBENTRY_PROMETHEUS,
        {"url": hung.url, CONF_QUERIES: [{"name": "Up", "query": "sum(up)"}]},
    )
    assert result["type"] == "create_entry", result
    await hass.async_block_till_done()
    normal = []
    for _ in range(HUNG_TICKS):
        normal.append(await _refresh(hass, servers=True))
        # Ticks as far apart as below (the host source waits while its CPU reading is fresh).
        await asyncio.sleep(TICK_GAP_S)
    hung.process.pause()
    try:
        delays = []
        for _ in range(HUNG_TICKS):
            delays.append(
                (await _refresh(hass, servers=True)) - statistics.median(normal)
            )
            await asyncio.sleep(TICK_GAP_S)
    finally:
        hung.process.resume()
    delays_ms = sorted(max(d, 0.0) * 1000 for d in delays)
    p95 = delays_ms[min(len(delays_ms) - 1, round(0.95 * (len(delays_ms) - 1)))]
    return {
        "slow_source_publish_delay_ms_p95": round(p95, 1),
        "normal_tick_ms_p50": round(statistics.median(normal) * 1000, 1),
    }


async def _in_home_assistant(
    llama: LlamaServer, prometheus_url: str, hung: Any
) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as config_dir,
        patch.object(aiohttp_client, "_async_make_resolver", _plain_resolver),
        patch.object(chat_logs, "SETTLE_S", 0.05),
    ):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            frame.async_setup(hass)
            assert await async_setup_component(hass, "homeassistant", {})
            agent = await add_llm_agent(
                hass,
                "openai_conversation",
                {CONF_API_KEY: "sk-local"},
                model=llama.alias,
                max_tokens=MAX_TOKENS,
            )
            assert await async_setup_component(hass, "assist_pipeline", {})
            pipeline = assist_pipeline.async_get_pipeline(hass)
            await assist_pipeline.async_update_pipeline(
                hass, pipeline, conversation_engine=agent, prefer_local_intents=False
            )
            entry = MockConfigEntry(domain=DOMAIN, entry_id=ENTRY_ID, unique_id=DOMAIN)
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            figures = await _agent_figures(hass, llama, agent)
            figures |= await _server_rate(hass, llama)
            figures |= await _presets(hass, prometheus_url)
            figures |= await _hung_delay(hass, hung)
            await hass.async_stop(force=True)
    return figures


def main() -> None:
    """Run the benchmark and write its results."""
    paths = provisioned()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        llama = stack.enter_context(llama_server(paths, workdir))
        fleet = stack.enter_context(exporter(fleet_exporter(), workdir))
        targets = {"llama": llama.url.removeprefix("http://"), "fleet": fleet.target}
        prometheus = stack.enter_context(prometheus_server(paths, workdir, targets))
        hung = stack.enter_context(prometheus_server(paths, workdir / "hung", {}))
        prometheus.wait_for("rate(vllm:generation_tokens_total[5m]) > 0")
        os.environ["OPENAI_BASE_URL"] = f"{llama.url}/v1"
        results = asyncio.run(_in_home_assistant(llama, prometheus.url, hung))
    results["slow_source_publish_delay_ms_p95_note"] = (
        "one Prometheus source frozen with SIGSTOP; delay over the median tick before"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
