"""The ready dashboard: built from this install's entities, created through Lovelace's own API.

``build_dashboard`` lays out built-in cards only (tile, gauge, statistics and history graphs,
entities, conditional cards for alerts) for the entities this install has: the overview, the
host, each GPU, each agent, pipeline and AI Task, and each model server.

``async_create_dashboard`` creates it as a storage-mode dashboard through the same websocket
commands the frontend sends (``lovelace/dashboards/create``, ``lovelace/config/save``), as the
user who asked, so Home Assistant's own checks apply: only an administrator may, and a URL in use
is refused. It never overwrites a user's dashboard: it takes a free URL, and updates a
dashboard it made before only while nobody has edited it since.
"""

import asyncio
from collections.abc import Iterable
import json
import logging
from typing import Any, Final

from homeassistant.auth.models import User
from homeassistant.components import websocket_api
from homeassistant.components.frontend import async_panel_exists
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.storage import Store

from .const import DOMAIN, LOGGER

URL_PATH: Final = "ai-performance"
TITLE: Final = "AI Performance"
ICON: Final = "mdi:robot-outline"
STORAGE_KEY: Final = f"{DOMAIN}.dashboard"
# A command of the local connection gives up after this long (they answer in milliseconds).
COMMAND_TIMEOUT_S: Final = 30

OVERVIEW_TILES: Final = (
    "health",
    "active_alerts",
    "overall_latency_p95",
    "overall_error_rate",
    "overall_requests_per_minute",
    "sla_compliance_24h",
    "availability_24h",
    "error_budget_remaining_30d",
    "overall_cost",
    "projected_monthly_cost",
    "optimization_effectiveness",
    "benchmark",
    "run_benchmark",
    "optimize",
)
HOST_GAUGES: Final = ("cpu_usage", "memory_usage", "config_disk_usage")
HOST_TILES: Final = ("loop_lag_p95", "ha_cpu_usage", "ha_memory", "memory_full_in")
GPU_TILES: Final = ("power", "energy", "throttle_reason", "vram_full_in")
SUBJECT_TILES: Final = (
    "requests",
    "latency_p95",
    "error_rate",
    "ttft_p95",
    "output_tokens_per_second",
    "perceived_latency_p95",
    "handled_locally",
    "cache_hit",
    "cold_starts",
    "cost_this_month",
    "gpu_energy_per_request",
    "satisfaction",
)
SERVER_TILES: Final = (
    "reachable",
    "server_version",
    "loaded_models",
    "models_vram",
    "served_models",
    "server_ttft_p95",
    "server_latency_p95",
    "running_requests",
    "waiting_requests",
    "kv_cache_usage",
)
MODEL_ROWS: Final = (
    "loaded",
    "gpu_offload",
    "model_vram",
    "unloads_at",
    "context_length",
)
# Problem sensors: shown only while on.
ALERT_KEYS: Final = ("latency_anomaly", "throttling")
PERCENT_SEVERITY: Final = {"green": 0, "yellow": 75, "red": 90}
TEMPERATURE_SEVERITY: Final = {"green": 0, "yellow": 83, "red": 90}


class DashboardError(HomeAssistantError):
    """Lovelace refused to create or save the dashboard."""


def build_dashboard(hass: HomeAssistant, entry_id: str) -> dict[str, Any]:
    """Return the Lovelace configuration for the entities of config entry ``entry_id``."""
    devices = _devices(hass, entry_id)
    overview = devices.pop("overview", None) or _Device(TITLE)
    host = devices.pop("host", None) or _Device("Host")
    gpus = {k: v for k, v in devices.items() if k.startswith("gpu_")}
    subjects = {k: v for k, v in devices.items() if k.startswith("requests_")}
    servers = {
        k: v
        for k, v in devices.items()
        if k.startswith("server_") and "_model_" not in k
    }
    views = [
        _view(
            "Overview",
            "overview",
            [
                _tiles_section(TITLE, overview, OVERVIEW_TILES),
                _alerts_section(overview, devices.values(), host),
                _response_section(overview, subjects),
                _host_section(host),
                *(_gpu_section(device) for device in gpus.values()),
            ],
        ),
        _view(
            "Agents",
            "agents",
            [_subject_section(device) for device in subjects.values()],
        ),
        _view(
            "Model servers",
            "servers",
            [
                _server_section(device, _models_of(key, devices))
                for key, device in servers.items()
            ],
        ),
    ]
    return {"title": TITLE, "views": [view for view in views if view["sections"]]}


class _Device:
    """One of our devices: its name and its enabled entities by translation key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.entities: dict[str, str] = {}
        # The entity's own name, without the device's: the section heading names the device.
        self.names: dict[str, str] = {}

    def pick(self, keys: Iterable[str]) -> list[str]:
        return [self.entities[key] for key in keys if key in self.entities]

    def tiles(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        return [
            {"type": "tile", "entity": self.entities[key]}
            | ({"name": self.names[key]} if key in self.names else {})
            for key in keys
            if key in self.entities
        ]


def _devices(hass: HomeAssistant, entry_id: str) -> dict[str, _Device]:
    """Return our devices by subject, in the order they were made."""
    device_registry = dr.async_get(hass)
    devices: dict[str, _Device] = {}
    by_id: dict[str, _Device] = {}
    for device in dr.async_entries_for_config_entry(device_registry, entry_id):
        identifier = next(
            (value for domain, value in device.identifiers if domain == DOMAIN), None
        )
        if identifier is None:
            continue
        subject = identifier.removeprefix(f"{entry_id}_")
        by_id[device.id] = devices[subject] = _Device(
            device.name_by_user or device.name or subject
        )
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry_id):
        device_of = by_id.get(entity.device_id or "")
        if (
            device_of is None
            or entity.disabled
            or entity.entity_category is EntityCategory.DIAGNOSTIC
            or entity.translation_key is None
        ):
            continue
        key = entity.translation_key
        if key not in device_of.entities:
            device_of.entities[key] = entity.entity_id
            if name := entity.name or entity.original_name:
                device_of.names[key] = name
    return devices


def _models_of(server: str, devices: dict[str, _Device]) -> list[_Device]:
    return [d for key, d in devices.items() if key.startswith(f"{server}_model_")]


def _view(
    title: str, path: str, sections: list[dict[str, Any] | None]
) -> dict[str, Any]:
    return {
        "title": title,
        "path": path,
        "type": "sections",
        "max_columns": 4,
        "sections": [section for section in sections if section],
    }


def _section(heading: str, cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not cards:
        return None
    return {"type": "grid", "cards": [{"type": "heading", "heading": heading}, *cards]}


def _gauge(entity_id: str, severity: dict[str, int] | None = None) -> dict[str, Any]:
    """Return a 0-100 gauge; with ``severity`` its needle shows green, yellow, red bands."""
    gauge: dict[str, Any] = {"type": "gauge", "entity": entity_id, "min": 0, "max": 100}
    if severity:
        gauge |= {"needle": True, "severity": dict(severity)}
    return gauge


def _statistics(title: str, entity_ids: list[str], days: int = 7) -> dict[str, Any]:
    return {
        "type": "statistics-graph",
        "title": title,
        "entities": entity_ids,
        "days_to_show": days,
        "period": "hour",
        "stat_types": ["mean"],
        "chart_type": "line",
    }


def _history(title: str, entity_ids: list[str], hours: int = 24) -> dict[str, Any]:
    return {
        "type": "history-graph",
        "title": title,
        "entities": entity_ids,
        "hours_to_show": hours,
    }


def _tiles_section(
    heading: str, device: _Device, keys: Iterable[str]
) -> dict[str, Any] | None:
    return _section(heading, device.tiles(keys))


def _alerts_section(
    overview: _Device, others: Iterable[_Device], host: _Device
) -> dict[str, Any] | None:
    """Each alert shows only while raised; "no alerts" shows while none is."""
    cards = [
        {
            "type": "conditional",
            "conditions": [{"condition": "state", "entity": entity_id, "state": "on"}],
            # Alert sensors carry their severity and value; the others only their state.
            "card": {"type": "tile", "entity": entity_id, "color": "red"}
            | (
                {"state_content": ["severity", "value"]}
                if key.endswith("_alert")
                else {}
            ),
        }
        for device in (host, *others)
        for key, entity_id in device.entities.items()
        if entity_id.startswith("binary_sensor.")
        and (key.endswith("_alert") or key in ALERT_KEYS)
    ]
    if active := overview.entities.get("active_alerts"):
        cards.insert(
            0,
            {
                "type": "conditional",
                "conditions": [{"condition": "state", "entity": active, "state": "0"}],
                "card": {
                    "type": "tile",
                    "entity": active,
                    "name": "No alerts",
                    "icon": "mdi:check-circle-outline",
                    "color": "green",
                },
            },
        )
    return _section("Alerts", cards)


def _response_section(
    overview: _Device, subjects: dict[str, _Device]
) -> dict[str, Any] | None:
    latency = overview.pick(["overall_latency_p95"]) + [
        e for device in subjects.values() for e in device.pick(["latency_p95"])
    ]
    cards = []
    if latency:
        cards.append(_statistics("Response time p95, hourly", latency))
    if rates := overview.pick(["overall_requests_per_minute", "overall_error_rate"]):
        cards.append(_history("Requests and errors", rates))
    return _section("Response time", cards)


def _host_section(host: _Device) -> dict[str, Any] | None:
    cards = [_gauge(e, PERCENT_SEVERITY) for e in host.pick(HOST_GAUGES)]
    cards += host.tiles(HOST_TILES)
    if usage := host.pick(["cpu_usage", "memory_usage"]):
        cards.append(_history("Host, last 24 hours", usage))
    return _section(host.name or "Host", cards)


def _gpu_section(gpu: _Device) -> dict[str, Any] | None:
    cards = [_gauge(e, PERCENT_SEVERITY) for e in gpu.pick(["vram_usage"])]
    cards += [_gauge(e) for e in gpu.pick(["gpu_utilization"])]
    cards += [_gauge(e, TEMPERATURE_SEVERITY) for e in gpu.pick(["temperature"])]
    cards += gpu.tiles(GPU_TILES)
    if usage := gpu.pick(["vram_usage", "gpu_utilization"]):
        cards.append(_statistics("GPU use, hourly", usage))
    return _section(gpu.name, cards)


def _subject_section(subject: _Device) -> dict[str, Any] | None:
    cards = subject.tiles(SUBJECT_TILES)
    if latency := subject.pick(["latency_p50", "latency_p95"]):
        cards.append(_statistics("Response time, hourly", latency))
    return _section(subject.name, cards)


def _server_section(server: _Device, models: list[_Device]) -> dict[str, Any] | None:
    cards = server.tiles(SERVER_TILES)
    cards += [
        {"type": "entities", "title": model.name, "entities": model.pick(MODEL_ROWS)}
        for model in models
        if model.pick(MODEL_ROWS)
    ]
    return _section(server.name, cards)


async def async_create_dashboard(
    hass: HomeAssistant, entry_id: str, user: User
) -> dict[str, Any]:
    """Create (or refresh our own unedited) dashboard as ``user``; return where it is."""
    config = build_dashboard(hass, entry_id)
    store: Store[dict[str, Any]] = Store(hass, 1, STORAGE_KEY)
    made = await store.async_load() or {}
    connection = _LocalConnection(hass, user)
    existing = {
        item["url_path"] for item in await connection.call("lovelace/dashboards/list")
    }
    url_path = str(made.get("url_path", ""))
    updated = url_path in existing and await _unedited(connection, url_path, made)
    if not updated:
        url_path = _free_url_path(hass, existing)
        await connection.call(
            "lovelace/dashboards/create",
            url_path=url_path,
            title=TITLE,
            icon=ICON,
            show_in_sidebar=True,
            require_admin=False,
            mode="storage",
        )
    await connection.call("lovelace/config/save", url_path=url_path, config=config)
    await store.async_save({"url_path": url_path, "config": config})
    return {
        "url_path": url_path,
        "updated": updated,
        "views": len(config["views"]),
        "cards": sum(
            len(section["cards"])
            for view in config["views"]
            for section in view["sections"]
        ),
    }


async def _unedited(
    connection: _LocalConnection, url_path: str, made: dict[str, Any]
) -> bool:
    """Return True when the dashboard at ``url_path`` is still what we saved there."""
    try:
        current = await connection.call("lovelace/config", url_path=url_path)
    except DashboardError:
        return False
    return bool(current == made.get("config"))


def _free_url_path(hass: HomeAssistant, existing: set[str]) -> str:
    """Return the first of ai-performance, ai-performance-2, ... that nothing uses."""
    candidate, number = URL_PATH, 1
    while candidate in existing or async_panel_exists(hass, candidate):
        number += 1
        candidate = f"{URL_PATH}-{number}"
    return candidate


class _LocalConnection:
    """Sends websocket commands in process, as the frontend does for ``user``."""

    def __init__(self, hass: HomeAssistant, user: User) -> None:
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._last_id = 0
        self._connection = websocket_api.ActiveConnection(
            logging.LoggerAdapter(LOGGER),  # type: ignore[arg-type]
            hass,
            self._receive,
            user,
            None,
            None,
        )

    def _receive(self, message: bytes | str | dict[str, Any]) -> None:
        answer = message if isinstance(message, dict) else json.loads(message)
        future = self._answers.pop(int(answer.get("id", 0)), None)
        if future is not None and not future.done():
            future.set_result(answer)

    async def call(self, command: str, **data: Any) -> Any:
        """Send one command and return its result; raise DashboardError when it fails."""
        self._last_id += 1
        future = asyncio.get_running_loop().create_future()
        self._answers[self._last_id] = future
        self._connection.async_handle({"id": self._last_id, "type": command, **data})
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            answer = await future
        if not answer.get("success"):
            error = answer.get("error") or {}
            raise DashboardError(
                translation_domain=DOMAIN,
                translation_key="dashboard_failed",
                translation_placeholders={
                    "code": str(error.get("code", "")),
                    "message": str(error.get("message", "")),
                },
            )
        return answer.get("result")
