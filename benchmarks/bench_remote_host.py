"""An AI host read from a real node_exporter: right figures, little event-loop time.

Starts Debian's node_exporter on 127.0.0.1 and reads it as an AI host does, in a real Home
Assistant. Writes benchmarks/results/remote_host.json (see docs/performance.md):
- remote_host_fields_matched_share: of every host figure (load, memory, swap, CPU and each
  core, disk and network rates, pressure, each file system), the share equal to what
  node_exporter itself says in the same two scrapes, read with prometheus_client and the
  definitions in tests/real/node_truth.py; over every pair of consecutive polls.
- remote_scrape_loop_ms_p95: event-loop time of one poll (the HTTP request, aiohttp reading the
  answer, handing the text to the executor and the figures; parsing runs in the executor): the
  loop thread's CPU time over the poll, so neither waiting for node_exporter nor this shared
  machine preempting the process counts; p95 over the polls.
- remote_scrape_loop_vs_aiohttp_fetch_ratio: the median of that over the median loop time of
  only fetching the same text with Home Assistant's aiohttp session on the loop (the usual way),
  in the same run.
- remote_parse_vs_prometheus_client_ratio: our parse of one node_exporter payload divided by
  prometheus_client's parser reading the same payload and keeping the same series, in the same
  run; median of the per-round ratios.
"""

# ruff: noqa: E402, I001 - the path is fixed, then tests.ha_compat loaded, before other imports
from pathlib import Path
import sys

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import asyncio
import json
import statistics
import tempfile
import time
from typing import Any
from unittest.mock import patch

from aiohttp.resolver import ThreadedResolver

import tests.ha_compat  # noqa: F401
from prometheus_client.parser import text_string_to_metric_families
from pytest_homeassistant_custom_component.common import async_test_home_assistant

from homeassistant.config_entries import ConfigSubentry
from homeassistant.helpers import aiohttp_client

from custom_components.ai_performance.collectors.ai_host import (
    AiHostMemory,
    NodeExporterCollector,
    ScrapeTarget,
    exporter_settings,
)
from custom_components.ai_performance.collectors.host import HostSample
from custom_components.ai_performance.const import (
    CONF_NODE_EXPORTER_URL,
    SUBENTRY_AI_HOST,
)
from custom_components.ai_performance.engine.node_exporter import (
    NODE_SERIES,
    NodeReading,
    parse_node,
)
from custom_components.ai_performance.sensor import ai_host_sensor_descriptions
from benchmarks.smoke import output, size
from tests.real.node_truth import host_truth, matches
from tests.real_servers import node_exporter, provisioned

RESULTS = output(Path(__file__).parent / "results" / "remote_host.json")
POLLS = size(200, 3)
PARSE_ROUNDS = size(300, 5)
# Between the polls whose figures are compared: long enough for counters to move.
COMPARE_GAP_S = 0.5
COMPARED_PAIRS = size(5, 1)


def _plain_resolver(_hass: object) -> ThreadedResolver:
    """Resolve names without zeroconf, as the test plugin does (no network component here)."""
    resolver = ThreadedResolver()
    resolver.real_close = resolver.close  # type: ignore[attr-defined]
    return resolver


def _prometheus_client(text: str) -> object:
    """Keep the same series, with their labels, as prometheus_client reads them."""
    kept: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in NODE_SERIES:
                kept.setdefault(sample.name, []).append(
                    (dict(sample.labels), sample.value)
                )
    return kept


def _parse_ratio(text: str) -> float:
    ratios = []
    for _ in range(PARSE_ROUNDS):
        started = time.perf_counter()
        parse_node(text)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        _prometheus_client(text)
        ratios.append(ours / (time.perf_counter() - started))
    return statistics.median(ratios)


def _shown(collector: NodeExporterCollector, sample: HostSample) -> dict[str, float]:
    """Return each host sensor's value by key, as the entities read it from the sample."""
    return {
        description.key: float(value)
        for description in ai_host_sensor_descriptions(collector.layout)
        if (value := description.value_fn(sample)) is not None
    }


class _Recorder:
    """Keeps every text the collector reads, with the time it takes as the reading's."""

    def __init__(self, collector: NodeExporterCollector) -> None:
        self.scrapes: list[tuple[str, float]] = []
        self._read = collector.read
        collector.read = self._recorded  # type: ignore[method-assign]

    def _recorded(self, not_before: float = 0.0) -> tuple[str, NodeReading, float]:
        text, reading, at = self._read(not_before)
        self.scrapes.append((text, at))
        return text, reading, at


async def _poll(collector: NodeExporterCollector) -> tuple[HostSample, float]:
    """Poll once; return the sample and the event loop's CPU time spent on it (ms).

    The loop's thread CPU time covers all the poll costs the loop, aiohttp reading the answer
    in its protocol callbacks included, and none of the time the process waits or is
    preempted (this machine is shared); nothing else runs on this loop meanwhile.
    """
    collector._next_poll = 0.0  # noqa: SLF001 - poll on every call
    started = time.thread_time()
    sample = await collector.async_collect()
    return sample, (time.thread_time() - started) * 1000


async def _aiohttp_loop_ms(hass: Any, url: str) -> float:
    """Return the loop's CPU time of only fetching the same text with aiohttp on the loop (ms).

    The peer: how Home Assistant integrations usually read an HTTP endpoint (its shared
    session), without even parsing the answer.
    """
    session = aiohttp_client.async_get_clientsession(hass)
    started = time.thread_time()
    async with session.get(url) as response:
        await response.read()
    return (time.thread_time() - started) * 1000


async def _measure(url: str) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as config_dir,
        patch.object(aiohttp_client, "_async_make_resolver", _plain_resolver),
    ):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            subentry = ConfigSubentry(
                data={CONF_NODE_EXPORTER_URL: url},
                subentry_type=SUBENTRY_AI_HOST,
                title="AI host bench",
                unique_id=None,
            )
            target = ScrapeTarget.exporter(url)
            collector = NodeExporterCollector(
                hass,
                "bench",
                exporter_settings(subentry, target),
                target,
                AiHostMemory(hass, "bench", {subentry.subentry_id}),
            )
            recorder = _Recorder(collector)
            url = f"{target.base}{target.path}"
            loop_ms, peer_ms = [], []
            for _ in range(POLLS):  # interleaved, so both meet the same machine
                _, spent = await _poll(collector)
                loop_ms.append(spent)
                peer_ms.append(await _aiohttp_loop_ms(hass, url))
            matched = compared = 0
            for _ in range(COMPARED_PAIRS):
                await _poll(collector)
                await asyncio.sleep(COMPARE_GAP_S)
                sample, _ = await _poll(collector)
                (first, then), (second, now) = recorder.scrapes[-2:]
                truth = host_truth(first, second, now - then)
                shown = _shown(collector, sample)
                compared += len(truth.keys() | shown.keys())
                matched += sum(
                    1
                    for key in truth
                    if key in shown and matches(key, shown[key], truth[key])
                )
            text = recorder.scrapes[-1][0]
            await hass.async_stop(force=True)
    return {
        "remote_host_fields_matched_share": round(matched / compared, 4),
        "remote_host_fields_compared": compared,
        "remote_scrape_loop_ms_p95": round(
            statistics.quantiles(loop_ms, n=20)[-1] if len(loop_ms) > 1 else loop_ms[0],
            4,
        ),
        "remote_scrape_loop_ms_p50": round(statistics.median(loop_ms), 4),
        "remote_aiohttp_fetch_loop_ms_p50": round(statistics.median(peer_ms), 4),
        "remote_scrape_loop_vs_aiohttp_fetch_ratio": round(
            statistics.median(loop_ms) / statistics.median(peer_ms), 4
        ),
        "remote_parse_vs_prometheus_client_ratio": round(_parse_ratio(text), 4),
        "remote_payload_bytes": len(text.encode()),
    }


def main() -> None:
    """Run the benchmark against a real node_exporter and write its results."""
    with (
        tempfile.TemporaryDirectory(prefix="aip-bench-node-") as workdir,
        node_exporter(provisioned(), Path(workdir)) as url,
    ):
        results: dict[str, Any] = asyncio.run(_measure(url))
    results["remote_scrape_loop_ms_note"] = (
        "one poll of Debian's node_exporter 1.5.0: HTTP request, parse, figures"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
