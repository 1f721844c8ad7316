"""GPU readings from the Prometheus text of NVIDIA's exporters, in the local GPU source's units.

Two exporters are read: NVIDIA's dcgm-exporter (``DCGM_FI_*`` series, one sample per GPU
labelled ``UUID``) and utkuozdemir's nvidia_gpu_exporter (``nvidia_smi_*`` series labelled
``uuid``). Each series we use maps onto one field of the local GPU reading, converted to the
units NVML gives there (MiB and bytes to bytes, ratios to %, Hz to MHz, mJ to J, ...), so a
remote GPU feeds the same entities, alerts and forecasts as a local one. Only the wanted series
are read (``parse_labelled`` skips the others by name).

Where an exporter cannot tell, it leaves the series out (nvidia_gpu_exporter skips ``[N/A]``,
dcgm-exporter skips DCGM's blank values). dcgm-exporter's README shows a blank value printed
(9223372036854775794, "not supported"), as releases before the skip did: DCGM's blank values,
like NaN and infinite values, count as absent, never as a reading.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
import math
import re
from typing import Any, Final

from . import gpu as units
from .prometheus import Labelled, parse_labelled

# The local GPU source's field names (collectors/gpu.py), which entities subscribe to.
FIELD_UTILIZATION: Final = "utilization"
FIELD_MEMORY: Final = "memory"
FIELD_TEMPERATURE: Final = "temperature"
FIELD_MEMORY_TEMPERATURE: Final = "memory_temperature"
FIELD_POWER: Final = "power"
FIELD_POWER_LIMIT: Final = "power_limit"
FIELD_ENERGY: Final = "energy"
FIELD_CLOCKS: Final = "clocks"
FIELD_FAN: Final = "fan"
FIELD_PERFORMANCE_STATE: Final = "performance_state"
FIELD_THROTTLE: Final = "throttle"
FIELD_CODEC: Final = "codec"
FIELD_PCIE: Final = "pcie"
FIELD_ECC: Final = "ecc"
FIELD_XID: Final = "xid"

BYTES_PER_MIB: Final = 1024**2
# nvidia_gpu_exporter turns NVML's PCIe "KB/s" into bytes/s with 1000 bytes per KB
# (internal/nvmlnative/backend_nvml.go, pcieThroughputKBMultiplier); DCGM's profiling
# PCIe rate is in bytes/s: both go back to NVML's KB/s with the same 1000.
BYTES_PER_PCIE_KB: Final = 1000
HZ_PER_MHZ: Final = 1_000_000

# DCGM's blank values (dcgm_structs.h: DCGM_INT32_BLANK, DCGM_INT64_BLANK, DCGM_FP64_BLANK and
# their NOT_FOUND / NOT_SUPPORTED / NOT_PERMISSIONED successors): "no value", never a reading.
_DCGM_BLANKS: Final = frozenset(
    float(base + offset)
    for base in (0x7FFFFFF0, 0x7FFFFFFFFFFFFFF0, 140737488355328)
    for offset in range(4)
)


class GpuExporterKind(StrEnum):
    """Which exporter wrote a scrape."""

    DCGM = "dcgm"
    NVIDIA_SMI = "nvidia_smi"


@dataclass(frozen=True, slots=True)
class ExportedGpu:
    """One GPU of an exporter's scrape, in the local GPU reading's fields and units."""

    # As the exporter labels it: dcgm-exporter "GPU-5fd4...", nvidia_gpu_exporter lower case
    # without the "GPU-" prefix ("5fd4...").
    uuid: str
    index: int | None
    name: str
    driver_version: str
    # GpuReading attribute -> value in its units; only the fields the scrape gave.
    values: dict[str, Any]
    # The exporter's cumulative energy counter, in J; None where it has none. It restarts from
    # 0 when the driver reloads: the reading is returned as it is.
    energy_joules: float | None
    # The local GPU source's field names (FIELD_*) this GPU's scrape gave.
    supported: frozenset[str]
    # The machine's name where the exporter labels it (dcgm-exporter); "" otherwise.
    hostname: str = ""


type Convert = Callable[[float], Any]


@dataclass(frozen=True, slots=True)
class _Mapping:
    """One series: the reading attribute it gives, the field it belongs to, its conversion."""

    series: str
    key: str
    field: str
    convert: Convert


def _whole(value: float) -> int:
    return round(value)


def _ratio_to_percent(value: float) -> int:
    return round(value * 100)


def _mib_to_bytes(value: float) -> int:
    return round(value * BYTES_PER_MIB)


def _hz_to_mhz(value: float) -> int:
    return round(value / HZ_PER_MHZ)


def _bytes_to_pcie_kb(value: float) -> int:
    return round(value / BYTES_PER_PCIE_KB)


def _millijoules_to_joules(value: float) -> float:
    return units.millijoules_to_joules(round(value))


def _last_xid(value: float) -> int | None:
    # dcgm-exporter names XID 0 "No Error" (internal/pkg/collector/xid_errors.go).
    return round(value) or None


def _pstate(value: float) -> str | None:
    return units.performance_state(round(value))


def _throttle(value: float) -> tuple[str, ...]:
    return units.throttle_reasons(round(value))


# Keys that are not GpuReading attributes: used to compute one, or returned beside the values.
_RESERVED_KEY: Final = "_memory_reserved_bytes"
_ENERGY_KEY: Final = "_energy_joules"

# dcgm-exporter: names and units as etc/default-counters.csv and DCGM's dcgm_fields.h state
# them; series outside the default list are ones users add to their counters CSV.
_DCGM: Final = (
    _Mapping("DCGM_FI_DEV_GPU_UTIL", "utilization_percent", FIELD_UTILIZATION, _whole),
    _Mapping(
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "memory_utilization_percent",
        FIELD_UTILIZATION,
        _whole,
    ),
    _Mapping("DCGM_FI_DEV_FB_USED", "memory_used_bytes", FIELD_MEMORY, _mib_to_bytes),
    _Mapping("DCGM_FI_DEV_FB_FREE", "memory_free_bytes", FIELD_MEMORY, _mib_to_bytes),
    _Mapping("DCGM_FI_DEV_FB_TOTAL", "memory_total_bytes", FIELD_MEMORY, _mib_to_bytes),
    _Mapping("DCGM_FI_DEV_FB_RESERVED", _RESERVED_KEY, FIELD_MEMORY, _mib_to_bytes),
    _Mapping("DCGM_FI_DEV_GPU_TEMP", "temperature_c", FIELD_TEMPERATURE, _whole),
    _Mapping(
        "DCGM_FI_DEV_MEMORY_TEMP",
        "memory_temperature_c",
        FIELD_MEMORY_TEMPERATURE,
        _whole,
    ),
    _Mapping("DCGM_FI_DEV_POWER_USAGE", "power_w", FIELD_POWER, float),
    _Mapping(
        "DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "power_limit_w", FIELD_POWER_LIMIT, float
    ),
    _Mapping(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        _ENERGY_KEY,
        FIELD_ENERGY,
        _millijoules_to_joules,
    ),
    _Mapping("DCGM_FI_DEV_SM_CLOCK", "sm_clock_mhz", FIELD_CLOCKS, _whole),
    _Mapping("DCGM_FI_DEV_MEM_CLOCK", "memory_clock_mhz", FIELD_CLOCKS, _whole),
    _Mapping("DCGM_FI_DEV_FAN_SPEED", "fan_percent", FIELD_FAN, _whole),
    _Mapping(
        "DCGM_FI_DEV_PSTATE", "performance_state", FIELD_PERFORMANCE_STATE, _pstate
    ),
    # DCGM renamed the clock throttle reasons field (112) to clock event reasons.
    _Mapping(
        "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
        "throttle_reasons",
        FIELD_THROTTLE,
        _throttle,
    ),
    _Mapping(
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
        "throttle_reasons",
        FIELD_THROTTLE,
        _throttle,
    ),
    _Mapping("DCGM_FI_DEV_ENC_UTIL", "encoder_percent", FIELD_CODEC, _whole),
    _Mapping("DCGM_FI_DEV_DEC_UTIL", "decoder_percent", FIELD_CODEC, _whole),
    # NVML's own PCIe throughput (KB/s) where configured; else the default profiling rate.
    _Mapping("DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "pcie_tx_kb_s", FIELD_PCIE, _whole),
    _Mapping("DCGM_FI_DEV_PCIE_RX_THROUGHPUT", "pcie_rx_kb_s", FIELD_PCIE, _whole),
    _Mapping(
        "DCGM_FI_PROF_PCIE_TX_BYTES", "pcie_tx_kb_s", FIELD_PCIE, _bytes_to_pcie_kb
    ),
    _Mapping(
        "DCGM_FI_PROF_PCIE_RX_BYTES", "pcie_rx_kb_s", FIELD_PCIE, _bytes_to_pcie_kb
    ),
    _Mapping("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "ecc_corrected", FIELD_ECC, _whole),
    _Mapping("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "ecc_uncorrected", FIELD_ECC, _whole),
    # The value is the last XID's number; DCGM counts none.
    _Mapping("DCGM_FI_DEV_XID_ERRORS", "last_xid", FIELD_XID, _last_xid),
)

# nvidia_gpu_exporter: each nvidia-smi field, named and scaled by its unit suffix
# (internal/exporter/exporter.go knownUnitSuffixes: [%] -> _ratio x0.01, [MiB] -> _bytes
# x1048576, [MHz] -> _clock_hz x1e6, [W] -> _watts); NVML-backend extras in docs/METRICS.md.
_NVIDIA_SMI: Final = (
    _Mapping(
        "nvidia_smi_utilization_gpu_ratio",
        "utilization_percent",
        FIELD_UTILIZATION,
        _ratio_to_percent,
    ),
    _Mapping(
        "nvidia_smi_utilization_memory_ratio",
        "memory_utilization_percent",
        FIELD_UTILIZATION,
        _ratio_to_percent,
    ),
    _Mapping("nvidia_smi_memory_used_bytes", "memory_used_bytes", FIELD_MEMORY, _whole),
    _Mapping("nvidia_smi_memory_free_bytes", "memory_free_bytes", FIELD_MEMORY, _whole),
    _Mapping(
        "nvidia_smi_memory_total_bytes", "memory_total_bytes", FIELD_MEMORY, _whole
    ),
    _Mapping("nvidia_smi_temperature_gpu", "temperature_c", FIELD_TEMPERATURE, _whole),
    _Mapping(
        "nvidia_smi_temperature_memory",
        "memory_temperature_c",
        FIELD_MEMORY_TEMPERATURE,
        _whole,
    ),
    _Mapping("nvidia_smi_power_draw_watts", "power_w", FIELD_POWER, float),
    _Mapping(
        "nvidia_smi_enforced_power_limit_watts",
        "power_limit_w",
        FIELD_POWER_LIMIT,
        float,
    ),
    _Mapping("nvidia_smi_energy_joules_total", _ENERGY_KEY, FIELD_ENERGY, float),
    _Mapping(
        "nvidia_smi_clocks_current_sm_clock_hz",
        "sm_clock_mhz",
        FIELD_CLOCKS,
        _hz_to_mhz,
    ),
    _Mapping(
        "nvidia_smi_clocks_current_memory_clock_hz",
        "memory_clock_mhz",
        FIELD_CLOCKS,
        _hz_to_mhz,
    ),
    _Mapping("nvidia_smi_fan_speed_ratio", "fan_percent", FIELD_FAN, _ratio_to_percent),
    _Mapping(
        "nvidia_smi_pstate", "performance_state", FIELD_PERFORMANCE_STATE, _pstate
    ),
    # The bit mask of NVML's reasons; drivers before the rename call it throttle reasons.
    _Mapping(
        "nvidia_smi_clocks_event_reasons_active",
        "throttle_reasons",
        FIELD_THROTTLE,
        _throttle,
    ),
    _Mapping(
        "nvidia_smi_clocks_throttle_reasons_active",
        "throttle_reasons",
        FIELD_THROTTLE,
        _throttle,
    ),
    _Mapping(
        "nvidia_smi_utilization_encoder_ratio",
        "encoder_percent",
        FIELD_CODEC,
        _ratio_to_percent,
    ),
    _Mapping(
        "nvidia_smi_utilization_decoder_ratio",
        "decoder_percent",
        FIELD_CODEC,
        _ratio_to_percent,
    ),
    _Mapping(
        "nvidia_smi_pcie_throughput_tx_bytes_per_second",
        "pcie_tx_kb_s",
        FIELD_PCIE,
        _bytes_to_pcie_kb,
    ),
    _Mapping(
        "nvidia_smi_pcie_throughput_rx_bytes_per_second",
        "pcie_rx_kb_s",
        FIELD_PCIE,
        _bytes_to_pcie_kb,
    ),
    _Mapping(
        "nvidia_smi_ecc_errors_corrected_volatile_total",
        "ecc_corrected",
        FIELD_ECC,
        _whole,
    ),
    _Mapping(
        "nvidia_smi_ecc_errors_uncorrected_volatile_total",
        "ecc_uncorrected",
        FIELD_ECC,
        _whole,
    ),
)

NVIDIA_SMI_INFO: Final = "nvidia_smi_gpu_info"
# XID events counted by the exporter since it started, one series per XID number.
NVIDIA_SMI_XID_COUNT: Final = "nvidia_smi_xid_errors_total"
NVIDIA_SMI_XID_LAST_SEEN: Final = "nvidia_smi_xid_last_timestamp_seconds"
_XID_KEYS: Final = {"xid_errors": FIELD_XID, "last_xid": FIELD_XID}

_MAPPINGS: Final = {
    GpuExporterKind.DCGM: _DCGM,
    GpuExporterKind.NVIDIA_SMI: _NVIDIA_SMI,
}
_EXTRA_SERIES: Final = {
    GpuExporterKind.DCGM: (),
    GpuExporterKind.NVIDIA_SMI: (
        NVIDIA_SMI_INFO,
        NVIDIA_SMI_XID_COUNT,
        NVIDIA_SMI_XID_LAST_SEEN,
    ),
}
# Series names per kind, read once: each parse asks only for these.
SERIES: Final = {
    kind: frozenset({mapping.series for mapping in mappings} | set(_EXTRA_SERIES[kind]))
    for kind, mappings in _MAPPINGS.items()
}

_DETECT = re.compile(
    r"^(?:# (?:HELP|TYPE) )?(?:(DCGM_FI_)|(nvidia_smi_))", re.MULTILINE
)


def detect_gpu_exporter(text: str) -> GpuExporterKind | None:
    """Return which GPU exporter wrote a scrape, or None for neither."""
    match = _DETECT.search(text)
    if match is None:
        return None
    return GpuExporterKind.DCGM if match.group(1) else GpuExporterKind.NVIDIA_SMI


@dataclass(slots=True)
class _Gpu:
    """What a scrape says of one GPU so far."""

    index: int | None = None
    name: str = ""
    driver_version: str = ""
    hostname: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def parse_gpu_exporter(text: str, kind: GpuExporterKind) -> dict[str, ExportedGpu]:
    """Return every GPU of an exporter's scrape by its UUID label.

    A sample without a UUID, or whose value is NaN, infinite or one of DCGM's blank values, is
    left out; a garbled payload raises ExpositionError.
    """
    samples = parse_labelled(text, SERIES[kind])
    gpus: dict[str, _Gpu] = {}
    for mapping in _MAPPINGS[kind]:
        for labels, value in samples.get(mapping.series, ()):
            uuid = _uuid(labels, kind)
            if uuid is None or not _present(value, kind):
                continue
            if (gpu := gpus.get(uuid)) is None:
                gpu = gpus[uuid] = _dcgm_identity(labels, kind)
            # A field given twice (a renamed series, two sources of a rate) keeps the first.
            gpu.values.setdefault(mapping.key, mapping.convert(value))
    if kind is GpuExporterKind.NVIDIA_SMI:
        _nvidia_smi_info(samples, gpus)
        _nvidia_smi_xids(samples, gpus)
    fields = {mapping.key: mapping.field for mapping in _MAPPINGS[kind]} | _XID_KEYS
    return {uuid: _exported(uuid, gpu, fields) for uuid, gpu in gpus.items()}


def _uuid(labels: dict[str, str], kind: GpuExporterKind) -> str | None:
    """Return a sample's GPU UUID; None for a sample that names no GPU (or a MIG slice)."""
    if kind is GpuExporterKind.NVIDIA_SMI:
        return labels.get("uuid") or None
    # dcgm-exporter labels "UUID", or "uuid" with --use-old-namespace. A MIG instance's
    # samples (GPU_I_ID) describe one slice, not the GPU: left out.
    if labels.get("GPU_I_ID"):
        return None
    return labels.get("UUID") or labels.get("uuid") or None


def _dcgm_identity(labels: dict[str, str], kind: GpuExporterKind) -> _Gpu:
    """Return a GPU with the index, model and driver a dcgm-exporter sample labels it with.

    nvidia_gpu_exporter puts them on its info series instead (see _nvidia_smi_info).
    """
    if kind is not GpuExporterKind.DCGM:
        return _Gpu()
    return _Gpu(
        index=_index(labels.get("gpu")),
        name=labels.get("modelName", ""),
        driver_version=labels.get("DCGM_FI_DRIVER_VERSION", ""),
        # "Hostname" before dcgm-exporter's #655, "hostname" since.
        hostname=labels.get("hostname") or labels.get("Hostname") or "",
    )


def _index(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _present(value: float, kind: GpuExporterKind) -> bool:
    if kind is GpuExporterKind.DCGM and value in _DCGM_BLANKS:
        return False
    return math.isfinite(value)


def _nvidia_smi_info(samples: Labelled, gpus: dict[str, _Gpu]) -> None:
    """Take each GPU's index, model and driver from nvidia_smi_gpu_info's labels."""
    for labels, _ in samples.get(NVIDIA_SMI_INFO, ()):
        uuid = labels.get("uuid")
        if not uuid:
            continue
        gpu = gpus.setdefault(uuid, _Gpu())
        gpu.index = _index(labels.get("index"))
        gpu.name = labels.get("name", "")
        gpu.driver_version = labels.get("driver_version", "")


def _nvidia_smi_xids(samples: Labelled, gpus: dict[str, _Gpu]) -> None:
    """Count each GPU's XID errors over their numbers; the last is the one seen latest."""
    counts: dict[str, int] = {}
    for labels, value in samples.get(NVIDIA_SMI_XID_COUNT, ()):
        uuid = labels.get("uuid")
        if uuid and _present(value, GpuExporterKind.NVIDIA_SMI):
            counts[uuid] = counts.get(uuid, 0) + round(value)
    latest: dict[str, tuple[float, int]] = {}
    for labels, seen in samples.get(NVIDIA_SMI_XID_LAST_SEEN, ()):
        uuid, xid = labels.get("uuid"), labels.get("xid", "")
        if not (uuid and xid.isdigit() and _present(seen, GpuExporterKind.NVIDIA_SMI)):
            continue
        if uuid not in latest or seen > latest[uuid][0]:
            latest[uuid] = (seen, int(xid))
    for uuid, count in counts.items():
        values = gpus.setdefault(uuid, _Gpu()).values
        values["xid_errors"] = count
        if uuid in latest:
            values["last_xid"] = latest[uuid][1]


def _exported(uuid: str, gpu: _Gpu, fields: dict[str, str]) -> ExportedGpu:
    values = dict(gpu.values)
    energy = values.pop(_ENERGY_KEY, None)
    reserved = values.pop(_RESERVED_KEY, None)
    if "memory_total_bytes" not in values and _has(
        values, "memory_used_bytes", "memory_free_bytes"
    ):
        # No total series (dcgm-exporter's defaults): NVML's total is used + free + reserved
        # (used excludes what the driver reserves where the exporter reports that apart).
        values["memory_total_bytes"] = (
            values["memory_used_bytes"] + values["memory_free_bytes"] + (reserved or 0)
        )
    supported = {fields[key] for key in values}
    if energy is not None:
        supported.add(FIELD_ENERGY)
    return ExportedGpu(
        uuid=uuid,
        index=gpu.index,
        name=gpu.name,
        driver_version=gpu.driver_version,
        hostname=gpu.hostname,
        values=values,
        energy_joules=energy,
        supported=frozenset(supported),
    )


def _has(values: dict[str, Any], *keys: str) -> bool:
    return all(key in values for key in keys)
