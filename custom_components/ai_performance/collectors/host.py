"""Host source: the machine Home Assistant runs on, read with psutil in the executor.

Only what enabled entities need is read (see Needs): on a Raspberry Pi every psutil call counts.
Utilisations and rates are deltas between two readings, so the collector keeps the previous
reading of every cumulative counter it reads.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
import time

from homeassistant.core import HomeAssistant
import psutil

from ..const import DEFAULT_COLLECT_TIMEOUT, SOURCE_HOST
from ..engine.cpu import busy_percent
from ..engine.pressure import some_avg10
from ..engine.rates import CounterRate
from ..metering import async_run_blocking
from .base import Needs
from .loop_lag import LoopLag, LoopLagProbe

# psutil's own advice: CPU utilisation over less than 0.1 s is mostly noise.
MIN_CPU_INTERVAL = 0.1
PRESSURE_DIR = Path("/proc/pressure")
PRESSURE_RESOURCES = ("cpu", "memory", "io")

# What the host source can read; entities subscribe to these (disks add "disk:<path>").
NEED_CPU = "cpu"
NEED_CPU_CORES = "cpu_cores"
NEED_LOAD = "load"
NEED_MEMORY = "memory"
NEED_SWAP = "swap"
NEED_DISK_IO = "disk_io"
NEED_NETWORK = "network"
NEED_PRESSURE = "pressure"
NEED_PROCESS = "process"
NEED_LOOP_LAG = "loop_lag"
# Needs whose value is a delta between two readings: they wait for MIN_CPU_INTERVAL.
_DELTA_NEEDS = frozenset({NEED_CPU, NEED_CPU_CORES, NEED_PROCESS})


def monitored_disks(config_dir: str, chosen: Iterable[str]) -> tuple[str, ...]:
    """Return the paths whose file systems are reported: the config directory's first."""
    return tuple(dict.fromkeys((config_dir, *chosen)))


def disk_need(path: str) -> str:
    """Return the need of the disk usage of the file system holding ``path``."""
    return f"disk:{path}"


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Use of one file system."""

    used_percent: float
    free_bytes: int


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """What the Home Assistant process itself uses."""

    # Share of one CPU core, as top shows it: 100 % is one core fully busy.
    cpu_percent: float | None
    rss_bytes: int
    threads: int
    open_fds: int | None


@dataclass(frozen=True, slots=True)
class HostSample:
    """One reading of the host; a field is None (or empty) when no entity needed it."""

    cpu_percent: float | None = None
    cpu_core_percent: tuple[float, ...] = ()
    load: tuple[float, float, float] | None = None
    memory_percent: float | None = None
    memory_available_bytes: int | None = None
    swap_percent: float | None = None
    disks: Mapping[str, DiskUsage] = field(default_factory=dict)
    disk_read_rate: float | None = None
    disk_write_rate: float | None = None
    network_in_rate: float | None = None
    network_out_rate: float | None = None
    # Resource ("cpu", "memory", "io") -> PSI "some avg10" in %; only where the kernel has PSI.
    pressure: Mapping[str, float] = field(default_factory=dict)
    process: ProcessUsage | None = None
    loop_lag: LoopLag | None = None
    # An AI host's name (its title); "" for Home Assistant's own host.
    name: str = ""


class HostCollector:
    """Reads the host's resource use, the Home Assistant process and the event-loop lag."""

    key = SOURCE_HOST
    timeout = DEFAULT_COLLECT_TIMEOUT

    def __init__(
        self, hass: HomeAssistant, needs: Needs, chosen_disks: Iterable[str] = ()
    ) -> None:
        """Initialise the collector; nothing is read until async_start.

        ``chosen_disks``: mounts to report besides the configuration directory's file system.
        """
        self._hass = hass
        self._needs = needs
        self.disk_paths = monitored_disks(hass.config.config_dir, chosen_disks)
        self._offered = frozenset(
            {
                NEED_CPU,
                NEED_CPU_CORES,
                NEED_LOAD,
                NEED_MEMORY,
                NEED_SWAP,
                NEED_DISK_IO,
                NEED_NETWORK,
                NEED_PRESSURE,
                NEED_PROCESS,
                NEED_LOOP_LAG,
                *(disk_need(path) for path in self.disk_paths),
            }
        )
        self._process = psutil.Process()
        self._read_at = 0.0
        self._cpu_times: dict[str, float] = {}
        self._core_times: list[dict[str, float]] = []
        self._process_cpu_s: float | None = None
        self._process_read_at = 0.0
        self._rates = {
            name: CounterRate()
            for name in ("disk_read", "disk_write", "net_in", "net_out")
        }
        self._loop_lag = LoopLagProbe(hass.loop)

    async def async_start(self) -> None:
        """Take the first reading of every counter, the baseline of the first sample."""
        await async_run_blocking(self._hass, lambda: self._read(self._offered))
        self._loop_lag.start()

    async def async_collect(self) -> HostSample:
        """Return what the enabled entities need: utilisations since the previous sample."""
        wanted = self._needs.select(self.key, self._offered)
        sample = await async_run_blocking(self._hass, lambda: self._read(wanted))
        if NEED_LOOP_LAG in wanted:
            return replace(sample, loop_lag=self._loop_lag.take())
        return sample

    async def async_stop(self) -> None:
        """Stop the loop probe; psutil keeps no handles for what we read."""
        self._loop_lag.stop()

    def _read(self, wanted: frozenset[str]) -> HostSample:
        """Read what is wanted (executor thread)."""
        if wanted & _DELTA_NEEDS:
            wait = self._read_at + MIN_CPU_INTERVAL - time.monotonic()
            if wait > 0:
                # Only when two readings come back to back (start, then the first tick).
                time.sleep(wait)
        now = time.monotonic()
        self._read_at = now
        memory = psutil.virtual_memory() if NEED_MEMORY in wanted else None
        disk_io = psutil.disk_io_counters() if NEED_DISK_IO in wanted else None
        network_in, network_out = (
            self._network_rates(now) if NEED_NETWORK in wanted else (None, None)
        )
        return HostSample(
            cpu_percent=self._cpu_percent() if NEED_CPU in wanted else None,
            cpu_core_percent=self._core_percents() if NEED_CPU_CORES in wanted else (),
            load=psutil.getloadavg() if NEED_LOAD in wanted else None,
            memory_percent=memory.percent if memory else None,
            memory_available_bytes=memory.available if memory else None,
            swap_percent=psutil.swap_memory().percent if NEED_SWAP in wanted else None,
            disks={
                path: _disk_usage(path)
                for path in self.disk_paths
                if disk_need(path) in wanted
            },
            # psutil gives no disk counters where the kernel exposes no disks (some containers).
            disk_read_rate=self._rate(
                "disk_read", None if disk_io is None else disk_io.read_bytes, now
            ),
            disk_write_rate=self._rate(
                "disk_write", None if disk_io is None else disk_io.write_bytes, now
            ),
            network_in_rate=network_in,
            network_out_rate=network_out,
            pressure=_pressure() if NEED_PRESSURE in wanted else {},
            process=self._process_usage(now) if NEED_PROCESS in wanted else None,
        )

    def _cpu_percent(self) -> float:
        previous, self._cpu_times = self._cpu_times, psutil.cpu_times()._asdict()
        return round(busy_percent(previous, self._cpu_times), 1)

    def _core_percents(self) -> tuple[float, ...]:
        previous = self._core_times
        self._core_times = [t._asdict() for t in psutil.cpu_times(percpu=True)]
        if len(previous) != len(
            self._core_times
        ):  # first reading, or CPUs came or went
            previous = [{} for _ in self._core_times]
        return tuple(
            round(busy_percent(before, after), 1)
            for before, after in zip(previous, self._core_times, strict=True)
        )

    def _rate(self, name: str, value: float | None, now: float) -> float | None:
        """Return the rate per second of counter ``name``, None without a reading."""
        if value is None:
            return None
        rate = self._rates[name].update(value, now)
        return None if rate is None else round(rate, 1)

    def _network_rates(self, now: float) -> tuple[float | None, float | None]:
        # Loopback traffic (Home Assistant talking to a model server on the same machine) is
        # not network traffic.
        nics = [
            counters
            for name, counters in psutil.net_io_counters(pernic=True).items()
            if name != "lo"
        ]
        received = sum(nic.bytes_recv for nic in nics)
        sent = sum(nic.bytes_sent for nic in nics)
        return self._rate("net_in", received, now), self._rate("net_out", sent, now)

    def _process_usage(self, now: float) -> ProcessUsage:
        process = self._process
        with process.oneshot():
            times = process.cpu_times()
            cpu_s = times.user + times.system
            memory = process.memory_info()
            threads = process.num_threads()
            open_fds = process.num_fds() if hasattr(process, "num_fds") else None
        previous_s, self._process_cpu_s = self._process_cpu_s, cpu_s
        elapsed, self._process_read_at = now - self._process_read_at, now
        cpu_percent = (
            round(max(0.0, cpu_s - previous_s) / elapsed * 100, 1)
            if previous_s is not None and elapsed > 0
            else None
        )
        return ProcessUsage(
            cpu_percent=cpu_percent,
            rss_bytes=memory.rss,
            threads=threads,
            open_fds=open_fds,
        )


def _disk_usage(path: str) -> DiskUsage:
    usage = psutil.disk_usage(path)
    return DiskUsage(used_percent=usage.percent, free_bytes=usage.free)


def _pressure() -> dict[str, float]:
    """Read PSI where the kernel has it (Linux 4.20+, not every container)."""
    pressure = {}
    for resource in PRESSURE_RESOURCES:
        try:
            # open() rather than Path.read_text: this runs every tick, and pathlib costs more.
            with open(f"{PRESSURE_DIR}/{resource}", encoding="ascii") as file:  # noqa: PTH123
                text = file.read()
        except OSError:
            continue
        if (avg10 := some_avg10(text)) is not None:
            pressure[resource] = avg10
    return pressure
