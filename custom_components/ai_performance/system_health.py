"""System health: what each source sees and what monitoring costs."""

from typing import Any

from homeassistant.components import system_health
from homeassistant.core import HomeAssistant, callback

from .collectors.gpu import GpuSample
from .const import DOMAIN, SOURCE_GPU, SOURCE_HOST
from .coordinator import AIPerformanceConfigEntry
from .engine.snapshot import Snapshot


@callback
def async_register(
    hass: HomeAssistant, register: system_health.SystemHealthRegistration
) -> None:
    """Register the system health callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Return each source's status and our own cost."""
    entries: list[AIPerformanceConfigEntry] = hass.config_entries.async_loaded_entries(
        DOMAIN
    )
    if not entries:
        return {}
    snapshot = entries[0].runtime_data.coordinator.data
    return {
        "host": _source_status(snapshot, SOURCE_HOST),
        "gpu": _gpu_status(snapshot),
        "collection_duration": f"{snapshot.collection_ms:.1f} ms",
        "loop_overhead": f"{snapshot.loop_overhead_percent:.3f} %",
        "executor_overhead": f"{snapshot.executor_overhead_percent:.3f} %",
    }


def _source_status(snapshot: Snapshot, key: str) -> str:
    result = snapshot.sources.get(key)
    if result is None:
        return "not collected"
    return "ok" if result.error is None else f"failing: {result.error}"


def _gpu_status(snapshot: Snapshot) -> str:
    sample = snapshot.sample(SOURCE_GPU, GpuSample)
    if sample is None:
        return _source_status(snapshot, SOURCE_GPU)
    if not sample.nvml_available:
        return f"no NVIDIA GPU monitoring ({sample.nvml_error})"
    if not sample.gpus:
        return "no GPU found"
    lost = len(sample.gpus) - len(sample.readings)
    gpu = next(iter(sample.gpus.values()))
    status = (
        f"{len(sample.gpus)} GPU(s), driver {gpu.driver_version}, "
        f"CUDA {gpu.cuda_version}"
    )
    return f"{status}, {lost} lost" if lost else status
