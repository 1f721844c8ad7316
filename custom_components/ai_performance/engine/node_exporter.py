"""node_exporter's text, read into the figures of a host: one scrape, raw counters included.

The series and their meaning are node_exporter's own (collectors cpu, loadavg, meminfo,
filesystem, diskstats, netdev, pressure, uname). Utilisations and rates need two scrapes: the
collector keeps the previous reading and takes the differences (collectors/ai_host.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from typing import Final

from .prometheus import Labelled, parse_labelled

CPU_SECONDS: Final = "node_cpu_seconds_total"
LOAD: Final = ("node_load1", "node_load5", "node_load15")
MEM_TOTAL: Final = "node_memory_MemTotal_bytes"
MEM_AVAILABLE: Final = "node_memory_MemAvailable_bytes"
SWAP_TOTAL: Final = "node_memory_SwapTotal_bytes"
SWAP_FREE: Final = "node_memory_SwapFree_bytes"
FS_SIZE: Final = "node_filesystem_size_bytes"
FS_FREE: Final = "node_filesystem_free_bytes"
FS_AVAIL: Final = "node_filesystem_avail_bytes"
DISK_READ: Final = "node_disk_read_bytes_total"
DISK_WRITTEN: Final = "node_disk_written_bytes_total"
NET_RECEIVED: Final = "node_network_receive_bytes_total"
NET_SENT: Final = "node_network_transmit_bytes_total"
# Seconds in which at least one task waited ("some" in /proc/pressure), per resource.
PRESSURE: Final = {
    "cpu": "node_pressure_cpu_waiting_seconds_total",
    "memory": "node_pressure_memory_waiting_seconds_total",
    "io": "node_pressure_io_waiting_seconds_total",
}
UNAME: Final = "node_uname_info"
BUILD_INFO: Final = "node_exporter_build_info"
NODE_SERIES: Final = frozenset(
    {
        CPU_SECONDS,
        *LOAD,
        MEM_TOTAL,
        MEM_AVAILABLE,
        SWAP_TOTAL,
        SWAP_FREE,
        FS_SIZE,
        FS_FREE,
        FS_AVAIL,
        DISK_READ,
        DISK_WRITTEN,
        NET_RECEIVED,
        NET_SENT,
        *PRESSURE.values(),
        UNAME,
        BUILD_INFO,
    }
)
# File systems that live in memory, not on a disk: node_exporter reports /run and /dev/shm.
MEMORY_FILE_SYSTEMS: Final = frozenset({"tmpfs", "ramfs", "devtmpfs"})
# At most this many file systems are reported (the largest first): a host with hundreds of
# container mounts must not make hundreds of entities.
MAX_FILE_SYSTEMS: Final = 16
LOOPBACK: Final = "lo"


class NotNodeExporterError(ValueError):
    """The text has none of node_exporter's series."""


class SeveralMachinesError(ValueError):
    """The text holds the series of several machines (a Prometheus selector too wide)."""

    def __init__(self, machines: int) -> None:
        """Say how many machines."""
        super().__init__(f"the series of {machines} machines")
        self.machines = machines


@dataclass(frozen=True, slots=True)
class FileSystem:
    """One mounted file system, in bytes as statfs gives them."""

    size: float
    free: float
    avail: float

    @property
    def used_percent(self) -> float:
        """Return the share in use as df and psutil show it: used / (used + available)."""
        used = self.size - self.free
        total = used + self.avail
        return round(used / total * 100, 1) if total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class NodeReading:
    """One scrape of node_exporter; a figure is None (or empty) where it had no series."""

    # CPU ("0", "1", ...) -> mode -> cumulative seconds.
    cpus: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    load: tuple[float, float, float] | None = None
    memory_total: float | None = None
    memory_available: float | None = None
    swap_total: float | None = None
    swap_free: float | None = None
    # Mount point -> file system, real (on-disk) file systems only.
    file_systems: Mapping[str, FileSystem] = field(default_factory=dict)
    # Cumulative bytes over every disk / every network interface but loopback.
    disk_read: float | None = None
    disk_written: float | None = None
    net_received: float | None = None
    net_sent: float | None = None
    # Resource -> cumulative seconds some task waited.
    pressure: Mapping[str, float] = field(default_factory=dict)
    hostname: str = ""
    version: str = ""
    # When Prometheus scraped these series (s), where the text is its federation's; None for
    # node_exporter's own answer, which is of now.
    scraped_at: float | None = None

    @property
    def memory_percent(self) -> float | None:
        """Return the share of memory in use, as psutil: (total - available) / total."""
        total, available = self.memory_total, self.memory_available
        if not total or available is None:
            return None
        return round((total - available) / total * 100, 1)

    @property
    def swap_percent(self) -> float | None:
        """Return the share of swap in use; 0 without swap, as psutil."""
        total, free = self.swap_total, self.swap_free
        if total is None or free is None:
            return None
        return round((total - free) / total * 100, 1) if total > 0 else 0.0


def parse_node(text: str) -> NodeReading:
    """Read one node_exporter scrape; NotNodeExporterError for text of another exporter."""
    samples = parse_labelled(text, NODE_SERIES)
    if not samples.keys() & {CPU_SECONDS, MEM_TOTAL, *LOAD}:
        msg = (
            "no node_cpu_seconds_total, node_load1 or node_memory_MemTotal_bytes series"
        )
        raise NotNodeExporterError(msg)
    if (machines := len(samples.get(MEM_TOTAL, ()))) > 1:
        raise SeveralMachinesError(machines)
    one, five, fifteen = (_single(samples, name) for name in LOAD)
    return NodeReading(
        cpus=_cpus(samples),
        load=(
            (one, five, fifteen)
            if one is not None and five is not None and fifteen is not None
            else None
        ),
        memory_total=_single(samples, MEM_TOTAL),
        memory_available=_single(samples, MEM_AVAILABLE),
        swap_total=_single(samples, SWAP_TOTAL),
        swap_free=_single(samples, SWAP_FREE),
        file_systems=_file_systems(samples),
        disk_read=_total(samples, DISK_READ),
        disk_written=_total(samples, DISK_WRITTEN),
        net_received=_total(samples, NET_RECEIVED, skip_device=LOOPBACK),
        net_sent=_total(samples, NET_SENT, skip_device=LOOPBACK),
        pressure={
            resource: value
            for resource, name in PRESSURE.items()
            if (value := _single(samples, name)) is not None
        },
        hostname=_label(samples, UNAME, "nodename"),
        version=_label(samples, BUILD_INFO, "version"),
        scraped_at=_scraped_at(text),
    )


def _scraped_at(text: str) -> float | None:
    """Return when Prometheus scraped the series (s), from the memory total's timestamp.

    Federation writes each sample's timestamp (ms) after its value; node_exporter writes none.
    """
    if text.startswith(MEM_TOTAL):
        start = 0
    elif (start := text.find(f"\n{MEM_TOTAL}") + 1) == 0:
        return None
    end = text.find("\n", start)
    line = text[start : end if end != -1 else len(text)]
    parts = line[line.rfind("}") + 1 :].split()
    if len(parts) != 2:
        return None
    try:
        return int(parts[1]) / 1000
    except ValueError:
        return None


def _finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


def _single(samples: Labelled, name: str) -> float | None:
    """Return the value of a series without labels (the first sample), None if absent."""
    for _, value in samples.get(name, ()):
        return value if _finite(value) else None
    return None


def _label(samples: Labelled, name: str, label: str) -> str:
    for labels, _ in samples.get(name, ()):
        return labels.get(label, "")
    return ""


def _total(
    samples: Labelled, name: str, *, skip_device: str | None = None
) -> float | None:
    """Return the sum over every device of a counter; None where no device reports it."""
    values = [
        value
        for labels, value in samples.get(name, ())
        if labels.get("device") != skip_device and _finite(value)
    ]
    return sum(values) if values else None


def _cpus(samples: Labelled) -> dict[str, dict[str, float]]:
    cpus: dict[str, dict[str, float]] = {}
    for labels, value in samples.get(CPU_SECONDS, ()):
        cpu, mode = labels.get("cpu"), labels.get("mode")
        if cpu is not None and mode is not None and _finite(value):
            cpus.setdefault(cpu, {})[mode] = value
    return dict(sorted(cpus.items(), key=lambda item: _cpu_order(item[0])))


def _cpu_order(cpu: str) -> tuple[int, str]:
    return (int(cpu), "") if cpu.isdigit() else (1 << 30, cpu)


def _file_systems(samples: Labelled) -> dict[str, FileSystem]:
    """Return the on-disk file systems by mount point, the largest first, at most a few."""
    parts: dict[str, dict[str, float]] = {}
    for name in (FS_SIZE, FS_FREE, FS_AVAIL):
        for labels, value in samples.get(name, ()):
            if labels.get("fstype") in MEMORY_FILE_SYSTEMS or not _finite(value):
                continue
            if (mount := labels.get("mountpoint")) is not None:
                parts.setdefault(mount, {})[name] = value
    systems = [
        (mount, FileSystem(size=p[FS_SIZE], free=p[FS_FREE], avail=p[FS_AVAIL]))
        for mount, p in parts.items()
        if len(p) == 3 and p[FS_SIZE] > 0  # size, free and avail
    ]
    systems.sort(key=lambda item: (-item[1].size, item[0]))
    return dict(sorted(systems[:MAX_FILE_SYSTEMS]))
