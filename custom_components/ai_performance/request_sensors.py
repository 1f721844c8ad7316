"""Sensors of AI requests: one device per agent, AI Task, pipeline and reporting name.

Devices appear when their subject is first seen (the sensor platform adds their entities on the
next tick). Latency and rate sensors show the last hour, with the last 5 minutes and 24 hours as
attributes kept out of the recorder.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfEnergy, UnitOfTime
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .collectors.base import Need
from .collectors.requests import (
    DAY_WINDOW_S,
    MAIN_WINDOW_S,
    RATE_WINDOW_S,
    RequestsSample,
    SubjectStats,
)
from .collectors.servers.ollama import OllamaCollector
from .const import (
    SOURCE_REQUESTS,
    UNIT_REQUESTS_PER_MINUTE,
    UNIT_TOKENS,
    UNIT_TOKENS_PER_SECOND,
)
from .coordinator import AIPerformanceCoordinator
from .costs import with_costs
from .engine.requests import Totals
from .engine.sla import WINDOWS_H, SlaFigures
from .engine.stages import Stage
from .engine.windows import WindowStats
from .entity import (
    AIPerformanceEntity,
    request_device_info,
    request_subject,
    server_collectors,
)
from .ledger import AGENT_LEVEL_KINDS, SubjectKind
from .server_entities import probe_device_info
from .sla import SLA_KINDS

# What every request sensor reads (the requests source aggregates everything anyway).
NEED_AGGREGATES: Final = Need(SOURCE_REQUESTS, "aggregates")

ATTR_LAST_5_MIN: Final = "last_5_min"
ATTR_LAST_24_H: Final = "last_24_h"
ATTR_ERRORS_BY_CODE: Final = "errors_by_code"
ATTR_UNANSWERED_BY_CODE: Final = "unanswered_by_code"
# An error budget's detail: the share of it used (past 100 once overspent), and whether it is.
ATTR_BUDGET_CONSUMED: Final = "consumed_percent"
ATTR_BUDGET_EXHAUSTED: Final = "exhausted"
ATTR_REQUEST: Final = "request"
ATTR_STAGES: Final = "stages"
ATTR_WAITED: Final = "waited"
ATTR_REQUEST_AT: Final = "request_at"
ATTR_DEBUG_PATH: Final = "debug_path"
# Home Assistant's own Assist debug view of a pipeline's recent runs.
ASSIST_DEBUG_PATH: Final = "/config/voice-assistants/debug/{pipeline_id}"

LLM_KINDS: Final = AGENT_LEVEL_KINDS
# Subjects whose requests run a model we can time (an agent's, or a server's probe).
MODEL_KINDS: Final = LLM_KINDS | {SubjectKind.PROBE}
PROBE_KINDS: Final = frozenset({SubjectKind.PROBE})
ALL_KINDS: Final = frozenset(SubjectKind)
# Subjects people wait for: where their time goes is worth a look.
USED_KINDS: Final = LLM_KINDS | {SubjectKind.PIPELINE}


@dataclass(frozen=True, kw_only=True)
class RequestSensorEntityDescription(SensorEntityDescription):
    """A sensor of one subject's requests."""

    value_fn: Callable[[SubjectStats], StateType]
    kinds: frozenset[SubjectKind] = ALL_KINDS
    # The window figure shown in attributes for the other windows, where it has them.
    window_fn: Callable[[WindowStats], StateType] | None = None
    attributes_fn: Callable[[SubjectStats], dict[str, Any]] | None = None
    # Money sensors exist only with a price table, in its currency; energy ones with a GPU.
    priced: bool = False
    metered: bool = False


def _main(stats: SubjectStats) -> WindowStats:
    return stats.windows[MAIN_WINDOW_S]


def _latency(
    key: str,
    read: Callable[[WindowStats], float | None],
    kinds: frozenset[SubjectKind] = ALL_KINDS,
    *,
    enabled: bool = True,
) -> RequestSensorEntityDescription:
    """Describe a latency percentile of the last hour, in ms."""
    return RequestSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
        kinds=kinds,
        value_fn=lambda stats: read(_main(stats)),
        window_fn=read,
    )


def _share(
    key: str,
    read: Callable[[WindowStats], float | None],
    kinds: frozenset[SubjectKind] = ALL_KINDS,
    attributes_fn: Callable[[SubjectStats], dict[str, Any]] | None = None,
) -> RequestSensorEntityDescription:
    """Describe a share of the last hour's requests, in %."""
    return RequestSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        kinds=kinds,
        value_fn=lambda stats: read(_main(stats)),
        window_fn=read,
        attributes_fn=attributes_fn,
    )


def _tokens(
    key: str, read: Callable[[SubjectStats], int]
) -> RequestSensorEntityDescription:
    """Describe a lifetime token counter: unknown until a request reports tokens.

    Most agents without token counts (Ollama, AI Tasks) would otherwise show a false 0.
    """
    return RequestSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=UNIT_TOKENS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        kinds=MODEL_KINDS,
        value_fn=lambda stats: read(stats) or None,
    )


def _lifetime(
    key: str, read: Callable[[Totals], float], **kwargs: Any
) -> RequestSensorEntityDescription:
    """Describe a lifetime total of an agent's requests (money or energy)."""
    return RequestSensorEntityDescription(
        key=key,
        translation_key=key,
        suggested_display_precision=2,
        kinds=LLM_KINDS,
        value_fn=lambda stats: round(read(stats.totals), 6),
        **kwargs,
    )


def _per_request(
    key: str, read: Callable[[WindowStats], float | None], precision: int, **kwargs: Any
) -> RequestSensorEntityDescription:
    """Describe what one of the last hour's requests took (money or energy)."""
    return RequestSensorEntityDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=precision,
        kinds=LLM_KINDS,
        value_fn=lambda stats: read(_main(stats)),
        window_fn=read,
        **kwargs,
    )


def _short_duration(ms: float) -> str:
    """Return a duration as a tile shows it beside the stage: "850 ms", "2.4 s"."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _slowest_stage(stats: SubjectStats) -> str | None:
    slowest = stats.slowest
    return None if slowest is None or slowest.stage is None else slowest.stage.value


def _slowest_details(stats: SubjectStats) -> dict[str, Any]:
    """Return the slowest request's stages, wait, time and (pipelines) debug view."""
    if (slowest := stats.slowest) is None:
        return {}
    record = slowest.record
    details: dict[str, Any] = {
        ATTR_WAITED: _short_duration(slowest.waited_ms),
        ATTR_STAGES: {stage.value: ms for stage, ms in slowest.stages.items()},
        ATTR_REQUEST_AT: dt_util.as_local(
            dt_util.utc_from_timestamp(record.start)
        ).isoformat(timespec="seconds"),
    }
    if stats.kind is SubjectKind.PIPELINE:
        details[ATTR_DEBUG_PATH] = ASSIST_DEBUG_PATH.format(pipeline_id=stats.key)
    return details


def _last_request(stats: SubjectStats) -> dict[str, Any]:
    return {} if stats.last is None else {ATTR_REQUEST: stats.last.as_log_dict()}


@dataclass(frozen=True, slots=True)
class SlaSensorSpec:
    """One service-level sensor: a figure over a window, and how it is shown."""

    key: str
    window_h: int
    read: Callable[[SlaFigures], float | None]
    unit: str
    enabled: bool
    # The error budget's sensors say how much of it was used, and whether it is exhausted.
    budget: bool = False

    def value(self, sla: Mapping[int, SlaFigures]) -> float | None:
        """Return the figure from a subject's service level (None without one)."""
        figures = sla.get(self.window_h)
        return None if figures is None else self.read(figures)

    def attributes(self, sla: Mapping[int, SlaFigures]) -> dict[str, Any] | None:
        """Return the error budget's detail (None for the other figures)."""
        figures = sla.get(self.window_h)
        if not self.budget or figures is None:
            return None
        return {
            ATTR_BUDGET_CONSUMED: figures.budget_consumed_percent,
            ATTR_BUDGET_EXHAUSTED: figures.budget_exhausted,
        }

    def description_kwargs(self) -> dict[str, Any]:
        """Return what every description of this sensor has, per subject or overall."""
        minutes = self.unit == UnitOfTime.MINUTES
        return {
            "key": self.key,
            "translation_key": self.key,
            "device_class": SensorDeviceClass.DURATION if minutes else None,
            "native_unit_of_measurement": self.unit,
            "state_class": SensorStateClass.MEASUREMENT,
            "suggested_display_precision": 0 if minutes else 2,
            "entity_registry_enabled_default": self.enabled,
        }


_SLA_WINDOW_NAMES: Final = {1: "1h", 24: "24h", 7 * 24: "7d", 30 * 24: "30d"}
# (figure, how to read it, unit, the window enabled by default)
_SLA_FIGURES: Final[
    tuple[tuple[str, Callable[[SlaFigures], float | None], str, int | None], ...]
] = (
    ("sla_compliance", lambda f: f.compliance_percent, PERCENTAGE, 24),
    ("availability", lambda f: f.availability_percent, PERCENTAGE, 24),
    ("error_budget_remaining", lambda f: f.budget_remaining_percent, PERCENTAGE, 720),
    (
        "error_budget_minutes",
        lambda f: f.budget_remaining_minutes,
        UnitOfTime.MINUTES,
        None,
    ),
)
SLA_SENSORS: Final = tuple(
    SlaSensorSpec(
        f"{name}_{label}",
        window,
        read,
        unit,
        enabled=window == enabled,
        budget=name.startswith("error_budget"),
    )
    for name, read, unit, enabled in _SLA_FIGURES
    for window, label in _SLA_WINDOW_NAMES.items()
    if window in WINDOWS_H
)


def _sla(spec: SlaSensorSpec) -> RequestSensorEntityDescription:
    """Describe a subject's service-level sensor."""
    return RequestSensorEntityDescription(
        kinds=SLA_KINDS,
        value_fn=lambda stats: spec.value(stats.sla),
        attributes_fn=(lambda stats: spec.attributes(stats.sla) or {})
        if spec.budget
        else None,
        **spec.description_kwargs(),
    )


REQUEST_SENSORS: Final[tuple[RequestSensorEntityDescription, ...]] = (
    RequestSensorEntityDescription(
        key="requests",
        translation_key="requests",
        native_unit_of_measurement="requests",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda stats: stats.totals.requests,
    ),
    RequestSensorEntityDescription(
        key="requests_per_minute",
        translation_key="requests_per_minute",
        native_unit_of_measurement=UNIT_REQUESTS_PER_MINUTE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda stats: stats.windows[RATE_WINDOW_S].requests_per_minute,
    ),
    _share(
        "error_rate",
        lambda w: w.error_rate,
        attributes_fn=lambda stats: {
            ATTR_ERRORS_BY_CODE: dict(_main(stats).errors_by_code)
        },
    ),
    _share(
        "unanswered_rate",
        lambda w: w.unanswered_rate,
        attributes_fn=lambda stats: {
            ATTR_UNANSWERED_BY_CODE: dict(_main(stats).unanswered_by_code)
        },
    ),
    _latency("latency_p50", lambda w: w.latency_p50),
    _latency("latency_p95", lambda w: w.latency_p95),
    _latency("latency_p99", lambda w: w.latency_p99),
    _latency("ttft_p50", lambda w: w.ttft_p50),
    _latency("ttft_p95", lambda w: w.ttft_p95),
    _latency("stt_latency_p95", lambda w: w.stt_p95, frozenset({SubjectKind.PIPELINE})),
    _latency(
        "agent_latency_p95", lambda w: w.agent_p95, frozenset({SubjectKind.PIPELINE})
    ),
    _latency(
        "perceived_latency_p95",
        lambda w: w.perceived_p95,
        frozenset({SubjectKind.PIPELINE}),
    ),
    _tokens("input_tokens", lambda stats: stats.totals.input_tokens),
    _tokens("output_tokens", lambda stats: stats.totals.output_tokens),
    RequestSensorEntityDescription(
        key="output_tokens_per_second",
        translation_key="output_tokens_per_second",
        native_unit_of_measurement=UNIT_TOKENS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        kinds=MODEL_KINDS,
        value_fn=lambda stats: _main(stats).output_tokens_per_s,
        window_fn=lambda w: w.output_tokens_per_s,
    ),
    _share("cache_hit", lambda w: w.cache_hit_percent, LLM_KINDS),
    _share("tool_failure_rate", lambda w: w.tool_failure_rate, LLM_KINDS),
    _share("handled_locally", lambda w: w.local_percent),
    RequestSensorEntityDescription(
        key="satisfaction",
        translation_key="satisfaction",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        kinds=LLM_KINDS,
        value_fn=lambda stats: stats.totals.satisfaction_percent,
    ),
    _lifetime(
        "cost",
        lambda totals: totals.cost,
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        priced=True,
    ),
    _per_request(
        "cost_per_request_p50", lambda w: w.cost_p50, precision=4, priced=True
    ),
    _lifetime(
        "gpu_energy",
        lambda totals: totals.energy_wh,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        metered=True,
    ),
    _per_request(
        "gpu_energy_per_request",
        lambda w: w.energy_wh_mean,
        precision=3,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        metered=True,
    ),
    RequestSensorEntityDescription(
        key="cold_starts",
        translation_key="cold_starts",
        state_class=SensorStateClass.TOTAL_INCREASING,
        kinds=PROBE_KINDS,
        value_fn=lambda stats: stats.totals.cold_starts,
    ),
    RequestSensorEntityDescription(
        key="cold_start_delay",
        translation_key="cold_start_delay",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        kinds=PROBE_KINDS,
        value_fn=lambda stats: stats.totals.cold_start_mean_ms,
    ),
    RequestSensorEntityDescription(
        key="slowest_stage",
        translation_key="slowest_stage",
        device_class=SensorDeviceClass.ENUM,
        options=[stage.value for stage in Stage],
        kinds=USED_KINDS,
        value_fn=_slowest_stage,
        attributes_fn=_slowest_details,
    ),
    RequestSensorEntityDescription(
        key="last_request_latency",
        translation_key="last_request_latency",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value_fn=lambda stats: None if stats.last is None else stats.last.duration_ms,
        attributes_fn=_last_request,
    ),
    *(_sla(spec) for spec in SLA_SENSORS),
)


def _sample(coordinator: AIPerformanceCoordinator) -> RequestsSample | None:
    return coordinator.data.sample(SOURCE_REQUESTS, RequestsSample)


def subject_device_info(
    coordinator: AIPerformanceCoordinator, stats: SubjectStats
) -> DeviceInfo:
    """Return the device of a requests subject; a probe's is named with its server, under it."""
    if stats.kind is SubjectKind.PROBE:
        for collector in server_collectors(coordinator):
            if (
                isinstance(collector, OllamaCollector)
                and collector.probing == stats.key
                and (device_info := probe_device_info(collector)) is not None
            ):
                return device_info
    return request_device_info(coordinator.config_entry.entry_id, stats)


class RequestSensor(AIPerformanceEntity, SensorEntity):
    """A sensor of one subject's requests."""

    entity_description: RequestSensorEntityDescription
    # Per-request detail and the other windows change with every request: not for the recorder.
    _unrecorded_attributes = frozenset(
        {
            ATTR_LAST_5_MIN,
            ATTR_LAST_24_H,
            ATTR_ERRORS_BY_CODE,
            ATTR_UNANSWERED_BY_CODE,
            ATTR_REQUEST,
            ATTR_STAGES,
            ATTR_WAITED,
            ATTR_REQUEST_AT,
        }
    )

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: RequestSensorEntityDescription,
        stats: SubjectStats,
    ) -> None:
        """Initialise the sensor of the subject ``stats`` describes."""
        super().__init__(
            coordinator,
            description,
            subject=request_subject(stats.key),
            device_info=subject_device_info(coordinator, stats),
            need=NEED_AGGREGATES,
        )
        self.subject_key = stats.key

    @property
    def stats(self) -> SubjectStats | None:
        """Return this subject in the latest snapshot."""
        sample = _sample(self.coordinator)
        return None if sample is None else sample.subjects.get(self.subject_key)

    @property
    @override
    def available(self) -> bool:
        """Return True while the requests source delivers and knows this subject."""
        return super().available and self.stats is not None

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value from the latest aggregates."""
        stats = self.stats
        return None if stats is None else self.entity_description.value_fn(stats)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the other windows' figures and any detail this sensor has."""
        stats = self.stats
        description = self.entity_description
        if stats is None or (
            description.window_fn is None and not description.attributes_fn
        ):
            return None
        attributes: dict[str, Any] = {}
        if (window_fn := description.window_fn) is not None:
            attributes[ATTR_LAST_5_MIN] = window_fn(stats.windows[RATE_WINDOW_S])
            attributes[ATTR_LAST_24_H] = window_fn(stats.windows[DAY_WINDOW_S])
        if description.attributes_fn is not None:
            attributes.update(description.attributes_fn(stats))
        return attributes


def request_sensors(
    coordinator: AIPerformanceCoordinator, subjects: set[str] | None = None
) -> list[SensorEntity]:
    """Return the sensors of every subject in the latest sample (or of ``subjects`` only)."""
    sample = _sample(coordinator)
    if sample is None:
        return []
    costs = coordinator.config_entry.runtime_data.costs
    descriptions = [
        description
        for description in with_costs(REQUEST_SENSORS, costs)
        if sample.energy_measured or not description.metered
    ]
    return [
        RequestSensor(coordinator, description, stats)
        for key, stats in sample.subjects.items()
        if subjects is None or key in subjects
        for description in descriptions
        if stats.kind in description.kinds
    ]


@callback
def async_add_new_subjects(
    coordinator: AIPerformanceCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> Callable[[], None]:
    """Add the sensors of each subject when it is first seen; return the listener's remover."""
    known = set() if (sample := _sample(coordinator)) is None else set(sample.subjects)

    @callback
    def add_new() -> None:
        if (sample := _sample(coordinator)) is None:
            return
        if new := set(sample.subjects) - known:
            known.update(new)
            async_add_entities(request_sensors(coordinator, new))

    return coordinator.async_add_listener(add_new)
