"""Sensor platform: every KPI as a sensor with device class, unit and state class."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import time
from typing import Any, Final, override

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfDataRate,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfInformation,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .alert_entities import alert_sensors
from .collectors import host
from .collectors.ai_host import HostLayout, NodeExporterCollector
from .collectors.base import Need
from .collectors.chat_logs import MAX_OPEN_TURNS
from .collectors.gpu import (
    FIELD_CLOCKS,
    FIELD_CODEC,
    FIELD_ECC,
    FIELD_ENERGY,
    FIELD_ENERGY_ESTIMATE,
    FIELD_FAN,
    FIELD_MEMORY,
    FIELD_MEMORY_TEMPERATURE,
    FIELD_PCIE,
    FIELD_PERFORMANCE_STATE,
    FIELD_POWER,
    FIELD_POWER_LIMIT,
    FIELD_PROCESSES,
    FIELD_TEMPERATURE,
    FIELD_THROTTLE,
    FIELD_UTILIZATION,
    FIELD_XID,
    MAX_LISTED_PROCESSES,
    GpuInfo,
    GpuReading,
)
from .collectors.host import HostSample, monitored_disks
from .collectors.requests import MAIN_WINDOW_S, RATE_WINDOW_S, RequestsSample
from .const import (
    CONF_DISKS,
    SOURCE_GPU,
    SOURCE_HOST,
    SOURCE_REQUESTS,
    SUBJECT_HOST,
    SUBJECT_OVERVIEW,
    UNIT_REQUESTS_PER_MINUTE,
)
from .coordinator import AIPerformanceConfigEntry, AIPerformanceCoordinator
from .costs import month_bounds, with_costs
from .engine.gpu import PERFORMANCE_STATES, THROTTLE_STATES, main_throttle_reason
from .engine.snapshot import Snapshot
from .entity import (
    AIPerformanceEntity,
    AIPerformanceGpuEntity,
    ai_host_collectors,
    ai_host_device_info,
    async_add_entities_removing_stale,
    async_add_new_keys,
    async_add_new_machine_entities,
    current_gpus,
    host_device_info,
    overview_device_info,
)
from .optimizer_entities import optimizer_sensors
from .request_sensors import (
    ATTR_UNANSWERED_BY_CODE,
    NEED_AGGREGATES,
    SLA_SENSORS,
    SlaSensorSpec,
    async_add_new_subjects,
    request_sensors,
)
from .server_entities import async_add_new_models, model_sensors, server_sensors
from .trend_entities import forecast_sensors

# Read-only: every value comes from the coordinator.
PARALLEL_UPDATES = 0

ATTR_PROCESSES = "processes"
ATTR_REASONS = "reasons"
ATTR_LAST_XID = "last_xid"
ATTR_TOKEN_COST = "token_cost"  # noqa: S105 - an attribute name
ATTR_ELECTRICITY_COST = "electricity_cost"
ATTR_ELECTRICITY_PRICE = "electricity_price"


# --- Overview: our own cost -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OverviewSensorEntityDescription(SensorEntityDescription):
    """A sensor of the AI Performance device, read from the whole snapshot."""

    value_fn: Callable[[Snapshot], StateType]
    # The source whose failure makes the sensor unavailable; None for our own cost, always known.
    need: Need | None = None
    # Money sensors exist only with a price table, and show its currency.
    priced: bool = False
    last_reset_fn: Callable[[Snapshot], datetime | None] | None = None
    attributes_fn: Callable[[Snapshot], dict[str, Any] | None] | None = None


def _source_duration(source: str) -> OverviewSensorEntityDescription:
    """Describe the collection duration of one source."""
    return OverviewSensorEntityDescription(
        key=f"{source}_collection_duration",
        translation_key=f"{source}_collection_duration",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda snapshot: (
            result.duration_ms
            if (result := snapshot.sources.get(source)) is not None
            else None
        ),
    )


def _overhead(
    key: str, read: Callable[[Snapshot], float]
) -> OverviewSensorEntityDescription:
    """Describe a monitoring overhead sensor: % of the interval spent collecting."""
    return OverviewSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=3,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=read,
    )


def _overall(
    key: str, read: Callable[[RequestsSample], StateType], **kwargs: Any
) -> OverviewSensorEntityDescription:
    """Describe an overall figure over every agent's requests (pipelines not counted twice)."""

    def value(snapshot: Snapshot) -> StateType:
        sample = snapshot.sample(SOURCE_REQUESTS, RequestsSample)
        return None if sample is None else read(sample)

    kwargs.setdefault("state_class", SensorStateClass.MEASUREMENT)
    return OverviewSensorEntityDescription(
        key=key, translation_key=key, need=NEED_AGGREGATES, value_fn=value, **kwargs
    )


def _money(
    key: str, read: Callable[[RequestsSample], float], **kwargs: Any
) -> OverviewSensorEntityDescription:
    """Describe an overall cost, a total in the price table's currency."""
    return _overall(
        key,
        lambda sample: round(read(sample), 6),
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        priced=True,
        **kwargs,
    )


def monthly_budget_used(budget: float) -> OverviewSensorEntityDescription:
    """Describe the share of the monthly budget spent so far."""
    return _overall(
        "monthly_budget_used",
        lambda sample: round(sample.month_cost / budget * 100, 2),
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
    )


def _cost_split(snapshot: Snapshot) -> dict[str, Any] | None:
    """Return what the tokens and the GPU's electricity each cost, and the price per kWh."""
    sample = snapshot.sample(SOURCE_REQUESTS, RequestsSample)
    if sample is None:
        return None
    totals = [stats.totals for stats in sample.subjects.values()]
    electricity = sum(t.electricity_cost for t in totals)
    return {
        ATTR_TOKEN_COST: round(sum(t.cost for t in totals) - electricity, 6),
        ATTR_ELECTRICITY_COST: round(electricity, 6),
        ATTR_ELECTRICITY_PRICE: sample.electricity_price,
    }


def _projection_details(snapshot: Snapshot) -> dict[str, Any] | None:
    """Return the expected daily cost, its daily change and when the budget runs out."""
    if (projection := snapshot.cost_projection) is None:
        return None
    reached = projection.budget_reached_in
    return {
        "daily_cost": round(projection.daily_cost, 4),
        "daily_cost_change": round(projection.slope_per_day, 4),
        "budget_reached": (
            None
            if reached is None
            else dt_util.utc_from_timestamp(time.time() + reached).isoformat()
        ),
    }


def _turn_bounds(snapshot: Snapshot) -> dict[str, Any] | None:
    """Return the turns followed now, those that ended unanswered, and the bound."""
    sample = snapshot.sample(SOURCE_REQUESTS, RequestsSample)
    if sample is None:
        return None
    return {
        "open_turns": sample.open_turns,
        "abandoned_turns": sample.abandoned_turns,
        "limit": MAX_OPEN_TURNS,
        "requests_left_out_of_windows": sample.left_out_of_windows,
    }


def _overall_sla(spec: SlaSensorSpec) -> OverviewSensorEntityDescription:
    """Describe the service level of every agent's requests together."""
    kwargs = spec.description_kwargs()
    key = kwargs.pop("key")
    del kwargs["translation_key"]
    if spec.budget:
        kwargs["attributes_fn"] = lambda snapshot: (
            None
            if (sample := snapshot.sample(SOURCE_REQUESTS, RequestsSample)) is None
            else spec.attributes(sample.overall_sla)
        )
    return _overall(key, lambda sample: spec.value(sample.overall_sla), **kwargs)


OVERVIEW_SENSORS: tuple[OverviewSensorEntityDescription, ...] = (
    OverviewSensorEntityDescription(
        key="collection_duration",
        translation_key="collection_duration",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda snapshot: snapshot.collection_ms,
    ),
    _source_duration(SOURCE_HOST),
    _source_duration(SOURCE_GPU),
    _overhead("loop_overhead", lambda snapshot: snapshot.loop_overhead_percent),
    _overhead("executor_overhead", lambda snapshot: snapshot.executor_overhead_percent),
    _overall(
        "turns_dropped",
        lambda sample: sample.dropped_turns,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        attributes_fn=_turn_bounds,
    ),
    _overall(
        "overall_latency_p95",
        lambda sample: sample.overall[MAIN_WINDOW_S].latency_p95,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        suggested_display_precision=0,
    ),
    _overall(
        "overall_requests_per_minute",
        lambda sample: sample.overall[RATE_WINDOW_S].requests_per_minute,
        native_unit_of_measurement=UNIT_REQUESTS_PER_MINUTE,
        suggested_display_precision=2,
    ),
    _overall(
        "overall_error_rate",
        lambda sample: sample.overall[MAIN_WINDOW_S].error_rate,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
    ),
    _overall(
        "overall_unanswered_rate",
        lambda sample: sample.overall[MAIN_WINDOW_S].unanswered_rate,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        attributes_fn=lambda snapshot: (
            None
            if (sample := snapshot.sample(SOURCE_REQUESTS, RequestsSample)) is None
            else {
                ATTR_UNANSWERED_BY_CODE: dict(
                    sample.overall[MAIN_WINDOW_S].unanswered_by_code
                )
            }
        ),
    ),
    _money(
        "overall_cost",
        lambda sample: sum(stats.totals.cost for stats in sample.subjects.values()),
        attributes_fn=_cost_split,
    ),
    _money(
        "cost_this_month",
        lambda sample: sample.month_cost,
        last_reset_fn=lambda snapshot: (
            None
            if (sample := snapshot.sample(SOURCE_REQUESTS, RequestsSample)) is None
            else month_bounds(sample.month)[0]
        ),
    ),
    OverviewSensorEntityDescription(
        key="projected_monthly_cost",
        translation_key="projected_monthly_cost",
        device_class=SensorDeviceClass.MONETARY,
        suggested_display_precision=2,
        need=NEED_AGGREGATES,
        priced=True,
        value_fn=lambda snapshot: (
            None
            if (projection := snapshot.cost_projection) is None
            else round(projection.month_total, 4)
        ),
        attributes_fn=_projection_details,
    ),
    *(_overall_sla(spec) for spec in SLA_SENSORS),
)


# --- Host -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HostSensorEntityDescription(SensorEntityDescription):
    """A sensor of the host device: what it needs read, and how to show it."""

    need: str
    value_fn: Callable[[HostSample], StateType]
    exists_fn: Callable[[HostSample], bool] = lambda _: True


def _host_percentage(
    key: str, need: str, read: Callable[[HostSample], float | None], **kwargs: Any
) -> HostSensorEntityDescription:
    """Describe a host utilisation or pressure sensor (%)."""
    return HostSensorEntityDescription(
        **{
            "key": key,
            "translation_key": key,
            "need": need,
            "native_unit_of_measurement": PERCENTAGE,
            "state_class": SensorStateClass.MEASUREMENT,
            "suggested_display_precision": 1,
            "value_fn": read,
            **kwargs,
        }
    )


def _host_rate(
    key: str,
    need: str,
    unit: UnitOfDataRate,
    read: Callable[[HostSample], float | None],
) -> HostSensorEntityDescription:
    """Describe a host throughput sensor, measured in bytes per second."""
    return HostSensorEntityDescription(
        key=key,
        translation_key=key,
        need=need,
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.BYTES_PER_SECOND,
        suggested_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=read,
    )


def _host_size(
    key: str,
    need: str,
    unit: UnitOfInformation,
    read: Callable[[HostSample], int | None],
    **kwargs: Any,
) -> HostSensorEntityDescription:
    """Describe a host memory or disk size sensor, measured in bytes."""
    return HostSensorEntityDescription(
        **{
            "key": key,
            "translation_key": key,
            "need": need,
            "device_class": SensorDeviceClass.DATA_SIZE,
            "native_unit_of_measurement": UnitOfInformation.BYTES,
            "suggested_unit_of_measurement": unit,
            "state_class": SensorStateClass.MEASUREMENT,
            "suggested_display_precision": 1,
            "value_fn": read,
            **kwargs,
        }
    )


def _load(key: str, minutes: int) -> HostSensorEntityDescription:
    return HostSensorEntityDescription(
        key=key,
        translation_key=key,
        need=host.NEED_LOAD,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda sample: (
            sample.load[(1, 5, 15).index(minutes)] if sample.load else None
        ),
    )


def _pressure(resource: str) -> HostSensorEntityDescription:
    return _host_percentage(
        f"{resource}_pressure",
        host.NEED_PRESSURE,
        lambda sample: sample.pressure.get(resource),
        exists_fn=lambda sample: resource in sample.pressure,
    )


def _loop_lag(
    key: str, read: Callable[[host.LoopLag], float]
) -> HostSensorEntityDescription:
    return HostSensorEntityDescription(
        key=key,
        translation_key=key,
        need=host.NEED_LOOP_LAG,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda sample: read(sample.loop_lag) if sample.loop_lag else None,
    )


def _process_value[T](
    read: Callable[[host.ProcessUsage], T],
) -> Callable[[HostSample], T | None]:
    return lambda sample: read(sample.process) if sample.process else None


HOST_SENSORS: tuple[HostSensorEntityDescription, ...] = (
    _host_percentage("cpu_usage", host.NEED_CPU, lambda s: s.cpu_percent),
    _load("load_1m", 1),
    _load("load_5m", 5),
    _load("load_15m", 15),
    _host_percentage("memory_usage", host.NEED_MEMORY, lambda s: s.memory_percent),
    _host_size(
        "memory_available",
        host.NEED_MEMORY,
        UnitOfInformation.GIBIBYTES,
        lambda s: s.memory_available_bytes,
    ),
    _host_percentage("swap_usage", host.NEED_SWAP, lambda s: s.swap_percent),
    _host_rate(
        "disk_read_rate",
        host.NEED_DISK_IO,
        UnitOfDataRate.MEGABYTES_PER_SECOND,
        lambda s: s.disk_read_rate,
    ),
    _host_rate(
        "disk_write_rate",
        host.NEED_DISK_IO,
        UnitOfDataRate.MEGABYTES_PER_SECOND,
        lambda s: s.disk_write_rate,
    ),
    _host_rate(
        "network_in_rate",
        host.NEED_NETWORK,
        UnitOfDataRate.MEGABITS_PER_SECOND,
        lambda s: s.network_in_rate,
    ),
    _host_rate(
        "network_out_rate",
        host.NEED_NETWORK,
        UnitOfDataRate.MEGABITS_PER_SECOND,
        lambda s: s.network_out_rate,
    ),
    *(_pressure(resource) for resource in host.PRESSURE_RESOURCES),
    _host_percentage(
        "ha_cpu_usage", host.NEED_PROCESS, _process_value(lambda p: p.cpu_percent)
    ),
    _host_size(
        "ha_memory",
        host.NEED_PROCESS,
        UnitOfInformation.MEBIBYTES,
        _process_value(lambda p: p.rss_bytes),
    ),
    HostSensorEntityDescription(
        key="ha_threads",
        translation_key="ha_threads",
        need=host.NEED_PROCESS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_process_value(lambda p: p.threads),
    ),
    HostSensorEntityDescription(
        key="ha_open_files",
        translation_key="ha_open_files",
        need=host.NEED_PROCESS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_process_value(lambda p: p.open_fds),
        exists_fn=lambda s: s.process is not None and s.process.open_fds is not None,
    ),
    _loop_lag("loop_lag_p95", lambda lag: lag.p95_ms),
    _loop_lag("loop_lag_max", lambda lag: lag.max_ms),
)


def _cpu_core(core: int) -> HostSensorEntityDescription:
    return _host_percentage(
        f"cpu_core_{core}_usage",
        host.NEED_CPU_CORES,
        lambda s: s.cpu_core_percent[core] if core < len(s.cpu_core_percent) else None,
        translation_key="cpu_core_usage",
        translation_placeholders={"core": str(core)},
        entity_registry_enabled_default=False,
    )


def _disk(path: str, *, config: bool) -> tuple[HostSensorEntityDescription, ...]:
    """Describe the usage and free space of the file system holding ``path``.

    The configuration directory's disk has names of its own; other mounts are named by path.
    """
    need = host.disk_need(path)
    prefix = "config_disk" if config else "disk"
    suffix = "" if config else f"_{path}"
    naming: dict[str, Any] = (
        {} if config else {"translation_placeholders": {"mount": path}}
    )
    return (
        _host_percentage(
            f"{prefix}_usage{suffix}",
            need,
            lambda s: disk.used_percent if (disk := s.disks.get(path)) else None,
            translation_key=f"{prefix}_usage",
            **naming,
        ),
        _host_size(
            f"{prefix}_free{suffix}",
            need,
            UnitOfInformation.GIBIBYTES,
            lambda s: disk.free_bytes if (disk := s.disks.get(path)) else None,
            translation_key=f"{prefix}_free",
            **naming,
        ),
    )


# What only Home Assistant's own host has: its process and its event loop.
_HOME_ASSISTANT_NEEDS: Final = frozenset({host.NEED_PROCESS, host.NEED_LOOP_LAG})


def ai_host_sensor_descriptions(
    layout: HostLayout,
) -> list[HostSensorEntityDescription]:
    """Return the sensors of an AI host: those of a host, per core and per disk it has."""
    return [
        *(
            d
            for d in HOST_SENSORS
            if d.need not in _HOME_ASSISTANT_NEEDS
            and (d.need != host.NEED_PRESSURE or d.key.split("_")[0] in layout.pressure)
        ),
        *(_cpu_core(core) for core in range(layout.cores)),
        *(d for path in layout.disks for d in _disk(path, config=False)),
    ]


def host_sensor_descriptions(
    sample: HostSample, disk_paths: Sequence[str]
) -> list[HostSensorEntityDescription]:
    """Return the host sensors this machine supports, per core and per disk included.

    ``disk_paths``: the configuration directory first, then the mounts chosen in the options.
    """
    return [
        *(d for d in HOST_SENSORS if d.exists_fn(sample)),
        *(_cpu_core(core) for core in range(len(sample.cpu_core_percent))),
        *(
            description
            for index, path in enumerate(disk_paths)
            for description in _disk(path, config=index == 0)
        ),
    ]


# --- GPU --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GpuSensorEntityDescription(SensorEntityDescription):
    """A sensor of a GPU device: the NVML field it needs, and how to show it."""

    field: str
    value_fn: Callable[[GpuReading], StateType]
    attributes_fn: Callable[[GpuReading], dict[str, Any]] | None = None


def _gpu(
    key: str, field: str, read: Callable[[GpuReading], StateType], **kwargs: Any
) -> GpuSensorEntityDescription:
    return GpuSensorEntityDescription(
        key=key, translation_key=key, field=field, value_fn=read, **kwargs
    )


def _gpu_percentage(
    key: str, field: str, read: Callable[[GpuReading], StateType], **kwargs: Any
) -> GpuSensorEntityDescription:
    return _gpu(
        key,
        field,
        read,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        **kwargs,
    )


def _gpu_memory(
    key: str, read: Callable[[GpuReading], int | None], **kwargs: Any
) -> GpuSensorEntityDescription:
    return _gpu(
        key,
        FIELD_MEMORY,
        read,
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.GIBIBYTES,
        suggested_display_precision=2,
        **kwargs,
    )


def _gpu_measurement(
    key: str,
    field: str,
    read: Callable[[GpuReading], float | None],
    device_class: SensorDeviceClass,
    unit: str,
    **kwargs: Any,
) -> GpuSensorEntityDescription:
    """Describe a GPU measurement (temperature, power, clock) with its device class and unit."""
    return _gpu(
        key,
        field,
        read,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        **kwargs,
    )


def _gpu_pcie(
    key: str, read: Callable[[GpuReading], int | None]
) -> GpuSensorEntityDescription:
    return _gpu(
        key,
        FIELD_PCIE,
        read,
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.KILOBYTES_PER_SECOND,
        suggested_unit_of_measurement=UnitOfDataRate.MEGABYTES_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
    )


def _gpu_errors(
    key: str, field: str, read: Callable[[GpuReading], int | None], **kwargs: Any
) -> GpuSensorEntityDescription:
    return _gpu(
        key,
        field,
        read,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        **kwargs,
    )


def _process_list(reading: GpuReading) -> dict[str, Any]:
    return {
        ATTR_PROCESSES: [
            {
                "pid": process.pid,
                "name": process.name,
                "gpu_memory_mib": (
                    None
                    if process.gpu_memory_bytes is None
                    else round(process.gpu_memory_bytes / 1024**2)
                ),
            }
            for process in (reading.processes or ())[:MAX_LISTED_PROCESSES]
        ]
    }


GPU_SENSORS: tuple[GpuSensorEntityDescription, ...] = (
    _gpu_percentage(
        "gpu_utilization", FIELD_UTILIZATION, lambda r: r.utilization_percent
    ),
    _gpu_percentage(
        "memory_controller_utilization",
        FIELD_UTILIZATION,
        lambda r: r.memory_utilization_percent,
    ),
    _gpu_percentage("vram_usage", FIELD_MEMORY, lambda r: r.memory_used_percent),
    _gpu_memory(
        "vram_used",
        lambda r: r.memory_used_bytes,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    _gpu_memory(
        "vram_free",
        lambda r: r.memory_free_bytes,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    _gpu_memory(
        "vram_total",
        lambda r: r.memory_total_bytes,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    _gpu_measurement(
        "temperature",
        FIELD_TEMPERATURE,
        lambda r: r.temperature_c,
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
    ),
    _gpu_measurement(
        "memory_temperature",
        FIELD_MEMORY_TEMPERATURE,
        lambda r: r.memory_temperature_c,
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
    ),
    _gpu_measurement(
        "power",
        FIELD_POWER,
        lambda r: r.power_w,
        SensorDeviceClass.POWER,
        UnitOfPower.WATT,
        suggested_display_precision=1,
    ),
    _gpu_measurement(
        "power_limit",
        FIELD_POWER_LIMIT,
        lambda r: r.power_limit_w,
        SensorDeviceClass.POWER,
        UnitOfPower.WATT,
        suggested_display_precision=1,
    ),
    _gpu(
        "energy",
        FIELD_ENERGY,
        lambda r: r.energy_kwh,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
    ),
    _gpu(
        "energy_estimate",
        FIELD_ENERGY_ESTIMATE,
        lambda r: r.energy_estimate_kwh,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
    ),
    _gpu_measurement(
        "sm_clock",
        FIELD_CLOCKS,
        lambda r: r.sm_clock_mhz,
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.MEGAHERTZ,
    ),
    _gpu_measurement(
        "memory_clock",
        FIELD_CLOCKS,
        lambda r: r.memory_clock_mhz,
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.MEGAHERTZ,
    ),
    _gpu_percentage("fan_speed", FIELD_FAN, lambda r: r.fan_percent),
    _gpu(
        "performance_state",
        FIELD_PERFORMANCE_STATE,
        lambda r: r.performance_state,
        device_class=SensorDeviceClass.ENUM,
        options=list(PERFORMANCE_STATES),
    ),
    _gpu(
        "throttle_reason",
        FIELD_THROTTLE,
        lambda r: (
            None
            if r.throttle_reasons is None
            else main_throttle_reason(r.throttle_reasons)
        ),
        device_class=SensorDeviceClass.ENUM,
        options=list(THROTTLE_STATES),
        attributes_fn=lambda r: {ATTR_REASONS: list(r.throttle_reasons or ())},
    ),
    _gpu_percentage(
        "encoder_utilization",
        FIELD_CODEC,
        lambda r: r.encoder_percent,
        entity_registry_enabled_default=False,
    ),
    _gpu_percentage(
        "decoder_utilization",
        FIELD_CODEC,
        lambda r: r.decoder_percent,
        entity_registry_enabled_default=False,
    ),
    _gpu_pcie("pcie_tx", lambda r: r.pcie_tx_kb_s),
    _gpu_pcie("pcie_rx", lambda r: r.pcie_rx_kb_s),
    _gpu_errors("ecc_corrected_errors", FIELD_ECC, lambda r: r.ecc_corrected),
    _gpu_errors("ecc_uncorrected_errors", FIELD_ECC, lambda r: r.ecc_uncorrected),
    _gpu_errors(
        "xid_errors",
        FIELD_XID,
        lambda r: r.xid_errors,
        attributes_fn=lambda r: {ATTR_LAST_XID: r.last_xid},
    ),
    _gpu(
        "processes",
        FIELD_PROCESSES,
        lambda r: None if r.processes is None else len(r.processes),
        state_class=SensorStateClass.MEASUREMENT,
        attributes_fn=_process_list,
    ),
)


# --- Platform ---------------------------------------------------------------------------------


async def async_setup_entry(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the overview, host, request and server sensors, and those each GPU supports."""
    coordinator = entry.runtime_data.coordinator
    costs = entry.runtime_data.costs
    overview = with_costs(OVERVIEW_SENSORS, costs)
    if costs.priced and costs.monthly_budget:
        overview.append(monthly_budget_used(costs.monthly_budget))
    entities: list[SensorEntity] = [
        OverviewSensor(coordinator, description) for description in overview
    ]
    if (sample := coordinator.data.sample(SOURCE_HOST, HostSample)) is not None:
        disk_paths = monitored_disks(
            hass.config.config_dir, entry.options.get(CONF_DISKS, ())
        )
        device = host_device_info(entry.entry_id)
        entities.extend(
            HostSensor(coordinator, description, SUBJECT_HOST, SOURCE_HOST, device)
            for description in host_sensor_descriptions(sample, disk_paths)
        )
    entities.extend(request_sensors(coordinator))
    entities.extend(alert_sensors(coordinator))
    entities.extend(forecast_sensors(coordinator))
    entities.extend(optimizer_sensors(coordinator))
    entities.extend(machine_sensors(coordinator))
    async_add_entities_removing_stale(
        hass,
        entry,
        SENSOR_DOMAIN,
        {None: entities, **server_sensors(coordinator)},
        async_add_entities,
    )
    entry.async_on_unload(
        async_add_new_machine_entities(coordinator, async_add_entities, machine_sensors)
    )
    entry.async_on_unload(async_add_new_subjects(coordinator, async_add_entities))
    entry.async_on_unload(
        async_add_new_keys(
            coordinator,
            async_add_entities,
            lambda c: c.data.forecasts,
            forecast_sensors,
        )
    )
    entry.async_on_unload(
        async_add_new_models(coordinator, async_add_entities, model_sensors)
    )


class OverviewSensor(AIPerformanceEntity, SensorEntity):
    """A sensor of the AI Performance device."""

    entity_description: OverviewSensorEntityDescription
    # The codes behind a share change with every request: not for the recorder.
    _unrecorded_attributes = frozenset({ATTR_UNANSWERED_BY_CODE})

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: OverviewSensorEntityDescription,
    ) -> None:
        """Initialise the sensor from its description."""
        super().__init__(
            coordinator,
            description,
            subject=SUBJECT_OVERVIEW,
            device_info=overview_device_info(coordinator.config_entry.entry_id),
            need=description.need,
        )

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value from the latest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def last_reset(self) -> datetime | None:
        """Return when a total that restarts (each month) last started from zero."""
        if (last_reset_fn := self.entity_description.last_reset_fn) is None:
            return None
        return last_reset_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the details of a sensor that has them."""
        if (attributes_fn := self.entity_description.attributes_fn) is None:
            return None
        return attributes_fn(self.coordinator.data)


def machine_sensors(coordinator: AIPerformanceCoordinator) -> list[SensorEntity]:
    """Return the sensors of every GPU and of every AI host.

    They belong to the entry, not to an AI host's subentry: their devices also carry alert and
    forecast entities, and a device belongs to one subentry at most. Removing an AI host
    reloads the entry, which removes its devices as stale.
    """
    entry_id = coordinator.config_entry.entry_id
    entities: list[SensorEntity] = [
        GpuSensor(coordinator, description, gpu)
        for gpu in current_gpus(coordinator)
        for description in GPU_SENSORS
        if description.field in gpu.supported
    ]
    for collector in ai_host_collectors(coordinator):
        if isinstance(collector, NodeExporterCollector):
            device = ai_host_device_info(entry_id, collector)
            entities.extend(
                HostSensor(
                    coordinator, description, collector.subject, collector.key, device
                )
                for description in ai_host_sensor_descriptions(collector.layout)
            )
    return entities


class HostSensor(AIPerformanceEntity, SensorEntity):
    """A sensor of a host: Home Assistant's own, or an AI host."""

    entity_description: HostSensorEntityDescription

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: HostSensorEntityDescription,
        subject: str,
        source: str,
        device_info: DeviceInfo,
    ) -> None:
        """Initialise the sensor of the host read by ``source`` from its description."""
        super().__init__(
            coordinator,
            description,
            subject=subject,
            device_info=device_info,
            need=Need(source, description.need),
        )

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value from the latest host sample."""
        sample = self.coordinator.data.sample(self.source or SOURCE_HOST, HostSample)
        return None if sample is None else self.entity_description.value_fn(sample)


class GpuSensor(AIPerformanceGpuEntity, SensorEntity):
    """A sensor of one GPU."""

    entity_description: GpuSensorEntityDescription
    # The process list changes every poll and is only useful now: keep it out of the recorder.
    _unrecorded_attributes = frozenset({ATTR_PROCESSES})

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: GpuSensorEntityDescription,
        gpu: GpuInfo,
    ) -> None:
        """Initialise the sensor of ``gpu`` from its description."""
        super().__init__(coordinator, description, gpu, description.field)

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value from the latest reading of this GPU."""
        reading = self.reading
        return None if reading is None else self.entity_description.value_fn(reading)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the process list, throttle reasons or last XID where this sensor has them."""
        attributes_fn = self.entity_description.attributes_fn
        reading = self.reading
        if attributes_fn is None or reading is None:
            return None
        return attributes_fn(reading)
