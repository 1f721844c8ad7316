"""Base entity and devices: one device per monitored subject, values read from the Snapshot."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .collectors.ai_host import AiHostCollector, GpuExporterCollector
from .collectors.base import Need, device_identifier, gpu_subject, request_subject
from .collectors.gpu import GpuInfo, GpuReading, GpuSample
from .collectors.requests import RequestsSample, SubjectStats
from .collectors.servers.base import ServerCollector, model_subject, server_subject
from .collectors.servers.ollama import OllamaCollector
from .const import SOURCE_GPU, SOURCE_REQUESTS, SUBJECT_HOST, SUBJECT_OVERVIEW
from .coordinator import AIPerformanceConfigEntry, AIPerformanceCoordinator
from .engine.gpu import bytes_to_gib
from .ledger import SubjectKind

_REQUEST_DEVICE_MODELS: Final = {
    SubjectKind.AGENT: "Conversation agent",
    SubjectKind.AI_TASK: "AI Task",
    SubjectKind.PIPELINE: "Assist pipeline",
    SubjectKind.EXTERNAL: "Reported requests",
    SubjectKind.PROBE: "Model server probe",
}
# Subjects whose device is named by a translation around their own name: a pipeline is often
# named after its agent ("Home Assistant"), and two devices of one name would get entity ids
# that differ only by a "_2".
TRANSLATED_DEVICE_NAMES: Final = {SubjectKind.PIPELINE: "pipeline"}


def request_device_info(entry_id: str, stats: SubjectStats) -> DeviceInfo:
    """Return the device of one agent, AI Task, pipeline or reporting name."""
    identifiers = {device_identifier(entry_id, request_subject(stats.key))}
    model = _REQUEST_DEVICE_MODELS[stats.kind]
    if (translation_key := TRANSLATED_DEVICE_NAMES.get(stats.kind)) is not None:
        return DeviceInfo(
            identifiers=identifiers,
            translation_key=translation_key,
            translation_placeholders={"name": stats.name},
            model=model,
            entry_type=DeviceEntryType.SERVICE,
        )
    return DeviceInfo(
        identifiers=identifiers,
        name=stats.name,
        model=model,
        entry_type=DeviceEntryType.SERVICE,
    )


def overview_device_info(entry_id: str) -> DeviceInfo:
    """Return the AI Performance device: our own health and cost."""
    return DeviceInfo(
        identifiers={device_identifier(entry_id, SUBJECT_OVERVIEW)},
        entry_type=DeviceEntryType.SERVICE,
        translation_key=SUBJECT_OVERVIEW,
    )


def host_device_info(entry_id: str) -> DeviceInfo:
    """Return the device of the machine Home Assistant runs on."""
    return DeviceInfo(
        identifiers={device_identifier(entry_id, SUBJECT_HOST)},
        translation_key=SUBJECT_HOST,
    )


def gpu_device_info(hass: HomeAssistant, entry_id: str, gpu: GpuInfo) -> DeviceInfo:
    """Return the device of one GPU; an AI host's GPU sits under that host's device.

    The AI host's device is registered at setup (``async_register_ai_host_devices``).
    """
    info = DeviceInfo(
        identifiers={device_identifier(entry_id, gpu_subject(gpu.uuid))},
        name=gpu.device_name,
        manufacturer="NVIDIA",
        model=(
            f"{gpu.name}, {bytes_to_gib(gpu.memory_total_bytes):.0f} GiB"
            if gpu.memory_total_bytes
            else gpu.name
        ),
        serial_number=gpu.uuid,
    )
    if gpu.host is None:
        info["sw_version"] = f"Driver {gpu.driver_version}, CUDA {gpu.cuda_version}"
        return info
    host = dr.async_get(hass).async_get_device_by_identifier(
        device_identifier(entry_id, gpu.host), entry_id
    )
    if host is not None:
        info["via_device_id"] = host.id
    versions = [f"Driver {gpu.driver_version}"] if gpu.driver_version else []
    info["sw_version"] = ", ".join([*versions, gpu.exporter]) or None
    return info


def ai_host_device_info(entry_id: str, collector: AiHostCollector[Any]) -> DeviceInfo:
    """Return the device of an AI host: the machine a model server runs on."""
    layout = collector.layout
    return DeviceInfo(
        identifiers={device_identifier(entry_id, collector.subject)},
        name=collector.settings.title,
        model=layout.hostname or None,
        sw_version=f"node_exporter {layout.version}" if layout.version else None,
    )


@callback
def async_register_ai_host_devices(
    hass: HomeAssistant, coordinator: AIPerformanceCoordinator
) -> None:
    """Register each AI host's device, with only a GPU exporter too: its GPUs sit under it."""
    entry_id = coordinator.config_entry.entry_id
    devices = dr.async_get(hass)
    for collector in ai_host_collectors(coordinator):
        devices.async_get_or_create(
            config_entry_id=entry_id,
            config_subentry_id=collector.settings.subentry_id,
            **ai_host_device_info(entry_id, collector),
        )


class AIPerformanceEntity(CoordinatorEntity[AIPerformanceCoordinator]):
    """An entity of one subject (the overview, the host, a GPU, ...), fed by one source.

    With a ``need``, the entity is available only while its source delivers samples, so one
    failing source never makes the others' entities unavailable, and the source reads what the
    entity shows only while the entity is enabled.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: EntityDescription,
        *,
        subject: str,
        device_info: DeviceInfo,
        need: Need | None,
    ) -> None:
        """Initialise the entity of ``subject`` described by ``description``."""
        super().__init__(coordinator)
        self.entity_description = description
        self.subject = subject
        self.source = None if need is None else need.source
        self._need = need
        self._attr_unique_id = (
            f"{coordinator.config_entry.entry_id}_{subject}_{description.key}"
        )
        self._attr_device_info = device_info
        self.config_subentry = subject_subentry(coordinator, subject)

    @override
    async def async_added_to_hass(self) -> None:
        """Subscribe to what this entity shows, until it is removed."""
        await super().async_added_to_hass()
        if self._need is not None:
            needs = self.coordinator.config_entry.runtime_data.needs
            self.async_on_remove(needs.async_subscribe(*self._need))

    @property
    @override
    def available(self) -> bool:
        """Return True while the coordinator runs and this entity's source delivers."""
        return super().available and (
            self.source is None or self.coordinator.data.source_ok(self.source)
        )


class OverviewEntity(AIPerformanceEntity):
    """An entity of the AI Performance device (alerts, benchmark, optimisation)."""

    def __init__(
        self, coordinator: AIPerformanceCoordinator, description: EntityDescription
    ) -> None:
        """Initialise the entity on the overview device."""
        super().__init__(
            coordinator,
            description,
            subject=SUBJECT_OVERVIEW,
            device_info=overview_device_info(coordinator.config_entry.entry_id),
            need=None,
        )


class AIPerformanceGpuEntity(AIPerformanceEntity):
    """An entity of one GPU: unavailable while that GPU is lost."""

    def __init__(
        self,
        coordinator: AIPerformanceCoordinator,
        description: EntityDescription,
        gpu: GpuInfo,
        field: str,
    ) -> None:
        """Initialise the entity of ``gpu``."""
        super().__init__(
            coordinator,
            description,
            subject=gpu_subject(gpu.uuid),
            device_info=gpu_device_info(
                coordinator.hass, coordinator.config_entry.entry_id, gpu
            ),
            need=Need(gpu.source, field),
        )
        self.gpu_uuid = gpu.uuid

    @property
    def reading(self) -> GpuReading | None:
        """Return this GPU's reading in the latest snapshot; None while it is lost."""
        sample = self.coordinator.data.sample(self.source or SOURCE_GPU, GpuSample)
        return None if sample is None else sample.readings.get(self.gpu_uuid)

    @property
    @override
    def available(self) -> bool:
        """Return True while the GPU is present and polled."""
        return super().available and self.reading is not None


def current_gpus(coordinator: AIPerformanceCoordinator) -> list[GpuInfo]:
    """Return NVML's GPUs, then every AI host's, lost ones included until they are forgotten.

    An AI host's GPUs are those it ever listed (kept while its exporter is down); a GPU that
    NVML sees too is NVML's.
    """
    gpus: dict[str, GpuInfo] = {}
    if (sample := coordinator.data.sample(SOURCE_GPU, GpuSample)) is not None:
        gpus.update(sample.gpus)
    for collector in ai_host_collectors(coordinator):
        if isinstance(collector, GpuExporterCollector):
            for uuid, gpu in collector.layout.gpus.items():
                gpus.setdefault(uuid, gpu)
    return list(gpus.values())


def subject_subentry(coordinator: AIPerformanceCoordinator, subject: str) -> str | None:
    """Return the AI host subentry whose device ``subject`` is (or sits under), else None."""
    for collector in ai_host_collectors(coordinator):
        if subject == collector.subject:
            return collector.settings.subentry_id
    for gpu in current_gpus(coordinator):
        if subject == gpu_subject(gpu.uuid) and gpu.host is not None:
            return gpu.host.removeprefix("ai_host_")
    return None


def ai_host_collectors(
    coordinator: AIPerformanceCoordinator,
) -> list[AiHostCollector[Any]]:
    """Return the collectors of the AI hosts' exporters."""
    return [c for c in coordinator.collectors if isinstance(c, AiHostCollector)]


@callback
def async_add_entities_removing_stale(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    domain: str,
    entities: Mapping[str | None, Sequence[Entity]],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a platform's entities, first removing its registry entries that are not among them.

    ``entities`` are grouped by config subentry (None: the entry itself). Entities of a disk
    removed in the options, of a GPU that is gone or of a server removed would otherwise stay
    behind as "no longer provided".
    """
    registry = er.async_get(hass)
    kept = {entity.unique_id for group in entities.values() for entity in group}
    for entry_entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entry_entity.domain == domain and entry_entity.unique_id not in kept:
            registry.async_remove(entry_entity.entity_id)
    for subentry_id, group in entities.items():
        if subentry_id is None:
            async_add_by_subentry(async_add_entities, group)
        else:
            async_add_entities(group, config_subentry_id=subentry_id)


@callback
def async_add_by_subentry(
    async_add_entities: AddConfigEntryEntitiesCallback, entities: Iterable[Entity]
) -> None:
    """Add entities with the config subentry of their device: an AI host's (or the entry's).

    Home Assistant files a device under one subentry at most, so every entity of an AI host's
    devices (its sensors, alerts and forecasts) must name the AI host's subentry.
    """
    groups: dict[str | None, list[Entity]] = {}
    for entity in entities:
        groups.setdefault(getattr(entity, "config_subentry", None), []).append(entity)
    for subentry_id, group in groups.items():
        async_add_entities(group, config_subentry_id=subentry_id)


@callback
def async_remove_stale_devices(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry, subjects: Iterable[str]
) -> None:
    """Remove every device of this entry that is not one of ``subjects``' devices.

    Each is ours alone (its identifiers hold our entry's id), so the device goes:
    detaching the entry from it (``remove_config_entry_id``) is deprecated in 2026.11.
    """
    registry = dr.async_get(hass)
    current = {device_identifier(entry.entry_id, subject) for subject in subjects}
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & current:
            registry.async_remove_device(device.id)


def current_subjects(coordinator: AIPerformanceCoordinator) -> set[str]:
    """Return every subject that has a device now."""
    requests = coordinator.data.sample(SOURCE_REQUESTS, RequestsSample)
    return {
        SUBJECT_OVERVIEW,
        SUBJECT_HOST,
        *(gpu_subject(gpu.uuid) for gpu in current_gpus(coordinator)),
        *(collector.subject for collector in ai_host_collectors(coordinator)),
        *(request_subject(key) for key in (requests.subjects if requests else ())),
        *server_subjects(coordinator),
    }


def server_collectors(
    coordinator: AIPerformanceCoordinator,
) -> list[ServerCollector[Any]]:
    """Return the collectors of the configured model servers."""
    return [c for c in coordinator.collectors if isinstance(c, ServerCollector)]


def server_subjects(coordinator: AIPerformanceCoordinator) -> set[str]:
    """Return the subjects of every server and of every model a server remembers.

    Read from the collectors, not the snapshot: a server that is down keeps its devices.
    """
    subjects: set[str] = set()
    for collector in server_collectors(coordinator):
        subentry_id = collector.settings.subentry_id
        subjects.add(server_subject(subentry_id))
        if isinstance(collector, OllamaCollector):
            subjects.update(
                model_subject(subentry_id, m) for m in collector.known_models
            )
    return subjects


@callback
def async_add_new_keys(
    coordinator: AIPerformanceCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
    read: Callable[[AIPerformanceCoordinator], Mapping[str, object]],
    build: Callable[[AIPerformanceCoordinator, Iterable[str]], Sequence[Entity]],
) -> Callable[[], None]:
    """Add the entities of each key of ``read`` that appears later (a new GPU, a new agent)."""
    known = set(read(coordinator))

    @callback
    def add_new() -> None:
        if new := [key for key in read(coordinator) if key not in known]:
            known.update(new)
            async_add_by_subentry(async_add_entities, build(coordinator, new))

    return coordinator.async_add_listener(add_new)


@callback
def async_add_new_machine_entities[EntityT: Entity](
    coordinator: AIPerformanceCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: Callable[[AIPerformanceCoordinator], Sequence[EntityT]],
) -> Callable[[], None]:
    """Add the entities of GPUs, cores and disks that appear later (on an AI host too).

    ``build`` gives every such entity; only those not added yet are added. It runs only when
    the set of GPUs or an AI host's layout changed.
    """
    added = {entity.unique_id for entity in build(coordinator)}
    shape = _machine_shape(coordinator)

    @callback
    def add_new() -> None:
        nonlocal shape
        if (current := _machine_shape(coordinator)) == shape:
            return
        shape = current
        if new := [e for e in build(coordinator) if e.unique_id not in added]:
            added.update(entity.unique_id for entity in new)
            async_add_by_subentry(async_add_entities, new)

    return coordinator.async_add_listener(add_new)


def _machine_shape(coordinator: AIPerformanceCoordinator) -> tuple[object, ...]:
    layouts = tuple(
        (c.key, c.layout.cores, c.layout.disks, c.layout.pressure)
        for c in ai_host_collectors(coordinator)
    )
    return (tuple(gpu.uuid for gpu in current_gpus(coordinator)), layouts)
