"""System health: what each source sees and what monitoring costs."""

from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from aiohttp import ClientError, ClientTimeout
from homeassistant.components import system_health
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .collectors.gpu import GpuSample
from .collectors.servers.base import ServerSettings
from .const import DOMAIN, SOURCE_GPU, SOURCE_HOST, SOURCE_REQUESTS
from .coordinator import AIPerformanceConfigEntry
from .engine.snapshot import Snapshot
from .entity import ai_host_collectors, server_collectors

REACH_TIMEOUT_S: Final = 5


@callback
def async_register(
    hass: HomeAssistant, register: system_health.SystemHealthRegistration
) -> None:
    """Register the system health callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Return each source's status, whether each model server answers, and our own cost.

    A model server shows under its own name (no translation exists for it): the status of its
    last poll, and whether Home Assistant reaches its URL now.
    """
    entries: list[AIPerformanceConfigEntry] = hass.config_entries.async_loaded_entries(
        DOMAIN
    )
    if not entries:
        return {}
    coordinator = entries[0].runtime_data.coordinator
    snapshot = coordinator.data
    info: dict[str, Any] = {
        "host": _source_status(snapshot, SOURCE_HOST),
        "gpu": _gpu_status(snapshot),
        "nvml_version": _nvml_version(snapshot),
        "requests": _source_status(snapshot, SOURCE_REQUESTS),
        "collection_duration": f"{snapshot.collection_ms:.1f} ms",
        "loop_overhead": f"{snapshot.loop_overhead_percent:.3f} %",
        "executor_overhead": f"{snapshot.executor_overhead_percent:.3f} %",
    }
    for collector in server_collectors(coordinator):
        title = collector.settings.title
        info[title] = _source_status(snapshot, collector.key)
        info[f"{title}: reachable"] = _async_reach(hass, collector.settings)
    # Each AI host's exporters, named as users know them.
    for host in ai_host_collectors(coordinator):
        name = f"{host.settings.title}: {host.exporter}"
        info[name] = _source_status(snapshot, host.key)
    return info


async def _async_reach(
    hass: HomeAssistant, server: ServerSettings
) -> str | dict[str, str]:
    """Return "ok" when the server answers at all (any status), as the frontend expects.

    Like ``system_health.async_check_can_reach_url``, but with the server's own certificate
    setting, and without credentials: an answer is all that is asked for.
    """
    parts = urlsplit(server.url)
    url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    session = async_get_clientsession(hass, verify_ssl=server.verify_ssl)
    try:
        async with session.get(url, timeout=ClientTimeout(total=REACH_TIMEOUT_S)):
            return "ok"
    except ClientError:
        return {"type": "failed", "error": "unreachable"}
    except TimeoutError:
        return {"type": "failed", "error": "timeout"}


def _source_status(snapshot: Snapshot, key: str) -> str:
    result = snapshot.sources.get(key)
    if result is None:
        return "not collected"
    return "ok" if result.error is None else f"failing: {result.error}"


def _nvml_version(snapshot: Snapshot) -> str:
    sample = snapshot.sample(SOURCE_GPU, GpuSample)
    if sample is None or not sample.nvml_version:
        return "not loaded"
    return sample.nvml_version


def _gpu_status(snapshot: Snapshot) -> str:
    sample = snapshot.sample(SOURCE_GPU, GpuSample)
    if sample is None:
        return _source_status(snapshot, SOURCE_GPU)
    if not sample.nvml_available:
        remote = sum(
            len(gpus.gpus)
            for key, gpus in snapshot.samples(GpuSample).items()
            if key != SOURCE_GPU
        )
        here = f"no NVIDIA GPU monitoring here ({sample.nvml_error})"
        return f"{here}; {remote} GPU(s) on AI hosts" if remote else here
    if not sample.gpus:
        return "no GPU found"
    # A GPU without a reading is lost or answers only errors: either way, failing.
    failing = len(sample.gpus) - len(sample.readings)
    gpu = next(iter(sample.gpus.values()))
    status = (
        f"{len(sample.gpus)} GPU(s), driver {gpu.driver_version}, "
        f"CUDA {gpu.cuda_version}"
    )
    return f"{status}, {failing} failing" if failing else status
