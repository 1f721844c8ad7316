"""Cost of one host sample, the work every coordinator tick does for the host source.

Peer in the same run: the psutil calls systemmonitor makes for the same two values
(cpu_percent(interval=None) + virtual_memory()), so the ratio holds on a noisy shared machine.
Writes benchmarks/results/host_collection.json.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
import json
from pathlib import Path
import statistics
import sys
import time
from unittest.mock import MagicMock

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.ai_performance.collectors import host
from custom_components.ai_performance.const import UPDATE_INTERVAL

ROUNDS = 2000
RESULTS = Path(__file__).parent / "results" / "host_collection.json"


def _median_ms(fn: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _peer() -> None:
    psutil.cpu_percent(interval=None)
    psutil.virtual_memory()


async def _tick_median_ms(read: Callable[[], object], rounds: int) -> float:
    """Time the sample as a tick takes it: in an executor thread, awaited on the loop."""
    loop = asyncio.get_running_loop()
    timings = []
    with ThreadPoolExecutor(max_workers=1) as executor:
        for _ in range(rounds):
            started = time.perf_counter()
            await loop.run_in_executor(executor, read)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    """Measure and write the results."""
    collector = host.HostCollector(MagicMock())
    # Only the work of a tick, not the once-only wait for the first CPU interval.
    host.MIN_CPU_INTERVAL = 0.0
    collector._read_cpu_times()  # noqa: SLF001 - the baseline async_start would take
    ours = _median_ms(collector._read, ROUNDS)  # noqa: SLF001 - exactly what a tick runs
    peer = _median_ms(_peer, ROUNDS)
    tick = asyncio.run(_tick_median_ms(collector._read, ROUNDS))  # noqa: SLF001
    interval_ms = UPDATE_INTERVAL.total_seconds() * 1000
    results = {
        "host_sample_median_ms": round(ours, 4),
        "psutil_peer_median_ms": round(peer, 4),
        "host_sample_vs_peer_ratio": round(ours / peer, 3),
        "host_tick_median_ms": round(tick, 4),
        "host_tick_share_of_interval_pct": round(tick / interval_ms * 100, 5),
        "host_sample_note": (
            f"medians of {ROUNDS}; sample = psutil reads alone, tick = the same through an "
            "executor thread as the coordinator runs it; peer = systemmonitor's psutil calls"
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
