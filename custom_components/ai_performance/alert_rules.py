"""The alert rules: which KPI each one judges, for which subjects, and its default thresholds."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from homeassistant.const import PERCENTAGE, UnitOfTemperature, UnitOfTime

from .collectors import host
from .collectors.base import Need, gpu_subject, host_subject, request_subject
from .collectors.gpu import FIELD_MEMORY, FIELD_TEMPERATURE, GpuReading, GpuSample
from .collectors.host import HostSample
from .collectors.requests import MAIN_WINDOW_S, RATE_WINDOW_S, RequestsSample
from .const import (
    CONF_ALERT_RULES,
    CONF_REPAIR_MINUTES,
    DEFAULT_REPAIR_MINUTES,
    SOURCE_GPU,
    SOURCE_HOST,
    SOURCE_REQUESTS,
    SUBJECT_OVERVIEW,
)
from .engine.alerts import Direction, Thresholds
from .engine.snapshot import Snapshot
from .engine.windows import WindowStats
from .ledger import AGENT_LEVEL_KINDS

# Shares (error rate, cache hits) over fewer requests than this say nothing yet.
MIN_REQUESTS_FOR_SHARES: Final = 5

# Keys of one rule's settings in the options.
CONF_ENABLED: Final = "enabled"
CONF_TARGET: Final = "target"
CONF_WARNING: Final = "warning"
CONF_CRITICAL: Final = "critical"
CONF_FOR_MINUTES: Final = "for_minutes"
CONF_HYSTERESIS: Final = "hysteresis"


class RuleKey(StrEnum):
    """The KPIs that alerts watch."""

    RESPONSE_TIME = "response_time"
    ERROR_RATE = "error_rate"
    CACHE_HIT = "cache_hit"
    COST_PER_REQUEST = "cost_per_request"
    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    VRAM = "vram"
    GPU_TEMPERATURE = "gpu_temperature"
    EVENT_LOOP_LAG = "event_loop_lag"


@dataclass(frozen=True, slots=True)
class AlertTarget:
    """What one alert watches: a subject (its device), and an item of it (a disk's path)."""

    subject: str
    item: str = ""
    # The source that measures it, where a rule watches several (not part of its identity).
    source: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """Return the target as text, for ids and storage."""
        return f"{self.subject}|{self.item}" if self.item else self.subject


@dataclass(frozen=True, slots=True)
class Measured:
    """A rule's value for one target in one snapshot (None: not known now)."""

    target: AlertTarget
    name: str
    value: float | None
    # The figure as its sensor shows it, also where too few requests count to judge it: what
    # names the subjects behind an overall alert.
    shown: float | None = None


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """One rule as configured: its target value and thresholds, or off."""

    enabled: bool
    target: float
    thresholds: Thresholds

    def as_options(self) -> dict[str, Any]:
        """Return the settings as saved in the options."""
        return {
            CONF_ENABLED: self.enabled,
            CONF_TARGET: self.target,
            CONF_WARNING: self.thresholds.warning,
            CONF_CRITICAL: self.thresholds.critical,
            CONF_FOR_MINUTES: self.thresholds.for_s / 60,
            CONF_HYSTERESIS: self.thresholds.hysteresis,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSpec:
    """How a rule reads its KPI from a snapshot, and its defaults."""

    key: RuleKey
    source: str
    unit: str
    direction: Direction = Direction.ABOVE
    target: float
    warning: float
    critical: float
    for_minutes: float
    hysteresis: float
    # The recommendation shown with a raised alert (a translated attribute state).
    recommendation: str
    measure: Callable[[Snapshot], list[Measured] | None]
    # What the rule needs read, given the disks monitored.
    needs: Callable[[Iterable[str]], list[Need]] = field(default=lambda _disks: [])

    def settings_from(self, saved: Mapping[str, Any] | None) -> RuleSettings:
        """Return the rule's settings: the saved ones over the defaults."""
        values = {
            CONF_ENABLED: True,
            CONF_TARGET: self.target,
            CONF_WARNING: self.warning,
            CONF_CRITICAL: self.critical,
            CONF_FOR_MINUTES: self.for_minutes,
            CONF_HYSTERESIS: self.hysteresis,
            **(saved or {}),
        }
        return RuleSettings(
            enabled=bool(values[CONF_ENABLED]),
            target=float(values[CONF_TARGET]),
            thresholds=Thresholds(
                warning=float(values[CONF_WARNING]),
                critical=float(values[CONF_CRITICAL]),
                for_s=float(values[CONF_FOR_MINUTES]) * 60,
                hysteresis=float(values[CONF_HYSTERESIS]),
                direction=self.direction,
            ),
        )


# --- Reading each KPI -------------------------------------------------------------------------


def _requests_rule(
    window_s: float, read: Callable[[WindowStats], float | None], *, shares: bool
) -> Callable[[Snapshot], list[Measured] | None]:
    """Read a window aggregate of every agent, AI Task and reporting name, and overall."""

    def measure(snapshot: Snapshot) -> list[Measured] | None:
        sample = snapshot.sample(SOURCE_REQUESTS, RequestsSample)
        if sample is None:
            return None

        def value(stats: WindowStats) -> float | None:
            if shares and stats.count < MIN_REQUESTS_FOR_SHARES:
                return None
            return read(stats)

        overall = sample.overall[window_s]
        measured = [
            Measured(AlertTarget(SUBJECT_OVERVIEW), "", value(overall), read(overall))
        ]
        measured.extend(
            Measured(
                AlertTarget(request_subject(key)),
                stats.name,
                value(stats.windows[window_s]),
                read(stats.windows[window_s]),
            )
            for key, stats in sample.subjects.items()
            if stats.kind in AGENT_LEVEL_KINDS
        )
        return measured

    return measure


def _host_rule(
    read: Callable[[HostSample], float | None],
) -> Callable[[Snapshot], list[Measured] | None]:
    """Measure every host: Home Assistant's own and each AI host."""

    def measure(snapshot: Snapshot) -> list[Measured] | None:
        return [
            Measured(
                AlertTarget(host_subject(key), source=key), sample.name, read(sample)
            )
            for key, sample in snapshot.samples(HostSample).items()
        ]

    return measure


def _disks(snapshot: Snapshot) -> list[Measured] | None:
    return [
        Measured(
            AlertTarget(host_subject(key), path, source=key),
            f"{sample.name}: {path}" if sample.name else path,
            usage.used_percent,
        )
        for key, sample in snapshot.samples(HostSample).items()
        for path, usage in sample.disks.items()
    ]


def _gpu_rule(
    read: Callable[[GpuReading], float | None],
) -> Callable[[Snapshot], list[Measured] | None]:
    """Measure every GPU: NVML's and each AI host's."""

    def measure(snapshot: Snapshot) -> list[Measured] | None:
        measured = []
        for key, sample in snapshot.samples(GpuSample).items():
            for uuid, gpu in sample.gpus.items():
                reading = sample.readings.get(uuid)
                value = None if reading is None else read(reading)
                target = AlertTarget(gpu_subject(uuid), source=key)
                measured.append(Measured(target, gpu.name, value))
        return measured

    return measure


def _host_needs(*needs: str) -> Callable[[Iterable[str]], list[Need]]:
    return lambda _disks: [Need(SOURCE_HOST, need) for need in needs]


def _gpu_needs(field_name: str) -> Callable[[Iterable[str]], list[Need]]:
    return lambda _disks: [Need(SOURCE_GPU, field_name)]


_USAGE: Final[dict[str, Any]] = {
    "unit": PERCENTAGE,
    "target": 70,
    "warning": 85,
    "critical": 95,
    "for_minutes": 5,
    "hysteresis": 5,
}

RULES: Final = (
    RuleSpec(
        key=RuleKey.RESPONSE_TIME,
        source=SOURCE_REQUESTS,
        unit=UnitOfTime.MILLISECONDS,
        target=2000,
        warning=3000,
        critical=5000,
        for_minutes=5,
        hysteresis=250,
        recommendation="check_cold_starts",
        # The last 5 minutes: an alert must follow what users feel now.
        measure=_requests_rule(RATE_WINDOW_S, lambda w: w.latency_p95, shares=False),
    ),
    RuleSpec(
        key=RuleKey.ERROR_RATE,
        source=SOURCE_REQUESTS,
        unit=PERCENTAGE,
        target=1,
        warning=5,
        critical=10,
        for_minutes=5,
        hysteresis=1,
        recommendation="add_fallback_agent",
        measure=_requests_rule(MAIN_WINDOW_S, lambda w: w.error_rate, shares=True),
    ),
    RuleSpec(
        key=RuleKey.CACHE_HIT,
        source=SOURCE_REQUESTS,
        unit=PERCENTAGE,
        direction=Direction.BELOW,
        target=70,
        warning=50,
        critical=30,
        for_minutes=15,
        hysteresis=5,
        recommendation="stable_system_prompt",
        measure=_requests_rule(
            MAIN_WINDOW_S, lambda w: w.cache_hit_percent, shares=True
        ),
    ),
    RuleSpec(
        key=RuleKey.COST_PER_REQUEST,
        source=SOURCE_REQUESTS,
        unit="",  # the configured currency
        target=0.01,
        warning=0.05,
        critical=0.2,
        for_minutes=15,
        hysteresis=0.005,
        recommendation="cheaper_model",
        measure=_requests_rule(MAIN_WINDOW_S, lambda w: w.cost_p50, shares=False),
    ),
    RuleSpec(
        key=RuleKey.CPU,
        source=SOURCE_HOST,
        recommendation="reduce_host_load",
        measure=_host_rule(lambda s: s.cpu_percent),
        needs=_host_needs(host.NEED_CPU),
        **_USAGE,
    ),
    RuleSpec(
        key=RuleKey.MEMORY,
        source=SOURCE_HOST,
        recommendation="free_memory",
        measure=_host_rule(lambda s: s.memory_percent),
        needs=_host_needs(host.NEED_MEMORY),
        **_USAGE,
    ),
    RuleSpec(
        key=RuleKey.DISK,
        source=SOURCE_HOST,
        recommendation="free_disk",
        measure=_disks,
        needs=lambda disks: [Need(SOURCE_HOST, host.disk_need(d)) for d in disks],
        **_USAGE,
    ),
    RuleSpec(
        key=RuleKey.VRAM,
        source=SOURCE_GPU,
        recommendation="unload_idle_models",
        measure=_gpu_rule(lambda r: r.memory_used_percent),
        needs=_gpu_needs(FIELD_MEMORY),
        **_USAGE,
    ),
    RuleSpec(
        key=RuleKey.GPU_TEMPERATURE,
        source=SOURCE_GPU,
        unit=UnitOfTemperature.CELSIUS,
        target=75,
        warning=83,
        critical=90,
        for_minutes=2,
        hysteresis=3,
        recommendation="improve_cooling",
        measure=_gpu_rule(lambda r: r.temperature_c),
        needs=_gpu_needs(FIELD_TEMPERATURE),
    ),
    RuleSpec(
        key=RuleKey.EVENT_LOOP_LAG,
        source=SOURCE_HOST,
        unit=UnitOfTime.MILLISECONDS,
        target=20,
        warning=100,
        critical=500,
        for_minutes=5,
        hysteresis=20,
        recommendation="find_blocking_integration",
        measure=_host_rule(lambda s: None if s.loop_lag is None else s.loop_lag.p95_ms),
        needs=_host_needs(host.NEED_LOOP_LAG),
    ),
)
RULES_BY_KEY: Final = {spec.key: spec for spec in RULES}


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Every rule's settings, and how long critical lasts before a repair issue."""

    rules: Mapping[RuleKey, RuleSettings]
    repair_s: float


def alert_settings(options: Mapping[str, Any]) -> AlertSettings:
    """Return the alert settings in ``options`` (defaults where none are saved)."""
    saved = options.get(CONF_ALERT_RULES) or {}
    return AlertSettings(
        rules={spec.key: spec.settings_from(saved.get(spec.key)) for spec in RULES},
        repair_s=float(options.get(CONF_REPAIR_MINUTES, DEFAULT_REPAIR_MINUTES)) * 60,
    )


def alert_units(currency: str) -> dict[RuleKey, str]:
    """Return each rule's unit; cost is in the configured currency."""
    return {spec.key: spec.unit or currency for spec in RULES}
