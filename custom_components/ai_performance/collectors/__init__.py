"""Collectors: one module per source, each implementing the Collector protocol in base.py."""

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from ..const import CONF_DISKS
from ..ledger import RequestLedger
from ..sla import SlaLedger
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
    # Started in this order (and stopped in reverse): the GPUs are known before requests are
    # metered, metering stops before NVML shuts down, and the ledger is loaded before probes.
    return [
        HostCollector(hass, needs, entry.options.get(CONF_DISKS, ())),
        gpu,
        RequestsCollector(
            hass,
            ledger,
            SlaLedger.from_options(hass, entry),
            gpu.read_energy,
            probes=probes,
        ),
        *servers,
    ]
