"""Collectors: one module per source, each implementing the Collector protocol in base.py."""

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from ..const import CONF_AI_HOST, CONF_DISKS
from ..engine.energy import EnergyReading
from ..ledger import RequestLedger
from ..sla import SlaLedger
from .ai_host import GpuExporterCollector, build_ai_host_collectors
from .base import Collector, Needs
from .gpu import GpuCollector
from .host import HostCollector
from .requests import RequestsCollector
from .servers import build_server_collectors
from .servers.ollama import OllamaCollector


def build_collectors(
    hass: HomeAssistant, entry: ConfigEntry, needs: Needs, ledger: RequestLedger
) -> list[Collector[Any]]:
    """Return one collector per enabled source: the single place where sources are listed."""
    gpu = GpuCollector(hass, needs)
    servers = build_server_collectors(hass, entry, ledger)
    probes = {
        subject
        for server in servers
        if isinstance(server, OllamaCollector) and (subject := server.probing)
    }
    ai_hosts = build_ai_host_collectors(hass, entry.entry_id, entry.subentries)
    # The AI hosts that model servers run on: their GPUs' energy is the requests' energy.
    named = {subentry.data.get(CONF_AI_HOST) for subentry in entry.subentries.values()}
    remote = [
        c.read_energy
        for c in ai_hosts
        if isinstance(c, GpuExporterCollector) and c.settings.subentry_id in named
    ]
    # Started in this order (and stopped in reverse): the GPUs are known before requests are
    # metered, metering stops before NVML shuts down, and the ledger is loaded before probes.
    # An AI host's GPUs are first read at the first tick, whatever the order.
    return [
        HostCollector(hass, needs, entry.options.get(CONF_DISKS, ())),
        gpu,
        RequestsCollector(
            hass,
            ledger,
            SlaLedger.from_options(hass, entry),
            partial(read_energy, gpu.read_energy, remote),
            probes=probes,
            energy_expected=bool(remote),
        ),
        *servers,
        *ai_hosts,
    ]


def read_energy(
    local: Callable[[], EnergyReading | None],
    remote: Sequence[Callable[[], EnergyReading | None]],
) -> EnergyReading | None:
    """Return the GPUs' energy counters: NVML's where it counts energy, else the AI hosts'.

    The model runs on the local GPUs where there are some; otherwise on the AI hosts that the
    model servers name (summed, dated by the newest scrape).
    """
    if (reading := local()) is not None:
        return reading
    readings = [r for read in remote if (r := read()) is not None]
    if not readings:
        return None
    return EnergyReading(
        at=max(r.at for r in readings),
        gpus=frozenset().union(*(r.gpus for r in readings)),
        joules=sum(r.joules for r in readings),
    )
