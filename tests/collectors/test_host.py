"""The host collector against the real psutil of this machine."""

import time

from homeassistant.core import HomeAssistant

from custom_components.ai_performance.collectors.host import (
    MIN_CPU_INTERVAL,
    HostCollector,
    HostSample,
)


async def test_samples_are_percentages(hass: HomeAssistant) -> None:
    collector = HostCollector(hass)
    await collector.async_start()

    samples = [await collector.async_collect() for _ in range(2)]
    await collector.async_stop()

    for sample in samples:
        assert isinstance(sample, HostSample)
        assert 0.0 <= sample.cpu_percent <= 100.0
        assert 0.0 < sample.memory_percent < 100.0


async def test_cpu_is_measured_over_at_least_the_minimum_interval(
    hass: HomeAssistant,
) -> None:
    collector = HostCollector(hass)
    await collector.async_start()

    started = time.monotonic()
    await collector.async_collect()

    # Straight after start, the sample waits rather than report noise over a few microseconds.
    assert time.monotonic() - started >= MIN_CPU_INTERVAL * 0.9
