"""Our own cost for the host and GPU sources, against Home Assistant's systemmonitor.

Writes benchmarks/results/host.json (see docs/performance.md):
- host_collect_p50_ms / host_collect_p95_ms: one full host collection, every host KPI wanted
  (psutil reads, PSI, the HA process), as the executor thread runs it.
- host_vs_systemmonitor_ratio: our collection of the metrics both integrations read (CPU, load,
  memory, swap, the config disk, network counters, PSI) divided by systemmonitor's own code
  reading them (its coordinator's update_data plus the load and CPU reads of its tick), both
  called the same way in this process; p50 ratio.
- tick_loop_ms_p50 / tick_loop_ms_p95: event-loop time of one real coordinator tick (a real
  Home Assistant, our coordinator, host + GPU sources with the fake NVML's two GPUs), measured
  as the loop thread's CPU time: the blocking work runs in executor threads.
"""

# ruff: noqa: E402, I001 - the path is fixed, then tests.ha_compat loaded, before other imports
from pathlib import Path
import sys

# The repository root replaces the script's own folder on the path: the integration, the tests'
# helpers and benchmarks.smoke are imported from there.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import asyncio
from collections.abc import Callable
import json
import statistics
import tempfile
import time
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

# The test plugin's helpers on Home Assistant 2026.11: see tests/ha_compat.py.
import tests.ha_compat  # noqa: F401
import psutil
import psutil_home_assistant as ha_psutil

from homeassistant.components.systemmonitor.coordinator import SystemMonitorCoordinator
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.ai_performance.collectors import gpu as gpu_collector, host
from custom_components.ai_performance.collectors.base import Needs
from custom_components.ai_performance.const import DOMAIN
from custom_components.ai_performance.coordinator import AIPerformanceCoordinator
from benchmarks.smoke import output, size
from tests.fake_pynvml import FakeGpu, FakeNvml

ROUNDS = size(500, 20)
TICKS = size(300, 5)
RESULTS = output(Path(__file__).parent / "results" / "host.json")
OVERLAP = (
    host.NEED_CPU,
    host.NEED_LOAD,
    host.NEED_MEMORY,
    host.NEED_SWAP,
    host.NEED_NETWORK,
    host.NEED_PRESSURE,
)


def _timings_ms(fn: Callable[[], object], rounds: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _p(timings: list[float], q: int) -> float:
    return round(statistics.quantiles(timings, n=100, method="inclusive")[q - 1], 4)


def _our_host(config_dir: str) -> tuple[Callable[[], object], Callable[[], object]]:
    """Return (full collection, overlapping collection) of our host collector."""
    fake_hass: Any = SimpleNamespace(
        config=SimpleNamespace(config_dir=config_dir), loop=asyncio.new_event_loop()
    )
    collector = host.HostCollector(fake_hass, Needs())
    everything = collector._offered  # noqa: SLF001 - what a tick reads with every entity on
    overlap = frozenset({*OVERLAP, host.disk_need(config_dir)})
    collector._read(everything)  # noqa: SLF001 - the baselines async_start takes
    return (
        lambda: collector._read(everything),  # noqa: SLF001 - exactly what a tick runs
        lambda: collector._read(overlap),  # noqa: SLF001
    )


def _systemmonitor(config_dir: str) -> Callable[[], object]:
    """Return systemmonitor's own reads of the overlapping metrics, as its tick runs them."""
    coordinator: Any = SystemMonitorCoordinator.__new__(SystemMonitorCoordinator)
    coordinator._psutil = ha_psutil.PsutilWrapper().psutil  # noqa: SLF001
    coordinator._arguments = [config_dir]  # noqa: SLF001
    coordinator._initial_update = False  # noqa: SLF001
    coordinator.boot_time = None
    subscribers = coordinator.set_subscribers_tuples([config_dir])
    for key in (
        ("disks", config_dir),
        ("swap", ""),
        ("memory", ""),
        ("io_counters", ""),
        ("load", ""),
        ("cpu_percent", ""),
        ("pressure", ""),
    ):
        subscribers[key] = {"benchmark"}
    coordinator.update_subscribers = subscribers

    def tick() -> object:
        data = coordinator.update_data()  # its executor part, then its loop part
        cpu = coordinator._psutil.cpu_percent(interval=None)  # noqa: SLF001
        return data, psutil.getloadavg(), cpu

    tick()
    return tick


async def _tick_loop_ms(rounds: int) -> tuple[list[float], list[float]]:
    """Loop-thread CPU time of real coordinator ticks, and the coordinator's own loop_ms."""
    nvml = FakeNvml([FakeGpu(uuid="GPU-bench-0"), FakeGpu(uuid="GPU-bench-1")])
    with (
        tempfile.TemporaryDirectory() as config_dir,
        patch.object(gpu_collector, "pynvml", nvml),
    ):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            entry = MockConfigEntry(domain=DOMAIN, entry_id="bench")
            entry.add_to_hass(hass)
            needs = Needs()
            collectors = [
                host.HostCollector(hass, needs),
                gpu_collector.GpuCollector(hass, needs),
            ]
            coordinator = AIPerformanceCoordinator(hass, entry, collectors)
            await coordinator._async_setup()  # noqa: SLF001 - starts the collectors
            thread_ms, own_ms = [], []
            for _ in range(rounds + 1):
                started = time.thread_time()
                await coordinator.async_refresh()
                thread_ms.append((time.thread_time() - started) * 1000)
                own_ms.append(coordinator.data.loop_ms)
            assert coordinator.data.sample("gpu", gpu_collector.GpuSample).readings
            await coordinator.async_shutdown()
            await hass.async_stop(force=True)
    return thread_ms[1:], own_ms[1:]


def main() -> None:
    """Measure and write the results."""
    config_dir = str(Path.home())
    host.MIN_CPU_INTERVAL = 0.0  # only the work of a tick, not the once-only first wait
    ours_full, ours_overlap = _our_host(config_dir)
    full = _timings_ms(ours_full, ROUNDS)
    peer_tick = _systemmonitor(config_dir)
    overlap: list[float] = []
    peer: list[float] = []
    for _ in range(ROUNDS):  # interleaved, so that both see the same machine noise
        overlap.extend(_timings_ms(ours_overlap, 1))
        peer.extend(_timings_ms(peer_tick, 1))
    thread_ms, own_ms = asyncio.run(_tick_loop_ms(TICKS))
    results = {
        "host_collect_p50_ms": _p(full, 50),
        "host_collect_p95_ms": _p(full, 95),
        "host_overlap_p50_ms": _p(overlap, 50),
        "systemmonitor_overlap_p50_ms": _p(peer, 50),
        "host_vs_systemmonitor_ratio": round(_p(overlap, 50) / _p(peer, 50), 3),
        "host_vs_systemmonitor_p95_ratio": round(_p(overlap, 95) / _p(peer, 95), 3),
        "tick_loop_ms_p50": _p(thread_ms, 50),
        "tick_loop_ms_p95": _p(thread_ms, 95),
        "tick_loop_own_meter_ms_p95": _p(own_ms, 95),
        "host_note": (
            f"{ROUNDS} rounds each, p50/p95; host_collect = every host KPI in one executor "
            "call; overlap = CPU, load, memory, swap, config disk, network, PSI, read by our "
            "collector and by systemmonitor's own update_data in the same process, interleaved"
        ),
        "gpu_note": (
            f"tick_loop over {TICKS} real coordinator ticks with the host and GPU sources; "
            "the GPU source runs over the fake NVML (two GPUs, every field), so its share "
            "measures only our own overhead, not the driver's; tick_loop = loop-thread CPU "
            "time (time.thread_time), tick_loop_own_meter = the coordinator's own loop_ms"
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
