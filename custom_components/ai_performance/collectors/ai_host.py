"""AI hosts: the machine a model server runs on, read from the exporters already running there.

An AI host is a config subentry with the URL of its node_exporter and/or of its GPU exporter
(NVIDIA's dcgm-exporter or nvidia_gpu_exporter); each URL is one collector, so one exporter
being down leaves the other's entities alone. Their samples are the local sources' own types
(HostSample, GpuSample), so every entity, alert, forecast and card works on them unchanged.

What a host had (its CPUs, disks and GPUs) is remembered across restarts (AiHostMemory): a
host that is down when Home Assistant starts keeps its devices and entities, unavailable.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
import math
import time
from typing import Any, Final, override
from urllib.parse import urlsplit, urlunsplit

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_SCAN_INTERVAL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from ..const import (
    CONF_GPU_EXPORTER_URL,
    CONF_GPU_SELECTOR,
    CONF_NODE_EXPORTER_URL,
    CONF_NODE_SELECTOR,
    CONF_OUTAGE_MINUTES,
    CONF_PROMETHEUS_URL,
    DEFAULT_OUTAGE_MINUTES,
    DEFAULT_SERVER_INTERVAL_S,
    DOMAIN,
    LOGGER,
    SUBENTRY_AI_HOST,
)
from ..engine.cpu import busy_percent
from ..engine.energy import EnergyReading
from ..engine.gpu import MILLIJOULES_PER_KWH
from ..engine.gpu_exporters import (
    ExportedGpu,
    GpuExporterKind,
    detect_gpu_exporter,
    parse_gpu_exporter,
)
from ..engine.node_exporter import NodeReading, parse_node
from ..engine.rates import CounterRate
from ..issues import async_clear_ai_host_unreachable, async_raise_ai_host_unreachable
from ..metering import async_run_blocking
from .exporter_http import fetch_text
from .gpu import (
    FIELD_ENERGY,
    FIELD_ENERGY_ESTIMATE,
    FIELD_XID,
    GpuInfo,
    GpuReading,
    GpuSample,
)
from .host import DiskUsage, HostSample
from .servers import base as server_base
from .servers.base import PolledCollector, ServerSettings
from .servers.client import ServerError, ServerProblem

METRICS_PATH: Final = "/metrics"
FEDERATE_PATH: Final = "/federate"
# An AI host's two exporters.
NODE: Final = "node"
GPU: Final = "gpu"
JOULES_PER_KWH: Final = MILLIJOULES_PER_KWH / 1000
# Power is integrated into energy only across gaps shorter than this: a longer gap (the
# exporter was down) would be a guess, so it counts nothing.
MAX_INTEGRATION_GAP_S: Final = 300.0
# The first figures after a start are taken at least this long after the first scrape.
MIN_RATE_INTERVAL_S: Final = 1.0
# An AI host's title, before the machine's name ("AI host gpu-box").
AI_HOST_TITLE: Final = "AI host"
MEMORY_VERSION: Final = 1
MEMORY_SAVE_DELAY_S: Final = 60.0
EXPORTER_NAMES: Final = {
    GpuExporterKind.DCGM: "dcgm-exporter",
    GpuExporterKind.NVIDIA_SMI: "nvidia_gpu_exporter",
}


def ai_host_subject(subentry_id: str) -> str:
    """Return the device subject of the AI host of config subentry ``subentry_id``."""
    return f"ai_host_{subentry_id}"


def ai_host_gpu_source(subentry_id: str) -> str:
    """Return the collector key of an AI host's GPU exporter."""
    return f"{GpuExporterCollector.source_prefix}:{subentry_id}"


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    """Where one exporter's text is read: the exporter itself, or a Prometheus federating it."""

    base: str
    path: str
    # Query parameters, as pairs (hashable: targets are compared to find duplicates).
    params: tuple[tuple[str, str], ...] = ()

    def fetch(self, verify_ssl: bool) -> str:  # noqa: FBT001 - the setting as saved
        """Return the exporter's text (blocking: for the executor)."""
        return fetch_text(
            self.base,
            self.path,
            dict(self.params) or None,
            seconds=server_base.POLL_TIMEOUT_S,
            verify_ssl=verify_ssl,
        )

    @classmethod
    def exporter(cls, url: str) -> ScrapeTarget:
        """Read an exporter's URL: /metrics unless the URL names a path."""
        parts = urlsplit(url)
        return cls(
            f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/") or METRICS_PATH
        )

    @classmethod
    def federated(cls, prometheus_url: str, selector: str) -> ScrapeTarget:
        """Read the series Prometheus holds for ``selector`` (its /federate endpoint).

        Federation answers in the exporters' own text format, with the latest value of each
        series: the same parser reads it.
        """
        return cls(
            prometheus_url.rstrip("/"),
            FEDERATE_PATH,
            (("match[]", series_selector(selector)),),
        )


def series_selector(selector: str) -> str:
    """Return a label selector in braces: ``instance="gpu-box:9100"`` -> ``{instance=...}``."""
    selector = selector.strip()
    return selector if selector.startswith("{") else f"{{{selector}}}"


def scrape_targets(data: Mapping[str, Any]) -> dict[str, ScrapeTarget]:
    """Return the targets of an AI host's exporters, by which ("node", "gpu")."""
    targets = {}
    if prometheus := data.get(CONF_PROMETHEUS_URL):
        for which, conf in ((NODE, CONF_NODE_SELECTOR), (GPU, CONF_GPU_SELECTOR)):
            if selector := data.get(conf):
                targets[which] = ScrapeTarget.federated(prometheus, selector)
        return targets
    for which, conf in ((NODE, CONF_NODE_EXPORTER_URL), (GPU, CONF_GPU_EXPORTER_URL)):
        if url := data.get(conf):
            targets[which] = ScrapeTarget.exporter(url)
    return targets


def exporter_settings(subentry: ConfigSubentry, target: ScrapeTarget) -> ServerSettings:
    """Return the polling settings of one exporter of an AI host."""
    data = dict(subentry.data)
    return ServerSettings(
        subentry_id=subentry.subentry_id,
        subentry_type=subentry.subentry_type,
        title=subentry.title,
        url=target.base,
        api_key=None,
        verify_ssl=data.get(CONF_VERIFY_SSL, True),
        interval_s=float(data.get(CONF_SCAN_INTERVAL, DEFAULT_SERVER_INTERVAL_S)),
        outage_s=60.0 * data.get(CONF_OUTAGE_MINUTES, DEFAULT_OUTAGE_MINUTES),
        data=data,
    )


@dataclass(slots=True)
class HostLayout:
    """What an AI host has, so that its entities exist while it is down."""

    cores: int = 0
    disks: tuple[str, ...] = ()
    pressure: tuple[str, ...] = ()
    hostname: str = ""
    version: str = ""
    gpus: dict[str, GpuInfo] = field(default_factory=dict)
    # Integrated GPU energy (kWh) by UUID, where the exporter gives only power.
    estimated_kwh: dict[str, float] = field(default_factory=dict)
    # Where each exporter was read ("node", "gpu" -> its URL): what it had is forgotten
    # when it moves (reconfigured to another machine).
    read_at: dict[str, str] = field(default_factory=dict)

    def moved(self, which: str, target: str) -> bool:
        """Forget what exporter ``which`` had if it is now read elsewhere; True if so."""
        before, self.read_at[which] = self.read_at.get(which), target
        if before is None or before == target:
            return before is None
        if which == NODE:
            self.cores, self.disks, self.pressure = 0, (), ()
            self.hostname = self.version = ""
        else:
            self.gpus, self.estimated_kwh = {}, {}
        return True


class AiHostMemory:
    """The layouts of every AI host of an entry, saved in .storage."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, subentry_ids: set[str]
    ) -> None:
        """Prepare the store of the AI hosts ``subentry_ids``; nothing is read until loaded."""
        self._store: Store[dict[str, Any]] = Store(
            hass, MEMORY_VERSION, f"{DOMAIN}.{entry_id}.ai_hosts"
        )
        self._subentry_ids = subentry_ids
        self._loaded = False
        self.hosts: dict[str, HostLayout] = {}

    async def async_load(self) -> None:
        """Read the saved layouts of the AI hosts still configured (once)."""
        if self._loaded:
            return
        self._loaded = True
        saved = await self._store.async_load() or {}
        for subentry_id, data in saved.items():
            if subentry_id not in self._subentry_ids:
                continue  # an AI host removed: forgotten with this save
            try:
                self.hosts[subentry_id] = _layout_from_dict(subentry_id, data)
            except KeyError, TypeError, ValueError, AttributeError:
                LOGGER.warning(
                    "The saved layout of AI host %s is unreadable", subentry_id
                )

    def layout(self, subentry_id: str) -> HostLayout:
        """Return the layout of an AI host, empty until it was first read."""
        return self.hosts.setdefault(subentry_id, HostLayout())

    def changed(self) -> None:
        """Save soon: a layout changed."""
        self._store.async_delay_save(self._to_save, MEMORY_SAVE_DELAY_S)

    async def async_save(self) -> None:
        """Save now (unload, stop)."""
        await self._store.async_save(self._to_save())

    def _to_save(self) -> dict[str, Any]:
        return {
            subentry_id: {
                "cores": layout.cores,
                "disks": list(layout.disks),
                "pressure": list(layout.pressure),
                "hostname": layout.hostname,
                "version": layout.version,
                "gpus": [_gpu_to_dict(gpu) for gpu in layout.gpus.values()],
                "estimated_kwh": layout.estimated_kwh,
                "read_at": layout.read_at,
            }
            for subentry_id, layout in self.hosts.items()
        }


def _gpu_to_dict(gpu: GpuInfo) -> dict[str, Any]:
    return {
        "index": gpu.index,
        "uuid": gpu.uuid,
        "name": gpu.name,
        "device_name": gpu.device_name,
        "memory_total_bytes": gpu.memory_total_bytes,
        "driver_version": gpu.driver_version,
        "supported": sorted(gpu.supported),
        "exporter": gpu.exporter,
    }


def _layout_from_dict(subentry_id: str, data: Mapping[str, Any]) -> HostLayout:
    subject = ai_host_subject(subentry_id)
    gpus = {}
    for saved in data.get("gpus", ()):
        gpu = GpuInfo(
            index=int(saved["index"]),
            uuid=str(saved["uuid"]),
            name=str(saved["name"]),
            device_name=str(saved["device_name"]),
            memory_total_bytes=int(saved["memory_total_bytes"]),
            driver_version=str(saved["driver_version"]),
            cuda_version="",
            supported=frozenset(saved["supported"]),
            source=ai_host_gpu_source(subentry_id),
            host=subject,
            exporter=str(saved.get("exporter", "")),
        )
        gpus[gpu.uuid] = gpu
    return HostLayout(
        cores=int(data.get("cores", 0)),
        disks=tuple(data.get("disks", ())),
        pressure=tuple(data.get("pressure", ())),
        hostname=str(data.get("hostname", "")),
        version=str(data.get("version", "")),
        gpus=gpus,
        estimated_kwh={
            uuid: float(kwh) for uuid, kwh in data.get("estimated_kwh", {}).items()
        },
        read_at={str(k): str(v) for k, v in data.get("read_at", {}).items()},
    )


class AiHostCollector[SampleT](PolledCollector[SampleT]):
    """One exporter of an AI host: its path, its layout, and its own outage issue."""

    # Which of the host's exporters ("node" or "gpu"), its name as users know it, and the
    # collector keys of its kind.
    which: str
    exporter: str
    source_prefix: str

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        settings: ServerSettings,
        target: ScrapeTarget,
        memory: AiHostMemory,
    ) -> None:
        """Prepare scraping ``target``."""
        super().__init__(hass, entry_id, settings)
        self.key = f"{self.source_prefix}:{settings.subentry_id}"
        self.target = target
        self.memory = memory
        self.subject = ai_host_subject(settings.subentry_id)

    @property
    def source_title(self) -> str:
        """Return how logs and our sensors name this source: "AI host vm: node_exporter"."""
        return f"{self.settings.title}: {self.exporter}"

    @property
    def layout(self) -> HostLayout:
        """Return what this AI host has."""
        return self.memory.layout(self.settings.subentry_id)

    @override
    async def async_start(self) -> None:
        """Read what the host had when Home Assistant last ran, unless it moved since."""
        await self.memory.async_load()
        target = urlunsplit(urlsplit(self.target.base)._replace(netloc=self._host()))
        if self.layout.moved(
            self.which, f"{target}{self.target.path}{self.target.params}"
        ):
            self.memory.changed()

    def _host(self) -> str:
        """Return the exporter's host and port, without credentials (saved in .storage)."""
        return urlsplit(self.target.base).netloc.rpartition("@")[2]

    @override
    async def async_stop(self) -> None:
        """Save what the host has."""
        await self.memory.async_save()

    @override
    def _raise_outage_issue(self, minutes: str, error: str) -> None:
        async_raise_ai_host_unreachable(
            self.hass,
            self.entry_id,
            self.settings.subentry_id,
            self.which,
            {
                "host": self.settings.title,
                "exporter": self.exporter,
                "minutes": minutes,
                "error": error,
            },
        )

    @override
    def _clear_outage_issue(self) -> None:
        async_clear_ai_host_unreachable(
            self.hass, self.settings.subentry_id, self.which
        )


class NodeExporterCollector(AiHostCollector[HostSample]):
    """Reads an AI host's CPU, load, memory, swap, disks, network and pressure."""

    which = NODE
    exporter = "node_exporter"
    source_prefix = "ai_host"
    # Rates need two scrapes: a first one is taken at start (in the background), so that
    # the first tick after a start or a reload already shows them.
    _previous: NodeReading | None = None
    _read_at = 0.0
    _baseline: asyncio.Task[None] | None = None

    @override
    async def async_start(self) -> None:
        """Read what the host had, and take the first scrape in the background."""
        await super().async_start()
        self._baseline = self.hass.async_create_background_task(
            self._async_baseline(), f"{DOMAIN} {self.key} first scrape"
        )

    @override
    async def async_stop(self) -> None:
        """Stop the first scrape if it still runs, and save what the host has."""
        if self._baseline is not None:
            self._baseline.cancel()
        await super().async_stop()

    async def _async_baseline(self) -> None:
        try:
            _, reading, at = await async_run_blocking(self.hass, self.read)
        except (ServerError, ValueError) as err:  # the first poll says it again
            LOGGER.debug("%s: no first scrape: %s", self.source_title, err)
            return
        if self._previous is None:
            self.update(reading, at)

    @cached_property
    def _rates(self) -> dict[str, CounterRate]:
        return {
            name: CounterRate()
            for name in ("disk_read", "disk_write", "net_in", "net_out")
        }

    @cached_property
    def _pressure_rates(self) -> dict[str, CounterRate]:
        return {resource: CounterRate() for resource in ("cpu", "memory", "io")}

    @override
    async def _async_poll(self) -> HostSample:
        if (baseline := self._baseline) is not None:
            self._baseline = None
            await asyncio.shield(baseline)
            # Rates over less than a second are mostly noise (CPU time counts in 10 ms):
            # the first read waits (in the executor) until a second has passed.
            not_before = self._read_at + MIN_RATE_INTERVAL_S
            _, reading, at = await async_run_blocking(
                self.hass, partial(self.read, not_before)
            )
        else:
            _, reading, at = await async_run_blocking(self.hass, self.read)
        return self.update(reading, at)

    def read(self, not_before: float = 0.0) -> tuple[str, NodeReading, float]:
        """Fetch and parse one scrape (blocking: for the executor), with when it was read.

        A thousand lines take half a millisecond to read: not on the event loop. The scrape
        is not taken before monotonic time ``not_before``.
        """
        if (wait := not_before - time.monotonic()) > 0:
            time.sleep(min(wait, MIN_RATE_INTERVAL_S))
        text = self.target.fetch(self.settings.verify_ssl)
        return text, parse_node(text), time.monotonic()

    def update(self, reading: NodeReading, at: float) -> HostSample:
        """Return the host's figures from a scrape read at monotonic time ``at``.

        Through Prometheus, rates run on Prometheus's own scrape times; a poll that finds no
        newer scrape of the host shows the figures of the last one.
        """
        self._read_at = at
        if reading.scraped_at is not None:
            last = self._previous
            if (
                last is not None
                and last.scraped_at == reading.scraped_at
                and self._sample
            ):
                return self._sample
            at = reading.scraped_at
        previous, self._previous = self._previous, reading
        sample = HostSample(
            name=self.settings.title,
            cpu_percent=_cpu_percent(previous, reading),
            cpu_core_percent=_core_percents(previous, reading),
            load=reading.load,
            memory_percent=reading.memory_percent,
            memory_available_bytes=(
                None
                if reading.memory_available is None
                else int(reading.memory_available)
            ),
            swap_percent=reading.swap_percent,
            disks={
                mount: DiskUsage(
                    used_percent=system.used_percent, free_bytes=int(system.avail)
                )
                for mount, system in reading.file_systems.items()
            },
            disk_read_rate=self._rate("disk_read", reading.disk_read, at),
            disk_write_rate=self._rate("disk_write", reading.disk_written, at),
            network_in_rate=self._rate("net_in", reading.net_received, at),
            network_out_rate=self._rate("net_out", reading.net_sent, at),
            pressure={
                resource: round(min(100.0, rate * 100), 2)
                for resource, seconds in reading.pressure.items()
                if (rate := self._pressure_rates[resource].update(seconds, at))
                is not None
            },
        )
        self._remember(reading)
        return sample

    def _rate(self, name: str, value: float | None, at: float) -> float | None:
        if value is None:
            return None
        rate = self._rates[name].update(value, at)
        return None if rate is None else round(rate, 1)

    def _remember(self, reading: NodeReading) -> None:
        layout = self.layout
        shape = (
            len(reading.cpus),
            tuple(reading.file_systems),
            tuple(reading.pressure),
            reading.hostname,
            reading.version,
        )
        if shape != (
            layout.cores,
            layout.disks,
            layout.pressure,
            layout.hostname,
            layout.version,
        ):
            (
                layout.cores,
                layout.disks,
                layout.pressure,
                layout.hostname,
                layout.version,
            ) = shape
            self.memory.changed()


def _cpu_percent(previous: NodeReading | None, current: NodeReading) -> float | None:
    """Return the busy share of every CPU together since the previous scrape."""
    if previous is None or not current.cpus:
        return None
    return round(busy_percent(_summed(previous), _summed(current)), 1)


def _summed(reading: NodeReading) -> dict[str, float]:
    modes: dict[str, float] = {}
    for times in reading.cpus.values():
        for mode, seconds in times.items():
            modes[mode] = modes.get(mode, 0.0) + seconds
    return modes


def _core_percents(
    previous: NodeReading | None, current: NodeReading
) -> tuple[float, ...]:
    """Return each CPU's busy share; since boot for a CPU without a previous reading (as locally)."""
    before = previous.cpus if previous is not None else {}
    return tuple(
        round(busy_percent(before.get(cpu, {}), times), 1)
        for cpu, times in current.cpus.items()
    )


class GpuExporterCollector(AiHostCollector[GpuSample]):
    """Reads an AI host's GPUs from dcgm-exporter or nvidia_gpu_exporter."""

    which = GPU
    # Named after the exporter once its first answer says which it is.
    exporter = "GPU exporter"
    source_prefix = "ai_host_gpu"
    _kind: GpuExporterKind | None = None
    # The GPUs' energy counters at the last scrape, for energy per request.
    _energy: EnergyReading | None = None

    @cached_property
    def _last_power(self) -> dict[str, tuple[float, float]]:
        """UUID -> (monotonic time, watts) of the previous scrape, to integrate power."""
        return {}

    def read_energy(self) -> EnergyReading | None:
        """Return the GPUs' energy counters at the last scrape (from any thread).

        dcgm-exporter counts energy; nvidia_gpu_exporter's power is integrated. As fresh as the exporter: dcgm-exporter updates its fields every 30 s by default.
        """
        return self._energy

    @override
    async def _async_poll(self) -> GpuSample:
        _, kind, exported, at = await async_run_blocking(self.hass, self.read)
        if kind is None:
            raise ServerError(
                ServerProblem.MALFORMED,
                f"{self.target.path}: no dcgm-exporter or nvidia_gpu_exporter series",
            )
        self._kind, self.exporter = kind, EXPORTER_NAMES[kind]
        return self.update(exported, at)

    def read(
        self,
    ) -> tuple[str, GpuExporterKind | None, dict[str, ExportedGpu], float]:
        """Fetch and parse one scrape (blocking: for the executor), with when it was read.

        The exporter's kind is learnt from its first answer.
        """
        text = self.target.fetch(self.settings.verify_ssl)
        kind = self._kind or detect_gpu_exporter(text)
        exported = {} if kind is None else parse_gpu_exporter(text, kind)
        return text, kind, exported, time.monotonic()

    def update(self, exported: Mapping[str, ExportedGpu], at: float) -> GpuSample:
        """Return the GPUs' sample from one scrape taken at monotonic time ``at``."""
        layout = self.layout
        count = len(exported)
        readings = {}
        gpus = dict(layout.gpus)
        for gpu in exported.values():
            info = self._info(gpu, count)
            uuid = info.uuid
            if gpus.get(uuid) != info:
                gpus[uuid] = info
            readings[uuid] = self._reading(gpu, at)
        if gpus != layout.gpus:
            layout.gpus = gpus
            self.memory.changed()
        self._energy = _energy_reading(readings)
        return GpuSample(
            nvml_available=False,
            gpus=gpus,
            readings=readings,
            # A GPU the exporter no longer lists: failing, as a lost GPU is locally.
            failing={
                uuid: f"{gpu.device_name}: not in {self.exporter}'s answer"
                for uuid, gpu in gpus.items()
                if uuid not in readings
            },
        )

    def forget(self, uuid: str) -> bool:
        """Forget a GPU the exporter no longer lists (its device was deleted)."""
        layout = self.layout
        if uuid not in layout.gpus:
            return True
        if self._sample is not None and uuid in self._sample.readings:
            return False
        del layout.gpus[uuid]
        self.memory.changed()
        return True

    def _info(self, gpu: ExportedGpu, count: int) -> GpuInfo:
        supported = set(gpu.supported)
        if "xid_errors" not in gpu.values:
            # dcgm-exporter gives the last XID only, no count: no XID sensor to show.
            supported.discard(FIELD_XID)
        if gpu.energy_joules is None and "power_w" in gpu.values:
            supported.add(FIELD_ENERGY_ESTIMATE)
        index = gpu.index if gpu.index is not None else 0
        name = gpu.name or "NVIDIA GPU"
        total = gpu.values.get("memory_total_bytes")
        # Named with its machine (as the AI host is named, without "AI host"): two AI hosts
        # often hold the same model of GPU.
        machine = self.settings.title.removeprefix(f"{AI_HOST_TITLE} ")
        return GpuInfo(
            index=index,
            uuid=nvml_uuid(gpu.uuid),
            name=name,
            device_name=(
                f"{name} ({machine})"
                if count == 1
                else f"{name} ({machine}, GPU {index})"
            ),
            memory_total_bytes=int(total) if isinstance(total, (int, float)) else 0,
            driver_version=gpu.driver_version,
            cuda_version="",
            supported=frozenset(supported),
            source=self.key,
            host=self.subject,
            exporter=self.exporter,
        )

    def _reading(self, gpu: ExportedGpu, at: float) -> GpuReading:
        values = dict(gpu.values)
        if gpu.energy_joules is not None and FIELD_ENERGY in gpu.supported:
            values["energy_kwh"] = round(gpu.energy_joules / JOULES_PER_KWH, 6)
        elif (watts := values.get("power_w")) is not None:
            values["energy_estimate_kwh"] = self._integrate(
                nvml_uuid(gpu.uuid), watts, at
            )
        return GpuReading(**values)

    def _integrate(self, uuid: str, watts: float, at: float) -> float:
        """Add the energy since the previous scrape (trapezoid) to the GPU's estimate."""
        estimates = self.layout.estimated_kwh
        previous = self._last_power.get(uuid)
        self._last_power[uuid] = (at, watts)
        total = estimates.get(uuid, 0.0)
        if previous is not None:
            then, previous_watts = previous
            gap = at - then
            if 0 < gap <= MAX_INTEGRATION_GAP_S and math.isfinite(watts):
                total += (watts + previous_watts) / 2 * gap / JOULES_PER_KWH
                estimates[uuid] = total
                self.memory.changed()
        return round(total, 6)


def nvml_uuid(uuid: str) -> str:
    """Return a GPU's UUID as NVML (and dcgm-exporter) write it: "GPU-" and the hex.

    nvidia_gpu_exporter writes it without the prefix; one GPU keeps one device either way.
    """
    return uuid if uuid.upper().startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"


def _energy_reading(readings: Mapping[str, GpuReading]) -> EnergyReading | None:
    """Return the summed energy of the GPUs that count it (or whose power is integrated)."""
    kwh = {
        uuid: value
        for uuid, reading in readings.items()
        if (value := reading.energy_kwh or reading.energy_estimate_kwh) is not None
    }
    if not kwh:
        return None
    return EnergyReading(
        at=time.time(),
        gpus=frozenset(kwh),
        joules=sum(kwh.values()) * JOULES_PER_KWH,
    )


def build_ai_host_collectors(
    hass: HomeAssistant, entry_id: str, subentries: Mapping[str, ConfigSubentry]
) -> list[PolledCollector[Any]]:
    """Return the collectors of every AI host: one per exporter URL."""
    hosts = [s for s in subentries.values() if s.subentry_type == SUBENTRY_AI_HOST]
    memory = AiHostMemory(hass, entry_id, {s.subentry_id for s in hosts})
    collectors: list[PolledCollector[Any]] = []
    for subentry in hosts:
        targets = scrape_targets(subentry.data)
        if (target := targets.get(NODE)) is not None:
            collectors.append(
                NodeExporterCollector(
                    hass, entry_id, exporter_settings(subentry, target), target, memory
                )
            )
        if (target := targets.get(GPU)) is not None:
            collectors.append(
                GpuExporterCollector(
                    hass, entry_id, exporter_settings(subentry, target), target, memory
                )
            )
    return collectors
