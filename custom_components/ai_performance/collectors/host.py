"""Host source: the machine Home Assistant runs on, read with psutil in the executor."""

from dataclasses import dataclass
import time

from homeassistant.core import HomeAssistant
import psutil

from ..const import DEFAULT_COLLECT_TIMEOUT, SOURCE_HOST
from ..engine.cpu import busy_percent

# psutil's own advice: CPU utilisation over less than 0.1 s is mostly noise.
MIN_CPU_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class HostSample:
    """One reading of the host."""

    cpu_percent: float
    memory_percent: float


class HostCollector:
    """Reads CPU and memory utilisation of the host."""

    key = SOURCE_HOST
    timeout = DEFAULT_COLLECT_TIMEOUT

    def __init__(self, hass: HomeAssistant) -> None:
        """Initialise the collector; nothing is read until async_start."""
        self._hass = hass
        self._cpu_times: dict[str, float] = {}
        self._cpu_read_at = 0.0

    async def async_start(self) -> None:
        """Take the first CPU reading, the baseline of the first sample."""
        await self._hass.async_add_executor_job(self._read_cpu_times)

    async def async_collect(self) -> HostSample:
        """Return CPU utilisation since the previous sample and current memory use."""
        return await self._hass.async_add_executor_job(self._read)

    async def async_stop(self) -> None:
        """Nothing to release: psutil keeps no handles for what we read."""

    def _read_cpu_times(self) -> tuple[dict[str, float], dict[str, float]]:
        """Replace the CPU baseline with a fresh reading; return (previous, current)."""
        wait = self._cpu_read_at + MIN_CPU_INTERVAL - time.monotonic()
        if wait > 0:
            # Only when two samples come back to back (start, then the first tick): executor thread.
            time.sleep(wait)
        previous = self._cpu_times
        self._cpu_times = psutil.cpu_times()._asdict()
        self._cpu_read_at = time.monotonic()
        return previous, self._cpu_times

    def _read(self) -> HostSample:
        previous, current = self._read_cpu_times()
        return HostSample(
            cpu_percent=round(busy_percent(previous, current), 1),
            memory_percent=psutil.virtual_memory().percent,
        )
