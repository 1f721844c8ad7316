"""Diagnostics ("Download diagnostics"): what a bug report needs, with secrets redacted.

The configuration (options, every model server and AI host), each source's status and cost, a summary of
the last snapshot, the raised alerts and their recent history, the actions auto-optimisation
took, and the last benchmark. API keys and tokens are redacted, and so are credentials and
secret query parameters inside URLs.
"""

from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant

from .collectors.gpu import GpuSample
from .collectors.host import HostSample
from .collectors.requests import RequestsSample
from .const import (
    CONF_GPU_EXPORTER_URL,
    CONF_NODE_EXPORTER_URL,
    SOURCE_GPU,
    SOURCE_HOST,
    SOURCE_REQUESTS,
)
from .coordinator import AIPerformanceConfigEntry
from .engine.snapshot import Snapshot
from .entity import ai_host_collectors, server_collectors

TO_REDACT: Final = {
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    "access_token",
    "refresh_token",
    "authorization",
    "serial",
}
# Query parameters whose values are secrets (matched as parts of the name).
SECRET_QUERY_PARTS: Final = ("key", "token", "secret", "password", "auth")
# How much of the alert history and of the auto-optimisation log to include.
HISTORY_LIMIT: Final = 50


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> dict[str, Any]:
    """Return the diagnostics of the config entry."""
    data = entry.runtime_data
    snapshot = data.coordinator.data
    servers = {
        c.key: c.settings
        for c in (
            *server_collectors(data.coordinator),
            *ai_host_collectors(data.coordinator),
        )
    }
    return {
        "entry": {
            "title": entry.title,
            "version": f"{entry.version}.{entry.minor_version}",
            "options": _redact(entry.options),
        },
        "subentries": [
            {
                "type": subentry.subentry_type,
                "title": subentry.title,
                "data": _redact(subentry.data),
            }
            for subentry in entry.subentries.values()
        ],
        "sources": {
            key: {
                "title": servers[key].title if key in servers else key,
                "status": "ok" if result.ok else "failing",
                "late": result.late,
                "error": result.error,
                "duration_ms": result.duration_ms,
                "loop_ms": result.loop_ms,
                "executor_ms": result.executor_ms,
            }
            for key, result in snapshot.sources.items()
        },
        "last_snapshot": _summary(snapshot),
        "alerts": {
            "raised": [
                _plain(status)
                for status in snapshot.alerts.values()
                if status.level.value != "ok"
            ],
            "history": [
                item._asdict() for item in list(data.alerts.history)[-HISTORY_LIMIT:]
            ],
        },
        "auto_optimization": [
            _plain(record) for record in list(data.optimizer.records)[-HISTORY_LIMIT:]
        ],
        "benchmark": data.benchmark.run.as_dict() if data.benchmark.run else None,
    }


def _summary(snapshot: Snapshot) -> dict[str, Any]:
    """Return the last snapshot's figures without per-request detail."""
    summary: dict[str, Any] = {
        "collection_ms": snapshot.collection_ms,
        "interval_s": snapshot.interval_s,
        "loop_overhead_percent": snapshot.loop_overhead_percent,
        "executor_overhead_percent": snapshot.executor_overhead_percent,
    }
    if host := snapshot.sample(SOURCE_HOST, HostSample):
        summary["host"] = _plain(host)
    if gpu := snapshot.sample(SOURCE_GPU, GpuSample):
        summary["gpu"] = _plain(gpu)
    # Each AI host's exporters, by source key.
    if ai_hosts := {
        key: _plain(sample)
        for key, sample in (
            *snapshot.samples(HostSample).items(),
            *snapshot.samples(GpuSample).items(),
        )
        if key not in (SOURCE_HOST, SOURCE_GPU)
    }:
        summary["ai_hosts"] = ai_hosts
    if requests := snapshot.sample(SOURCE_REQUESTS, RequestsSample):
        summary["requests"] = {
            "subjects": {
                key: {
                    "kind": stats.kind.value,
                    "name": stats.name,
                    "totals": _plain(stats.totals),
                }
                for key, stats in requests.subjects.items()
            },
            "overall": _plain(requests.overall),
            "pipelines_measured": requests.pipelines_measured,
            "agents_measured": requests.agents_measured,
            "energy_measured": requests.energy_measured,
            "open_turns": requests.open_turns,
            "abandoned_turns": requests.abandoned_turns,
            "dropped_turns": requests.dropped_turns,
            "left_out_of_windows": requests.left_out_of_windows,
        }
    summary["servers"] = {
        key: _plain(result.sample)
        for key, result in snapshot.sources.items()
        if key.startswith("server:") and result.sample is not None
    }
    summary["forecasts"] = _plain(snapshot.forecasts)
    summary["latency_checks"] = _plain(snapshot.latency_checks)
    return summary


def _redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """Redact secret keys, and the secrets inside URLs."""
    redacted = dict(async_redact_data(data, TO_REDACT))
    for key in (CONF_URL, CONF_NODE_EXPORTER_URL, CONF_GPU_EXPORTER_URL):
        if isinstance(url := redacted.get(key), str):
            redacted[key] = redact_url(url)
    return redacted


def redact_url(url: str) -> str:
    """Return ``url`` without its user name, password and secret query parameters."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = urlencode(
        [
            (name, REDACTED if _secret(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _secret(name: str) -> bool:
    return any(part in name.lower() for part in SECRET_QUERY_PARTS)


def _plain(value: Any) -> Any:
    """Turn dataclasses, mappings, sets and enums into what JSON holds."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(item) for item in value)
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return [_plain(item) for item in value]
    return value
