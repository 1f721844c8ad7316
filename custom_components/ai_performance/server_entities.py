"""Entities of model servers: a device per server (its config subentry) and per Ollama model.

Every entity of a server is unavailable while the server does not answer, except "Reachable",
which says so. Entities are added with their subentry, so they show under it in the UI.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfInformation,
    UnitOfTime,
)
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .collectors.ai_host import ai_host_gpu_source
from .collectors.base import Need, device_identifier, request_subject
from .collectors.gpu import GpuSample
from .collectors.servers.base import ServerCollector, model_subject, server_subject
from .collectors.servers.ollama import OllamaCollector, OllamaSample
from .collectors.servers.openai_compatible import (
    OpenAICompatibleCollector,
    OpenAICompatibleSample,
)
from .collectors.servers.prometheus import PrometheusCollector, PrometheusSample, Query
from .const import (
    CONF_AI_HOST,
    UNIT_PER_MINUTE,
    UNIT_REQUESTS_PER_MINUTE,
    UNIT_TOKENS,
    UNIT_TOKENS_PER_SECOND,
)
from .coordinator import AIPerformanceCoordinator
from .engine.gpu import bytes_to_gib
from .engine.ollama import LoadedModel
from .engine.server_metrics import KIND_NAMES, MetricNames, Names, Quantiles, ServerKpis
from .entity import AIPerformanceEntity, server_collectors

NEED_POLL: Final = "poll"
ATTR_MODELS: Final = "models"
# The GPU memory of a server's AI host (GiB), and the share of it the models hold (%).
ATTR_GPU_MEMORY_TOTAL: Final = "gpu_memory_total_gib"
ATTR_GPU_MEMORY_SHARE: Final = "share_of_gpu_memory"
ATTR_QUERY: Final = "query"
# The translation key of the user's own queries (named "{name}").
USER_QUERY: Final = "prometheus_query"
# The translation keys of an Ollama model's device ("{model} on {server}") and of its probes'.
MODEL_DEVICE: Final = "model"
PROBE_DEVICE: Final = "probe"
# A server that answers, but too slowly to give its figures now (they are its last ones).
ATTR_BUSY: Final = "busy"
# Why a query gave no number (a QueryProblem), and the explanation.
ATTR_PROBLEM: Final = "problem"
ATTR_PROBLEM_DETAIL: Final = "problem_detail"

_SERVER_MODELS: Final = {
    OllamaCollector: "Ollama",
    PrometheusCollector: "Prometheus",
}


def server_device_info(collector: ServerCollector[Any]) -> DeviceInfo:
    """Return the device of one server."""
    if isinstance(collector, OpenAICompatibleCollector):
        model = KIND_NAMES[collector.metrics.kind]
    else:
        model = _SERVER_MODELS[type(collector)]
    return DeviceInfo(
        identifiers={
            device_identifier(
                collector.entry_id, server_subject(collector.settings.subentry_id)
            )
        },
        name=collector.settings.title,
        model=model,
    )


def _server_device_id(collector: ServerCollector[Any]) -> str:
    """Register the server's device (once) and return its id, for its children to name it."""
    return (
        dr.async_get(collector.hass)
        .async_get_or_create(
            config_entry_id=collector.entry_id,
            config_subentry_id=collector.settings.subentry_id,
            **server_device_info(collector),
        )
        .id
    )


def model_device_info(collector: ServerCollector[Any], model: str) -> DeviceInfo:
    """Return the device of one model on an Ollama server, linked to the server's device.

    It is named with its server (translated), so the same model on two servers gets two
    devices, and entity ids, of its own.
    """
    subentry_id = collector.settings.subentry_id
    return DeviceInfo(
        identifiers={
            device_identifier(collector.entry_id, model_subject(subentry_id, model))
        },
        translation_key=MODEL_DEVICE,
        translation_placeholders={"model": model, "server": collector.settings.title},
        model="Ollama model",
        via_device_id=_server_device_id(collector),
    )


def probe_device_info(collector: OllamaCollector) -> DeviceInfo | None:
    """Return the device of an Ollama server's probes, linked to the server's device.

    None when the server does not probe.
    """
    if collector.probing is None or collector.probe_model is None:
        return None
    return DeviceInfo(
        identifiers={
            device_identifier(collector.entry_id, request_subject(collector.probing))
        },
        translation_key=PROBE_DEVICE,
        translation_placeholders={
            "model": collector.probe_model,
            "server": collector.settings.title,
        },
        model="Model server probe",
        entry_type=DeviceEntryType.SERVICE,
        via_device_id=_server_device_id(collector),
    )


class ServerEntity(AIPerformanceEntity):
    """An entity of a server or of one of its models: unavailable while the server is down."""

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: EntityDescription,
        collector: ServerCollector[Any],
        model: str | None = None,
    ) -> None:
        """Initialise the entity of ``collector``'s server (or of ``model`` on it)."""
        subentry_id = collector.settings.subentry_id
        if model is None:
            subject, device_info = (
                server_subject(subentry_id),
                server_device_info(collector),
            )
        else:
            subject = model_subject(subentry_id, model)
            device_info = model_device_info(collector, model)
        super().__init__(
            coordinator,
            description,
            subject=subject,
            device_info=device_info,
            need=Need(collector.key, NEED_POLL),
        )
        self.model = model
        self.subentry_id = subentry_id
        self._collector = collector

    @override
    async def async_update(self) -> None:
        """Read the server now (``homeassistant.update_entity``), whatever its interval."""
        self._collector.poll_next_tick()
        await super().async_update()

    @property
    def sample(self) -> Any:
        """Return the server's sample in the latest snapshot; None while it is down."""
        result = self.coordinator.data.sources.get(self.source or "")
        return None if result is None else result.sample


# --- Sensors ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServerSensorEntityDescription(SensorEntityDescription):
    """A sensor of a server; ``value_fn`` reads its sample."""

    value_fn: Callable[[Any], StateType]
    attributes_fn: Callable[[Any], dict[str, Any]] | None = None
    # A size held in GPU memory: where the server names its AI host, also the share of that
    # host's GPU memory it is.
    gpu_share: bool = False


@dataclass(frozen=True, kw_only=True)
class ModelSensorEntityDescription(SensorEntityDescription):
    """A sensor of a loaded Ollama model."""

    value_fn: Callable[[LoadedModel], Any]


@dataclass(frozen=True, kw_only=True)
class MetricsSensorEntityDescription(SensorEntityDescription):
    """A sensor of an OpenAI-compatible server, read from its KPIs.

    ``offered_fn`` tells from the names of a kind of server whether it exposes the series.
    """

    value_fn: Callable[[ServerKpis], StateType]
    offered_fn: Callable[[MetricNames], Names]


def _bytes(
    key: str, read: Callable[[Any], int | None], **kwargs: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "translation_key": key,
        "device_class": SensorDeviceClass.DATA_SIZE,
        "native_unit_of_measurement": UnitOfInformation.BYTES,
        "suggested_unit_of_measurement": UnitOfInformation.GIBIBYTES,
        "suggested_display_precision": 2,
        "state_class": SensorStateClass.MEASUREMENT,
        "value_fn": read,
        **kwargs,
    }


OLLAMA_SENSORS: Final = (
    ServerSensorEntityDescription(
        key="version",
        translation_key="server_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: s.version,
    ),
    ServerSensorEntityDescription(
        key="loaded_models",
        translation_key="loaded_models",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda s: len(s.loaded),
        attributes_fn=lambda s: {ATTR_MODELS: sorted(s.loaded)},
    ),
    ServerSensorEntityDescription(
        **_bytes("models_vram", lambda s: s.vram_bytes), gpu_share=True
    ),
)

MODEL_SENSORS: Final = (
    ModelSensorEntityDescription(**_bytes("model_size", lambda m: m.size_bytes)),
    ModelSensorEntityDescription(**_bytes("model_vram", lambda m: m.vram_bytes)),
    ModelSensorEntityDescription(
        key="gpu_offload",
        translation_key="gpu_offload",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda m: m.gpu_offload_percent,
    ),
    ModelSensorEntityDescription(
        key="unloads_at",
        translation_key="unloads_at",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda m: m.expires_at,
    ),
    ModelSensorEntityDescription(
        key="context_length",
        translation_key="context_length",
        native_unit_of_measurement=UNIT_TOKENS,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda m: m.context_length,
    ),
)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _quantile_ms(
    read: Callable[[ServerKpis], Quantiles], index: int
) -> Callable[[ServerKpis], float | None]:
    return lambda kpis: _ms(read(kpis)[index])


def _quantiles(
    key: str,
    read: Callable[[ServerKpis], Quantiles],
    offered: Callable[[MetricNames], Names],
) -> tuple[MetricsSensorEntityDescription, ...]:
    """Describe p50 / p95 / p99 of one latency histogram (p99 disabled by default)."""
    return tuple(
        MetricsSensorEntityDescription(
            key=f"{key}_p{percentile}",
            translation_key=f"{key}_p{percentile}",
            device_class=SensorDeviceClass.DURATION,
            native_unit_of_measurement=UnitOfTime.MILLISECONDS,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=0,
            entity_registry_enabled_default=percentile != 99,
            offered_fn=offered,
            value_fn=_quantile_ms(read, index),
        )
        for index, percentile in enumerate((50, 95, 99))
    )


def _metric(
    key: str,
    read: Callable[[ServerKpis], StateType],
    unit: str | None,
    offered: Callable[[MetricNames], Names],
    **kwargs: Any,
) -> MetricsSensorEntityDescription:
    return MetricsSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=read,
        offered_fn=offered,
        **kwargs,
    )


METRICS_SENSORS: Final = (
    _metric("running_requests", lambda k: k.running, None, lambda n: n.running),
    _metric("waiting_requests", lambda k: k.waiting, None, lambda n: n.waiting),
    _metric(
        "kv_cache_usage", lambda k: k.kv_cache_percent, PERCENTAGE, lambda n: n.kv_cache
    ),
    _metric(
        "prompt_tokens_per_second",
        lambda k: k.prompt_tokens_per_s,
        UNIT_TOKENS_PER_SECOND,
        lambda n: n.prompt_tokens,
    ),
    _metric(
        "generation_tokens_per_second",
        lambda k: k.generation_tokens_per_s,
        UNIT_TOKENS_PER_SECOND,
        lambda n: n.generation_tokens,
    ),
    _metric(
        "prompt_speed",
        lambda k: k.prompt_speed,
        UNIT_TOKENS_PER_SECOND,
        lambda n: n.prompt_seconds,
    ),
    _metric(
        "generation_speed",
        lambda k: k.generation_speed,
        UNIT_TOKENS_PER_SECOND,
        lambda n: n.generation_seconds,
    ),
    _metric(
        "server_requests_per_minute",
        lambda k: k.requests_per_minute,
        UNIT_REQUESTS_PER_MINUTE,
        lambda n: n.requests,
    ),
    _metric(
        "prefix_cache_hit_rate",
        lambda k: k.prefix_cache_hit_percent,
        PERCENTAGE,
        lambda n: n.cache_hits,
    ),
    _metric(
        "draft_acceptance_rate",
        lambda k: k.draft_acceptance_percent,
        PERCENTAGE,
        lambda n: n.draft_tokens,
        entity_registry_enabled_default=False,
    ),
    _metric(
        "preemptions_per_minute",
        lambda k: k.preemptions_per_minute,
        UNIT_PER_MINUTE,
        lambda n: n.preemptions,
        entity_registry_enabled_default=False,
    ),
    *_quantiles("server_ttft", lambda k: k.ttft, lambda n: n.ttft),
    *_quantiles("server_latency", lambda k: k.e2e, lambda n: n.e2e),
    *_quantiles(
        "inter_token_latency", lambda k: k.inter_token, lambda n: n.inter_token
    ),
    *_quantiles("queue_time", lambda k: k.queue, lambda n: n.queue),
)

SERVED_MODELS: Final = ServerSensorEntityDescription(
    key="served_models",
    translation_key="served_models",
    state_class=SensorStateClass.MEASUREMENT,
    value_fn=lambda s: len(s.models),
    attributes_fn=lambda s: {ATTR_MODELS: list(s.models)},
)


class ServerSensor(ServerEntity, SensorEntity):
    """A figure of a whole server."""

    entity_description: ServerSensorEntityDescription

    @property
    @override
    def native_value(self) -> StateType:
        """Return the value from the server's latest sample."""
        sample = self.sample
        return None if sample is None else self.entity_description.value_fn(sample)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the description's attributes, and the share of the AI host's GPU memory."""
        read = self.entity_description.attributes_fn
        sample = self.sample
        attributes = None if read is None or sample is None else read(sample)
        if self.entity_description.gpu_share and sample is not None:
            share = self._gpu_share(self.entity_description.value_fn(sample))
            attributes = {**(attributes or {}), **share} if share else attributes
        return attributes

    def _gpu_share(self, held: StateType) -> dict[str, Any] | None:
        """Return the GPU memory of the server's AI host, and the share ``held`` is of it."""
        host = self._collector.settings.data.get(CONF_AI_HOST)
        gpus = (
            None
            if host is None
            else self.coordinator.data.sample(ai_host_gpu_source(host), GpuSample)
        )
        total = sum(
            reading.memory_total_bytes or 0
            for reading in (gpus.readings.values() if gpus else ())
        )
        if not total or not isinstance(held, int | float):
            return None
        return {
            ATTR_GPU_MEMORY_TOTAL: round(bytes_to_gib(total), 2),
            ATTR_GPU_MEMORY_SHARE: round(held / total * 100, 1),
        }


class MetricsSensor(ServerEntity, SensorEntity):
    """A KPI of an OpenAI-compatible server."""

    entity_description: MetricsSensorEntityDescription

    @property
    @override
    def native_value(self) -> StateType:
        """Return the KPI from the latest scrape."""
        sample: OpenAICompatibleSample | None = self.sample
        return None if sample is None else self.entity_description.value_fn(sample.kpis)


class ModelSensor(ServerEntity, SensorEntity):
    """A figure of one Ollama model, available while it is loaded."""

    entity_description: ModelSensorEntityDescription

    @property
    def loaded_model(self) -> LoadedModel | None:
        """Return the model as the latest poll saw it; None while it is not loaded."""
        sample: OllamaSample | None = self.sample
        return None if sample is None else sample.loaded.get(self.model or "")

    @property
    @override
    def available(self) -> bool:
        """Return True while the server answers and the model is loaded."""
        return super().available and self.loaded_model is not None

    @property
    @override
    def native_value(self) -> Any:
        """Return the value from the latest poll."""
        model = self.loaded_model
        return None if model is None else self.entity_description.value_fn(model)


class QuerySensor(ServerEntity, SensorEntity):
    """The value of one PromQL query: unknown, with its problem, while the query gives none.

    Unavailable only while the Prometheus server itself cannot be read.
    """

    _attr_state_class = SensorStateClass.MEASUREMENT
    _unrecorded_attributes = frozenset({ATTR_PROBLEM_DETAIL})

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        collector: PrometheusCollector,
        query: Query,
    ) -> None:
        """Initialise the sensor of ``query``."""
        description = SensorEntityDescription(
            key=query.key,
            # A user's query is named by the user; its attributes are translated all the same.
            translation_key=query.translation_key or USER_QUERY,
            native_unit_of_measurement=query.unit,
        )
        super().__init__(coordinator, description, collector)
        self._attr_translation_placeholders = {"name": query.name}
        self.query = query

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the query, and why it gave no number where it gave none."""
        attributes: dict[str, Any] = {ATTR_QUERY: self.query.promql}
        sample: PrometheusSample | None = self.sample
        if sample is not None and (problem := sample.problems.get(self.query.key)):
            attributes[ATTR_PROBLEM] = problem.problem.value
            attributes[ATTR_PROBLEM_DETAIL] = str(problem)
        return attributes

    @property
    @override
    def native_value(self) -> StateType:
        """Return the query's value from the latest poll (unknown when it gave none)."""
        sample: PrometheusSample | None = self.sample
        return None if sample is None else sample.values.get(self.query.key)


def server_sensors(
    coordinator: AIPerformanceCoordinator,
) -> dict[str | None, list[Entity]]:
    """Return every server's sensors (its models' included), by subentry."""
    entities: dict[str | None, list[Entity]] = {}
    for collector in server_collectors(coordinator):
        sensors = entities.setdefault(collector.settings.subentry_id, [])
        if isinstance(collector, OllamaCollector):
            sensors.extend(
                ServerSensor(coordinator, d, collector) for d in OLLAMA_SENSORS
            )
            sensors.extend(
                model_sensors(coordinator, collector, collector.known_models)
            )
        elif isinstance(collector, OpenAICompatibleCollector):
            sensors.append(ServerSensor(coordinator, SERVED_MODELS, collector))
            sensors.extend(
                MetricsSensor(coordinator, d, collector)
                for d in METRICS_SENSORS
                if collector.metrics.offers(d.offered_fn(collector.metrics.names))
            )
        elif isinstance(collector, PrometheusCollector):
            sensors.extend(
                QuerySensor(coordinator, collector, q) for q in collector.queries
            )
    return entities


def model_sensors(
    coordinator: AIPerformanceCoordinator,
    collector: OllamaCollector,
    models: Iterable[str],
) -> list[Entity]:
    """Return the sensors of ``models`` on an Ollama server."""
    return [
        ModelSensor(coordinator, description, collector, model)
        for model in models
        for description in MODEL_SENSORS
    ]


# --- Binary sensors ---------------------------------------------------------------------------

REACHABLE: Final = BinarySensorEntityDescription(
    key="reachable",
    translation_key="reachable",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
)
LOADED: Final = BinarySensorEntityDescription(
    key="loaded",
    translation_key="loaded",
    device_class=BinarySensorDeviceClass.RUNNING,
)


class ReachableBinarySensor(ServerEntity, BinarySensorEntity):
    """Whether a server answers: available even while it does not."""

    @property
    @override
    def available(self) -> bool:
        """Return True while the coordinator runs."""
        return self.coordinator.last_update_success

    @property
    @override
    def is_on(self) -> bool:
        """Return True when the server's latest poll succeeded."""
        return self.coordinator.data.source_ok(self.source or "")

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say when the server answers but is too busy to give its figures now."""
        if isinstance(self.sample, OpenAICompatibleSample):
            return {ATTR_BUSY: self.sample.busy}
        return None


class LoadedBinarySensor(ServerEntity, BinarySensorEntity):
    """Whether a model is in the Ollama server's memory."""

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True while the model is loaded."""
        sample: OllamaSample | None = self.sample
        return None if sample is None else (self.model or "") in sample.loaded


def server_binary_sensors(
    coordinator: AIPerformanceCoordinator,
) -> dict[str | None, list[Entity]]:
    """Return every server's binary sensors (its models' included), by subentry."""
    entities: dict[str | None, list[Entity]] = {}
    for collector in server_collectors(coordinator):
        sensors = entities.setdefault(collector.settings.subentry_id, [])
        sensors.append(ReachableBinarySensor(coordinator, REACHABLE, collector))
        if isinstance(collector, OllamaCollector):
            sensors.extend(
                model_binary_sensors(coordinator, collector, collector.known_models)
            )
    return entities


def model_binary_sensors(
    coordinator: AIPerformanceCoordinator,
    collector: OllamaCollector,
    models: Iterable[str],
) -> list[Entity]:
    """Return the binary sensors of ``models`` on an Ollama server."""
    return [
        LoadedBinarySensor(coordinator, LOADED, collector, model) for model in models
    ]


@callback
def async_add_new_models(
    coordinator: AIPerformanceCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities_of: Callable[
        [AIPerformanceCoordinator, OllamaCollector, Iterable[str]], list[Entity]
    ],
) -> Callable[[], None]:
    """Add the entities of each Ollama model when it is first seen; return the remover."""
    ollama = [
        c for c in server_collectors(coordinator) if isinstance(c, OllamaCollector)
    ]
    known = {c.key: set(c.known_models) for c in ollama}

    @callback
    def add_new() -> None:
        for collector in ollama:
            if new := set(collector.known_models) - known[collector.key]:
                known[collector.key].update(new)
                async_add_entities(
                    entities_of(coordinator, collector, sorted(new)),
                    config_subentry_id=collector.settings.subentry_id,
                )

    return coordinator.async_add_listener(add_new)
