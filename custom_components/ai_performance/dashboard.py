"""The ready dashboard: built from this install's entities, created through Lovelace's own API.

``build_dashboard`` lays out built-in cards only (tile, gauge, history graphs, markdown,
entities, conditional cards for alerts) for the entities this install has: the overview, the
host, each GPU, each agent, pipeline and AI Task, and each model server.

``async_create_dashboard`` creates it as a storage-mode dashboard through the same websocket
commands the frontend sends (``lovelace/dashboards/create``, ``lovelace/config/save``), as the
user who asked, so Home Assistant's own checks apply: only an administrator may, and a URL in use
is refused. It never overwrites a user's dashboard: it takes a free URL, and updates a
dashboard it made before only while nobody has edited it since.
"""

import asyncio
from collections.abc import Iterable, Mapping
import json
import logging
from typing import Any, Final
from urllib.parse import urlsplit

from homeassistant.auth.models import User
from homeassistant.components import websocket_api
from homeassistant.components.frontend import async_panel_exists
from homeassistant.components.lovelace.const import LOVELACE_DATA, ConfigNotFound
from homeassistant.components.lovelace.dashboard import LovelaceStorage
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_URL, EVENT_HOMEASSISTANT_STOP, EntityCategory
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.storage import Store

from .collectors.gpu import GpuSample
from .const import CONF_GPU_MONITORING, DOMAIN, GPU_MONITORING_ON, LOGGER, SOURCE_GPU

URL_PATH: Final = "ai-performance"
TITLE: Final = "AI Performance"
ICON: Final = "mdi:robot-outline"
STORAGE_KEY: Final = f"{DOMAIN}.dashboard"
# A command of the local connection gives up after this long (they answer in milliseconds).
COMMAND_TIMEOUT_S: Final = 30
# Registry changes come in bursts: the dashboard is laid out again once they have settled.
REFRESH_DELAY_S: Final = 5

# Each figure's name on the dashboard: short enough for a tile on a 390 px phone (the section
# heading names the device). Keys without one keep the entity's own name.
SHORT_NAMES: Final = {
    "health": "Health",
    "active_alerts": "Alerts",
    "overall_latency_p95": "Latency p95",
    "overall_error_rate": "Error rate",
    "overall_unanswered_rate": "Unanswered",
    "unanswered_rate": "Unanswered",
    "overall_requests_per_minute": "Requests/min",
    "sla_compliance_24h": "SLA (24 h)",
    "availability_24h": "Availability",
    "error_budget_remaining_30d": "Error budget",
    "overall_cost": "AI cost",
    "cost_this_month": "This month",
    "projected_monthly_cost": "Month forecast",
    "monthly_budget_used": "Budget used",
    "optimization_effectiveness": "Optimization",
    "benchmark": "Benchmark",
    "run_benchmark": "Run benchmark",
    "optimize": "Optimize now",
    "requests": "Requests",
    "latency_p95": "Latency p95",
    "error_rate": "Error rate",
    "ttft_p95": "1st token p95",
    "output_tokens_per_second": "Output speed",
    "perceived_latency_p95": "Perceived p95",
    "handled_locally": "Local intents",
    "cache_hit": "Cache hits",
    "cold_starts": "Cold starts",
    "cost": "Cost",
    "gpu_energy_per_request": "Energy/request",
    "satisfaction": "Satisfaction",
    "loop_lag_p95": "Loop lag p95",
    "ha_cpu_usage": "HA CPU",
    "ha_memory": "HA memory",
    "memory_full_in": "Memory full in",
    "power": "Power",
    "energy": "Energy",
    "throttle_reason": "Throttling",
    "vram_full_in": "VRAM full in",
    "reachable": "Reachable",
    "server_version": "Version",
    "loaded_models": "Loaded models",
    "models_vram": "Models VRAM",
    "served_models": "Served models",
    "server_ttft_p95": "1st token p95",
    "server_latency_p95": "Latency p95",
    "running_requests": "Running",
    "waiting_requests": "Waiting",
    "kv_cache_usage": "KV cache",
    "cpu_usage": "CPU",
    "memory_usage": "Memory",
    "config_disk_usage": "Config disk",
    "vram_usage": "VRAM",
    "gpu_utilization": "Utilization",
    "temperature": "Temperature",
}
STATUS_TILES: Final = (
    "health",
    "active_alerts",
    "overall_latency_p95",
    "overall_error_rate",
    "overall_unanswered_rate",
    "overall_requests_per_minute",
    "sla_compliance_24h",
    "availability_24h",
    "error_budget_remaining_30d",
)
COST_TILES: Final = (
    "overall_cost",
    "cost_this_month",
    "projected_monthly_cost",
    "monthly_budget_used",
)
ACTION_TILES: Final = (
    "optimization_effectiveness",
    "benchmark",
    "run_benchmark",
    "optimize",
)
HOST_GAUGES: Final = ("cpu_usage", "memory_usage", "config_disk_usage")
# An AI host has no configuration directory: a disk of its own instead.
AI_HOST_GAUGES: Final = ("cpu_usage", "memory_usage", "disk_usage")
HOST_TILES: Final = ("loop_lag_p95", "ha_cpu_usage", "ha_memory", "memory_full_in")
GPU_TILES: Final = ("power", "energy", "throttle_reason", "vram_full_in")
SUBJECT_TILES: Final = (
    "requests",
    "latency_p95",
    "error_rate",
    "unanswered_rate",
    "ttft_p95",
    "output_tokens_per_second",
    "perceived_latency_p95",
    "handled_locally",
    "cache_hit",
    "cold_starts",
    "cost",
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
SLOWEST_STAGE: Final = "slowest_stage"
PIPELINE_MODEL: Final = "Assist pipeline"
# Problem sensors: shown only while on.
ALERT_KEYS: Final = ("latency_anomaly", "throttling")
PERCENT_SEVERITY: Final = {"green": 0, "yellow": 75, "red": 90}
TEMPERATURE_SEVERITY: Final = {"green": 0, "yellow": 83, "red": 90}
LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})

NO_PRICES: Final = (
    "Nothing is priced yet.\n\n"
    "- Cloud models: add their token prices in [AI Performance Monitor]"
    "(/config/integrations/integration/ai_performance) → Configure → Costs and budget.\n"
    "- Local models: set the grid price in the [Energy settings](/config/energy); with an "
    "NVIDIA GPU measured here or on an AI host, each request's electricity is priced."
)
NOT_MONITORED: Final = "**GPU not monitored.** {why}\n\n{what}"
NO_NVML: Final = (
    "NVIDIA's NVML library is not available to Home Assistant here ({error}), as on "
    "Home Assistant OS and in most containers."
)
NO_GPU: Final = "NVML found no NVIDIA GPU on this machine."
REMOTE_SERVERS: Final = (
    "Your model servers run on other machines ({servers}): their GPUs are not watched "
    "from here."
)
GPU_ADVICE: Final = (
    "To watch the GPU of the machine your model runs on, add that machine as an **AI host** "
    "in [AI Performance Monitor](/config/integrations/integration/ai_performance) (its "
    "*Add AI host* button) with the URL of the dcgm-exporter or nvidia_gpu_exporter running "
    "there; its GPUs then show here with their alerts. Or run Home Assistant (Core or a container "
    "with the NVIDIA runtime) on the machine that has the GPU."
)
# With GPU monitoring On, a repair issue already says what is missing.
GPU_EXPECTED: Final = (
    "GPU monitoring is On, so a GPU is expected here: the repair issue in "
    "[Settings → Repairs](/config/repairs) says what is missing and how to fix it."
)
OLLAMA_VRAM: Final = "What each Ollama server's loaded models hold in VRAM shows below."


class DashboardError(HomeAssistantError):
    """Lovelace refused to create or save the dashboard."""


def build_dashboard(hass: HomeAssistant, entry_id: str) -> dict[str, Any]:
    """Return the Lovelace configuration for the entities of config entry ``entry_id``."""
    devices = _devices(hass, entry_id)
    overview = devices.pop("overview", None) or _Device(TITLE)
    host = devices.pop("host", None) or _Device("Host")
    ai_hosts = [v for k, v in devices.items() if k.startswith("ai_host_")]
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
                _section(TITLE, overview.tiles(STATUS_TILES)),
                _alerts_section(overview, devices.values(), host),
                _slow_section(overview, subjects),
                _cost_section(overview),
                *(_gpu_section(device) for device in gpus.values()),
                _gpu_missing_section(hass, entry_id, gpus, servers),
                _host_section(host),
                *(
                    _host_section(device, device.name, AI_HOST_GAUGES)
                    for device in ai_hosts
                ),
                _section("Actions", overview.tiles(ACTION_TILES)),
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
    """One of our devices: its name, model and its enabled entities by translation key."""

    def __init__(self, name: str, model: str | None = None) -> None:
        self.name = name
        self.model = model
        self.entities: dict[str, str] = {}
        # The entity's own name, without the device's: the section heading names the device.
        self.names: dict[str, str] = {}

    def pick(self, keys: Iterable[str]) -> list[str]:
        return [self.entities[key] for key in keys if key in self.entities]

    def tile(self, key: str, **extra: Any) -> dict[str, Any]:
        """Return the tile of ``key``: short name, hidden while its figure is unknown."""
        entity_id = self.entities[key]
        tile: dict[str, Any] = {"type": "tile", "entity": entity_id}
        if name := SHORT_NAMES.get(key) or self.names.get(key):
            tile["name"] = name
        if entity_id.startswith("button."):
            # A button's state is when it was last pressed: "Unknown" until then.
            tile["hide_state"] = True
        elif entity_id.startswith("sensor."):
            # A figure this subject does not have yet (or never will) takes no room.
            tile["visibility"] = [_known(entity_id)]
        return tile | extra

    def tiles(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        return [self.tile(key) for key in keys if key in self.entities]


def _full_width() -> dict[str, Any]:
    """Return the option of a card across the whole section (for long device and alert names)."""
    return {"grid_options": {"columns": 12}}


def _known(entity_id: str) -> dict[str, Any]:
    return {"condition": "state", "entity": entity_id, "state_not": "unknown"}


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
            device.name_by_user or device.name or subject, device.model
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


def _markdown(content: str) -> dict[str, Any]:
    return {"type": "markdown", "content": content}


def _gauge(
    device: _Device, key: str, severity: dict[str, int] | None = None
) -> dict[str, Any]:
    """Return a 0-100 gauge; with ``severity`` its needle shows green, yellow, red bands."""
    gauge: dict[str, Any] = {
        "type": "gauge",
        "entity": device.entities[key],
        "name": SHORT_NAMES.get(key, device.names.get(key, key)),
        "min": 0,
        "max": 100,
        # A third of the section: three gauges side by side, on a phone too.
        "grid_options": {"columns": 4},
    }
    if severity:
        gauge |= {"needle": True, "severity": dict(severity)}
    return gauge


def _gauges(
    device: _Device, keys: Iterable[str], severity: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    return [_gauge(device, key, severity) for key in keys if key in device.entities]


def _history(title: str, entity_ids: list[str], hours: int = 24) -> dict[str, Any]:
    return {
        "type": "history-graph",
        "title": title,
        "entities": entity_ids,
        "hours_to_show": hours,
    }


def _alerts_section(
    overview: _Device, others: Iterable[_Device], host: _Device
) -> dict[str, Any] | None:
    """Each alert shows only while raised, with its value and unit; "no alerts" while none is."""
    cards = [
        {
            "type": "conditional",
            "conditions": [{"condition": "state", "entity": entity_id, "state": "on"}],
            # Alert sensors carry their severity, value and unit; the others only their state.
            "card": {"type": "tile", "entity": entity_id, "color": "red"}
            | (
                {"state_content": ["severity", "reading"]}
                if key.endswith("_alert")
                else {}
            ),
        }
        | _full_width()
        for device in (overview, host, *others)
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
            }
            | _full_width(),
        )
    return _section("Alerts", cards)


def _slow_section(
    overview: _Device, subjects: dict[str, _Device]
) -> dict[str, Any] | None:
    """Why is it slow: each agent's and pipeline's slowest stage, and response times."""
    cards = []
    for key, device in subjects.items():
        if SLOWEST_STAGE not in device.entities:
            continue
        tile = device.tile(SLOWEST_STAGE, name=device.name, **_full_width())
        tile["state_content"] = ["state", "waited"]
        if device.model == PIPELINE_MODEL:
            # Home Assistant's own Assist debug view lists this pipeline's recent runs.
            pipeline_id = key.removeprefix("requests_")
            tile["tap_action"] = {
                "action": "navigate",
                "navigation_path": f"/config/voice-assistants/debug/{pipeline_id}",
            }
        cards.append(tile)
    latency = overview.pick(["overall_latency_p95"]) + [
        e for device in subjects.values() for e in device.pick(["latency_p95"])
    ]
    if latency:
        cards.append(_history("Response time p95", latency))
    if rates := overview.pick(["overall_requests_per_minute", "overall_error_rate"]):
        cards.append(_history("Requests and errors", rates))
    return _section("Why is it slow?", cards)


def _cost_section(overview: _Device) -> dict[str, Any] | None:
    """Answer "what does it cost": the cost tiles, or how to get them (always there)."""
    return _section(
        "What does it cost?", overview.tiles(COST_TILES) or [_markdown(NO_PRICES)]
    )


def _gpu_section(gpu: _Device) -> dict[str, Any] | None:
    cards = _gauges(gpu, ["vram_usage"], PERCENT_SEVERITY)
    cards += _gauges(gpu, ["gpu_utilization"])
    cards += _gauges(gpu, ["temperature"], TEMPERATURE_SEVERITY)
    cards += gpu.tiles(GPU_TILES)
    if usage := gpu.pick(["vram_usage", "gpu_utilization"]):
        cards.append(_history("GPU use", usage))
    return _section(gpu.name, cards)


def _gpu_missing_section(
    hass: HomeAssistant,
    entry_id: str,
    gpus: dict[str, _Device],
    servers: dict[str, _Device],
) -> dict[str, Any] | None:
    """Is the GPU all right: where no GPU is watched, say why and what to do."""
    if gpus:
        return None
    entry = hass.config_entries.async_get_entry(entry_id)
    sample = None
    if entry is not None and getattr(entry, "runtime_data", None) is not None:
        sample = entry.runtime_data.coordinator.data.sample(SOURCE_GPU, GpuSample)
    if sample is not None and sample.nvml_available:
        why = [NO_GPU]
    else:
        error = None if sample is None else sample.nvml_error
        why = [NO_NVML.format(error=error or "not loaded")]
    if remote := _remote_servers(entry):
        why.append(REMOTE_SERVERS.format(servers=", ".join(remote)))
    vram = [
        device.tile("models_vram", name=device.name, **_full_width())
        for device in servers.values()
        if "models_vram" in device.entities
    ]
    expected = (
        entry is not None
        and entry.options.get(CONF_GPU_MONITORING) == GPU_MONITORING_ON
    )
    what = (GPU_EXPECTED if expected else GPU_ADVICE) + (
        f" {OLLAMA_VRAM}" if vram else ""
    )
    cards = [_markdown(NOT_MONITORED.format(why=" ".join(why), what=what)), *vram]
    return _section("Is the GPU all right?", cards)


def _remote_servers(entry: ConfigEntry | None) -> list[str]:
    """Return "title (host)" of each model server that runs on another machine."""
    if entry is None:
        return []
    remote = []
    for subentry in entry.subentries.values():
        host = urlsplit(str(subentry.data.get(CONF_URL, ""))).hostname
        if host and host not in LOCAL_HOSTS:
            remote.append(f"{subentry.title} at {host}")
    return remote


def _host_section(
    host: _Device, history: str = "Host", gauges: Iterable[str] = HOST_GAUGES
) -> dict[str, Any] | None:
    cards = _gauges(host, gauges, PERCENT_SEVERITY)
    cards += host.tiles(HOST_TILES)
    if usage := host.pick(["cpu_usage", "memory_usage"]):
        cards.append(_history(f"{history}, last 24 hours", usage))
    return _section(host.name or "Host", cards)


def _subject_section(subject: _Device) -> dict[str, Any] | None:
    cards = subject.tiles(SUBJECT_TILES)
    if latency := subject.pick(["latency_p50", "latency_p95"]):
        # The last day's states: a graph from the first request on, not after an hour.
        cards.append(_history("Response time, last 24 hours", latency))
    return _section(subject.name, cards)


def _server_section(server: _Device, models: list[_Device]) -> dict[str, Any] | None:
    cards = server.tiles(SERVER_TILES)
    cards += [
        {"type": "entities", "title": model.name, "entities": model.pick(MODEL_ROWS)}
        for model in models
        if model.pick(MODEL_ROWS)
    ]
    return _section(server.name, cards)


def _store(hass: HomeAssistant) -> Store[dict[str, Any]]:
    """Return where we keep the dashboard we made: its address and what we saved there."""
    return Store(hass, 1, STORAGE_KEY)


async def async_refresh_dashboard(hass: HomeAssistant, entry_id: str) -> bool:
    """Lay our own dashboard out again for the install as it is now; return True if saved.

    Only the dashboard this integration made, and only while nobody has edited it: a user's
    changes are never overwritten. Saved through Lovelace's own storage, so open browsers show
    the new layout at once.
    """
    store = _store(hass)
    made = await store.async_load() or {}
    lovelace = hass.data.get(LOVELACE_DATA)
    dashboard = (
        None if lovelace is None else lovelace.dashboards.get(made.get("url_path"))
    )
    if not isinstance(dashboard, LovelaceStorage):
        return False  # never made, or deleted since
    try:
        current = await dashboard.async_load(force=False)
    except ConfigNotFound:
        return False
    config = build_dashboard(hass, entry_id)
    if current != made.get("config") or config == current:
        return False
    await dashboard.async_save(config)
    await store.async_save({"url_path": made["url_path"], "config": config})
    LOGGER.debug("Dashboard %s laid out again", made["url_path"])
    return True


@callback
def async_keep_dashboard_current(
    hass: HomeAssistant, entry: ConfigEntry
) -> CALLBACK_TYPE:
    """Refresh our unedited dashboard whenever our entities or devices change.

    Agents, servers and GPUs that appear, prices that bring cost sensors, devices renamed:
    each changes the registries. Changes come in bursts (a new agent adds 20 entities), so a
    refresh waits until they have settled. Return the function that stops it.
    """
    entity_registry = er.async_get(hass)

    async def refresh() -> None:
        await async_refresh_dashboard(hass, entry.entry_id)

    debouncer = Debouncer(
        hass, LOGGER, cooldown=REFRESH_DELAY_S, immediate=False, function=refresh
    )

    @callback
    def ours(data: Mapping[str, Any]) -> bool:
        if data.get("action") == "remove":
            return True  # gone from the registry: it may have been ours
        if "entity_id" in data:
            found = entity_registry.async_get(str(data["entity_id"]))
            return found is not None and found.config_entry_id == entry.entry_id
        # Asked of the registry: a device's own list of entries is deprecated.
        device_id = data.get("device_id")
        return any(
            device.id == device_id
            for device in dr.async_entries_for_config_entry(
                dr.async_get(hass), entry.entry_id
            )
        )

    @callback
    def changed(_event: Event[Any]) -> None:
        if not hass.is_stopping:
            debouncer.async_schedule_call()

    @callback
    def stopping(_event: Event[Any]) -> None:
        # Home Assistant stops without unloading us: no refresh is left waiting.
        debouncer.async_cancel()

    stops = [
        hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, changed, ours),
        hass.bus.async_listen(dr.EVENT_DEVICE_REGISTRY_UPDATED, changed, ours),
        # Not a one-time listener: removing one that has run is an error.
        hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, stopping),
    ]
    # What changed while the integration was not running (an options save reloads it).
    debouncer.async_schedule_call()

    @callback
    def stop() -> None:
        for unsubscribe in stops:
            unsubscribe()
        debouncer.async_cancel()

    return stop


async def async_create_dashboard(
    hass: HomeAssistant, entry_id: str, user: User
) -> dict[str, Any]:
    """Create (or refresh our own unedited) dashboard as ``user``; return where it is."""
    config = build_dashboard(hass, entry_id)
    store = _store(hass)
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
