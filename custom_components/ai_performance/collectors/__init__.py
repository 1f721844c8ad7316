"""Collectors: one module per source, each implementing the Collector protocol in base.py."""

from typing import Any

from homeassistant.core import HomeAssistant

from .base import Collector
from .host import HostCollector


def build_collectors(hass: HomeAssistant) -> list[Collector[Any]]:
    """Return one collector per enabled source: the single place where sources are listed."""
    return [HostCollector(hass)]
