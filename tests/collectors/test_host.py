"""The host collector against the real psutil of this machine."""

import asyncio
from collections.abc import Callable
from pathlib import Path
import time
from typing import cast
from unittest.mock import Mock, patch

from homeassistant.core import HomeAssistant
import psutil

from custom_components.ai_performance.collectors import host
from custom_components.ai_performance.collectors.base import Needs
from custom_components.ai_performance.collectors.host import (
    MIN_CPU_INTERVAL,
    HostCollector,
    HostSample,
)
from custom_components.ai_performance.collectors.loop_lag import (
    PROBE_PERIOD,
    LoopLag,
    LoopLagProbe,
)

# The resources this machine's kernel reports pressure for (checked once, off the event loop).
PSI_RESOURCES = {
    r for r in ("cpu", "memory", "io") if Path("/proc/pressure", r).exists()
}


# The resources this machine's kernel reports pressure for (checked once, off the event loop).
PSI_RESOURCES = {
    r for r in ("cpu", "memory", "io") if Path("/proc/pressure", r).exists()
}


async def _collect_twice(collector: HostCollector) -> HostSample:
    await collector.async_start()
    try:
        await collector.async_collect()
        return await collector.async_collect()
    finally:
        await collector.async_stop()


async def test_every_kpi_is_read_when_everything_is_wanted(hass: HomeAssistant) -> None:
    collector = HostCollector(hass, Needs())

    sample = await _collect_twice(collector)

    assert sample.cpu_percent is not None
    assert 0.0 <= sample.cpu_percent <= 100.0
    assert len(sample.cpu_core_percent) == psutil.cpu_count()
    assert all(0.0 <= core <= 100.0 for core in sample.cpu_core_percent)
    assert sample.load is not None
    assert all(load >= 0 for load in sample.load)
    assert sample.memory_percent is not None
    assert 0.0 < sample.memory_percent < 100.0
    assert 0 < (sample.memory_available_bytes or 0) < psutil.virtual_memory().total
    assert sample.swap_percent is not None
    assert 0.0 <= sample.swap_percent <= 100.0
    config_disk = sample.disks[hass.config.config_dir]
    assert 0.0 < config_disk.used_percent <= 100.0
    assert config_disk.free_bytes > 0
    assert sample.network_in_rate is not None
    assert sample.network_in_rate >= 0
    assert sample.network_out_rate is not None
    assert sample.network_out_rate >= 0
    assert sample.process is not None
    assert sample.process.rss_bytes > 10 * 1024**2
    assert sample.process.threads >= 1
    assert sample.process.open_fds is not None
    assert sample.process.open_fds > 0
    assert sample.process.cpu_percent is not None
    assert sample.process.cpu_percent >= 0


async def test_pressure_is_read_where_the_kernel_has_it(hass: HomeAssistant) -> None:
    collector = HostCollector(hass, Needs())

    sample = await _collect_twice(collector)

    assert set(sample.pressure) == PSI_RESOURCES
    assert all(0.0 <= value <= 100.0 for value in sample.pressure.values())


async def test_no_pressure_entities_without_psi(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    collector = HostCollector(hass, Needs())

    with patch.object(host, "PRESSURE_DIR", tmp_path / "missing"):
        sample = await _collect_twice(collector)

    assert sample.pressure == {}


async def test_only_what_entities_need_is_read(hass: HomeAssistant) -> None:
    needs = Needs()
    collector = HostCollector(hass, needs)
    await collector.async_start()
    needs.narrow()
    unsubscribe = needs.async_subscribe("host", host.NEED_LOAD)

    with (
        patch("psutil.virtual_memory", wraps=psutil.virtual_memory) as memory,
        patch("psutil.cpu_times", wraps=psutil.cpu_times) as cpu_times,
    ):
        sample = await collector.async_collect()
        unsubscribe()
        nothing = await collector.async_collect()
    await collector.async_stop()

    assert sample.load is not None
    assert sample.memory_percent is None
    assert sample.cpu_percent is None
    assert sample.disks == {}
    assert sample.process is None
    memory.assert_not_called()
    cpu_times.assert_not_called()
    assert nothing == HostSample()


async def test_chosen_disks_are_reported_besides_the_config_directory(
    hass: HomeAssistant,
) -> None:
    collector = HostCollector(hass, Needs(), ["/", hass.config.config_dir])

    sample = await _collect_twice(collector)

    assert collector.disk_paths == (hass.config.config_dir, "/")
    assert set(sample.disks) == {hass.config.config_dir, "/"}


async def test_cpu_is_measured_over_at_least_the_minimum_interval(
    hass: HomeAssistant,
) -> None:
    collector = HostCollector(hass, Needs())
    await collector.async_start()

    started = time.monotonic()
    await collector.async_collect()
    await collector.async_stop()

    # Straight after start, the sample waits rather than report noise over a few microseconds.
    assert time.monotonic() - started >= MIN_CPU_INTERVAL * 0.9


async def test_loop_lag_shows_a_blocked_event_loop(hass: HomeAssistant) -> None:
    collector = HostCollector(hass, Needs())
    await collector.async_start()
    await asyncio.sleep(PROBE_PERIOD * 1.5)
    # A probe falls due within PROBE_PERIOD of the start of this block: it runs >= 0.3 s late.
    time.sleep(PROBE_PERIOD + 0.3)  # noqa: ASYNC251 - blocking the loop is what is measured
    await asyncio.sleep(PROBE_PERIOD * 1.2)

    sample = await collector.async_collect()
    await collector.async_stop()

    assert sample.loop_lag is not None
    assert sample.loop_lag.probes >= 2
    assert 300 <= sample.loop_lag.max_ms < 1000


class _ManualLoop:
    """The two calls the probe makes on its loop, with a clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Mock:
        self.timers.append((when, callback))
        return Mock()

    def run_late(self, late: float) -> None:
        """Run the pending probe ``late`` seconds after it fell due."""
        when, callback = self.timers.pop(0)
        self.now = when + late
        callback()


def test_loop_lag_is_unknown_until_the_first_probe_has_run() -> None:
    probe = LoopLagProbe(cast("asyncio.AbstractEventLoop", _ManualLoop()))
    probe.start()

    assert probe.take() is None


def test_loop_lag_keeps_its_figure_when_no_probe_ran_since_the_last_collection() -> (
    None
):
    loop = _ManualLoop()
    probe = LoopLagProbe(cast("asyncio.AbstractEventLoop", loop))
    probe.start()
    loop.run_late(0.2)

    first = probe.take()
    # A refresh asked for straight after a tick: less than PROBE_PERIOD later, no probe has run.
    again = probe.take()
    loop.run_late(0.05)
    after_next_probe = probe.take()

    assert first == again == LoopLag(p95_ms=200.0, max_ms=200.0, probes=1)
    assert after_next_probe == LoopLag(p95_ms=50.0, max_ms=50.0, probes=1)
