"""Model servers, one config subentry and one collector each: Ollama, vLLM / llama.cpp, Prometheus."""

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from ...const import SUBENTRY_OLLAMA, SUBENTRY_OPENAI_COMPATIBLE, SUBENTRY_PROMETHEUS
from ...ledger import RequestLedger
from ..base import Collector
from .base import ServerSettings
from .ollama import OllamaCollector
from .openai_compatible import OpenAICompatibleCollector
from .prometheus import PrometheusCollector

SERVER_TYPES = frozenset(
    {SUBENTRY_OLLAMA, SUBENTRY_OPENAI_COMPATIBLE, SUBENTRY_PROMETHEUS}
)


def build_server_collectors(
    hass: HomeAssistant, entry: ConfigEntry, ledger: RequestLedger
) -> list[Collector[Any]]:
    """Return one collector per configured model server."""
    collectors: list[Collector[Any]] = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type not in SERVER_TYPES:
            continue  # an AI host (collectors/ai_host.py)
        settings = ServerSettings.from_subentry(subentry)
        if subentry.subentry_type == SUBENTRY_OLLAMA:
            collectors.append(OllamaCollector(hass, entry.entry_id, settings, ledger))
        elif subentry.subentry_type == SUBENTRY_OPENAI_COMPATIBLE:
            collectors.append(OpenAICompatibleCollector(hass, entry.entry_id, settings))
        elif subentry.subentry_type == SUBENTRY_PROMETHEUS:
            collectors.append(PrometheusCollector(hass, entry.entry_id, settings))
    return collectors
