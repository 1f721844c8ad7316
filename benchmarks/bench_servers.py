"""Our cost of reading model servers.

Writes benchmarks/results/servers.json (see docs/performance.md):
- prom_parse_ms_p50: reading a 305-line vLLM exposition (tests/fixtures/vllm_metrics.txt, as
  vLLM writes it) and extracting the series we use, median of 2000 rounds.
- prom_parse_vs_prometheus_client_ratio: that time divided by prometheus_client's own parser
  (text_string_to_metric_families) reading the same text and extracting the same series, in the
  same run; median of the per-round ratios.
- server_tick_loop_ms: event-loop time of one poll of a vLLM server (the HTTP requests, reading
  the answers, parsing, KPIs) in a real Home Assistant against a real local server, measured by
  the same meter as the coordinator's overhead sensors (waiting for the network excluded);
  median of 300 polls.
"""

# ruff: noqa: E402, I001 - the path is fixed, then tests.ha_compat loaded, before other imports
from pathlib import Path
import sys

# The repository root replaces the script's own folder on the path: the integration, the tests'
# helpers and benchmarks.smoke are imported from there.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import asyncio
import json
import statistics
import tempfile
import time
from unittest.mock import patch

from aiohttp.resolver import ThreadedResolver

# The test plugin's helpers on Home Assistant 2026.11: see tests/ha_compat.py.
import tests.ha_compat  # noqa: F401
from prometheus_client.parser import text_string_to_metric_families
from pytest_homeassistant_custom_component.common import async_test_home_assistant

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_URL
from homeassistant.helpers import aiohttp_client

from custom_components.ai_performance.collectors.servers.base import ServerSettings
from custom_components.ai_performance.collectors.servers.openai_compatible import (
    OpenAICompatibleCollector,
)
from custom_components.ai_performance.const import CONF_SERVER_KIND
from custom_components.ai_performance.engine.prometheus import parse_series
from custom_components.ai_performance.engine.server_metrics import (
    METRIC_NAMES,
    ServerKind,
)
from custom_components.ai_performance.metering import LoopTimedCall, SourceMeter
from benchmarks.smoke import output, size
from tests.servers.fake_servers import VllmState, fixture_text, vllm_server

RESULTS = output(Path(__file__).parent / "results" / "servers.json")
PARSE_ROUNDS = size(2000, 20)
POLLS = size(300, 3)
NAMES = METRIC_NAMES[ServerKind.VLLM]


def _ours(text: str) -> object:
    return parse_series(text, NAMES.values, NAMES.histograms)


def _prometheus_client(text: str) -> object:
    """Extract the same series (sums over label sets, buckets by le) with prometheus_client."""
    values: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {}
    wanted = NAMES.values
    histograms = {f"{name}_bucket": name for name in NAMES.histograms}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
            elif (base := histograms.get(sample.name)) is not None:
                counts = buckets.setdefault(base, {})
                le = float(sample.labels["le"])
                counts[le] = counts.get(le, 0.0) + sample.value
    return values, buckets


def _parse_figures(text: str) -> tuple[float, float]:
    ours, ratios = [], []
    for _ in range(PARSE_ROUNDS):
        started = time.perf_counter()
        _ours(text)
        mine = time.perf_counter() - started
        started = time.perf_counter()
        _prometheus_client(text)
        theirs = time.perf_counter() - started
        ours.append(mine * 1000)
        ratios.append(mine / theirs)
    return statistics.median(ours), statistics.median(ratios)


def _plain_resolver(_hass: object) -> ThreadedResolver:
    """Resolve names without zeroconf, as the test plugin does (no network component here)."""
    resolver = ThreadedResolver()
    resolver.real_close = resolver.close  # type: ignore[attr-defined]
    return resolver


async def _tick_loop_ms() -> float:
    with (
        tempfile.TemporaryDirectory() as config_dir,
        patch.object(aiohttp_client, "_async_make_resolver", _plain_resolver),
    ):
        async with (
            async_test_home_assistant(config_dir=config_dir) as hass,
            vllm_server(VllmState()) as server,
        ):
            subentry = ConfigSubentry(
                data={CONF_URL: server.url, CONF_SERVER_KIND: "vllm"},
                subentry_type="openai_compatible",
                title="vLLM",
                unique_id=None,
            )
            collector = OpenAICompatibleCollector(
                hass, "bench", ServerSettings.from_subentry(subentry)
            )
            timings = []
            for _ in range(POLLS):
                collector._next_poll = 0.0  # noqa: SLF001 - poll on every call
                meter = SourceMeter()
                await LoopTimedCall(collector.async_collect(), meter)
                timings.append(meter.loop_s * 1000)
            await hass.async_stop(force=True)
    return statistics.median(timings)


def main() -> None:
    """Run the benchmark and write its results."""
    text = fixture_text("vllm_metrics.txt")
    assert _ours(text) is not None
    parse_ms, ratio = _parse_figures(text)
    results = {
        "prom_parse_ms_p50": round(parse_ms, 4),
        "prom_parse_vs_prometheus_client_ratio": round(ratio, 4),
        "prom_parse_lines": len(text.splitlines()),
        "server_tick_loop_ms": round(asyncio.run(_tick_loop_ms()), 4),
        "server_tick_loop_ms_note": "one vLLM poll: two HTTP requests, parse, KPIs",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
