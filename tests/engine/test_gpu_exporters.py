"""GPU readings from dcgm-exporter's and nvidia_gpu_exporter's Prometheus text.

The oracle is prometheus_client's parser plus each exporter's documented unit, written out here:
dcgm-exporter's etc/default-counters.csv and go-dcgm's dcgm_fields.h (NVIDIA/dcgm-exporter
d5e5f510, NVIDIA/go-dcgm b7fa3154), nvidia_gpu_exporter's internal/exporter/exporter.go
knownUnitSuffixes and docs/METRICS.md (utkuozdemir/nvidia_gpu_exporter e656cd81).
"""

from collections.abc import Callable
from dataclasses import fields
import math
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
import pytest

from custom_components.ai_performance.collectors.gpu import ALL_FIELDS, GpuReading
from custom_components.ai_performance.engine.gpu_exporters import (
    ExportedGpu,
    GpuExporterKind,
    detect_gpu_exporter,
    parse_gpu_exporter,
)
from custom_components.ai_performance.engine.prometheus import ExpositionError

FIXTURES = Path(__file__).parent.parent / "fixtures"
GPU_FIXTURES = FIXTURES / "gpu_exporters"
DCGM = GpuExporterKind.DCGM
NVIDIA_SMI = GpuExporterKind.NVIDIA_SMI
FIXTURE_KINDS = {
    "dcgm_two_gpus.txt": DCGM,
    "dcgm_two_gpus_later.txt": DCGM,
    "dcgm_missing_field.txt": DCGM,
    "dcgm_extra_counters.txt": DCGM,
    "nvidia_smi_two_gpus.txt": NVIDIA_SMI,
    "nvidia_smi_missing_field.txt": NVIDIA_SMI,
}
H100, H200 = (
    "1c67088e-9ecb-4564-bb97-6151ecc2ef64",
    "ef427e4f-1970-42f2-ab0c-ecf0e56a33b9",
)
MASKED = "00000000-0000-0000-0000-000000000000"

MIB = 1024**2
# NVML's clock event reason bits, as dcgm-exporter's clock_events_collector.go lists them
# (nvidia-smi's clocks_event_reasons.active is the same mask: "See nvml.h").
NVML_REASONS = {
    0x001: "gpu_idle",
    0x002: "applications_clocks_setting",
    0x004: "sw_power_cap",
    0x008: "hw_slowdown",
    0x010: "sync_boost",
    0x020: "sw_thermal_slowdown",
    0x040: "hw_thermal_slowdown",
    0x080: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}


def _same(value: float) -> int:
    return round(value)


def _percent(ratio: float) -> int:  # nvidia_gpu_exporter: "[%]" -> _ratio, x 0.01
    return round(ratio * 100)


def _pstate(value: float) -> str:  # both: the P-state's number, P0..P15
    return f"p{round(value)}"


def _reasons(mask: float) -> set[str]:
    return {name for bit, name in NVML_REASONS.items() if round(mask) & bit}


# Reading attribute -> (series in order of preference, conversion, our field).
Oracle = dict[str, tuple[tuple[str, ...], Callable[[float], Any], str]]
DCGM_ORACLE: Oracle = {
    "utilization_percent": (("DCGM_FI_DEV_GPU_UTIL",), _same, "utilization"),
    "memory_utilization_percent": (
        ("DCGM_FI_DEV_MEM_COPY_UTIL",),
        _same,
        "utilization",
    ),
    # Framebuffer memory, "(in MiB)".
    "memory_used_bytes": (("DCGM_FI_DEV_FB_USED",), lambda v: round(v * MIB), "memory"),
    "memory_free_bytes": (("DCGM_FI_DEV_FB_FREE",), lambda v: round(v * MIB), "memory"),
    "temperature_c": (("DCGM_FI_DEV_GPU_TEMP",), _same, "temperature"),
    "memory_temperature_c": (
        ("DCGM_FI_DEV_MEMORY_TEMP",),
        _same,
        "memory_temperature",
    ),
    "power_w": (("DCGM_FI_DEV_POWER_USAGE",), float, "power"),  # "(in W)"
    "power_limit_w": (("DCGM_FI_DEV_ENFORCED_POWER_LIMIT",), float, "power_limit"),
    "sm_clock_mhz": (("DCGM_FI_DEV_SM_CLOCK",), _same, "clocks"),  # "(in MHz)"
    "memory_clock_mhz": (("DCGM_FI_DEV_MEM_CLOCK",), _same, "clocks"),
    "fan_percent": (("DCGM_FI_DEV_FAN_SPEED",), _same, "fan"),  # "in percent 0-100"
    "performance_state": (("DCGM_FI_DEV_PSTATE",), _pstate, "performance_state"),
    "throttle_reasons": (
        ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"),
        _reasons,
        "throttle",
    ),
    "encoder_percent": (("DCGM_FI_DEV_ENC_UTIL",), _same, "codec"),
    "decoder_percent": (("DCGM_FI_DEV_DEC_UTIL",), _same, "codec"),
    # NVML's PCIe throughput in KB/s; else the profiling rate "in bytes per second" / 1000.
    "pcie_tx_kb_s": (
        ("DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "DCGM_FI_PROF_PCIE_TX_BYTES"),
        _same,
        "pcie",
    ),
    "pcie_rx_kb_s": (
        ("DCGM_FI_DEV_PCIE_RX_THROUGHPUT", "DCGM_FI_PROF_PCIE_RX_BYTES"),
        _same,
        "pcie",
    ),
    "ecc_corrected": (("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",), _same, "ecc"),
    "ecc_uncorrected": (("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",), _same, "ecc"),
    # "Value of the last XID error encountered"; xid_errors.go: 0 is "No Error".
    "last_xid": (("DCGM_FI_DEV_XID_ERRORS",), lambda v: round(v) or None, "xid"),
}
NVIDIA_SMI_ORACLE: Oracle = {
    "utilization_percent": (
        ("nvidia_smi_utilization_gpu_ratio",),
        _percent,
        "utilization",
    ),
    "memory_utilization_percent": (
        ("nvidia_smi_utilization_memory_ratio",),
        _percent,
        "utilization",
    ),
    # "[MiB]" -> _bytes, x 1048576: already bytes.
    "memory_used_bytes": (("nvidia_smi_memory_used_bytes",), _same, "memory"),
    "memory_free_bytes": (("nvidia_smi_memory_free_bytes",), _same, "memory"),
    "memory_total_bytes": (("nvidia_smi_memory_total_bytes",), _same, "memory"),
    "temperature_c": (("nvidia_smi_temperature_gpu",), _same, "temperature"),
    "memory_temperature_c": (
        ("nvidia_smi_temperature_memory",),
        _same,
        "memory_temperature",
    ),
    "power_w": (("nvidia_smi_power_draw_watts",), float, "power"),
    "power_limit_w": (
        ("nvidia_smi_enforced_power_limit_watts",),
        float,
        "power_limit",
    ),
    # "[MHz]" -> _clock_hz, x 1000000.
    "sm_clock_mhz": (
        ("nvidia_smi_clocks_current_sm_clock_hz",),
        lambda hz: round(hz / 1e6),
        "clocks",
    ),
    "memory_clock_mhz": (
        ("nvidia_smi_clocks_current_memory_clock_hz",),
        lambda hz: round(hz / 1e6),
        "clocks",
    ),
    "fan_percent": (("nvidia_smi_fan_speed_ratio",), _percent, "fan"),
    "performance_state": (("nvidia_smi_pstate",), _pstate, "performance_state"),
    "throttle_reasons": (
        (
            "nvidia_smi_clocks_event_reasons_active",
            "nvidia_smi_clocks_throttle_reasons_active",
        ),
        _reasons,
        "throttle",
    ),
    "encoder_percent": (("nvidia_smi_utilization_encoder_ratio",), _percent, "codec"),
    "decoder_percent": (("nvidia_smi_utilization_decoder_ratio",), _percent, "codec"),
    # backend_nvml.go: bytes/s = NVML's KB/s x 1000.
    "pcie_tx_kb_s": (
        ("nvidia_smi_pcie_throughput_tx_bytes_per_second",),
        lambda b: round(b / 1000),
        "pcie",
    ),
    "pcie_rx_kb_s": (
        ("nvidia_smi_pcie_throughput_rx_bytes_per_second",),
        lambda b: round(b / 1000),
        "pcie",
    ),
    "ecc_corrected": (
        ("nvidia_smi_ecc_errors_corrected_volatile_total",),
        _same,
        "ecc",
    ),
    "ecc_uncorrected": (
        ("nvidia_smi_ecc_errors_uncorrected_volatile_total",),
        _same,
        "ecc",
    ),
}
ORACLES = {DCGM: DCGM_ORACLE, NVIDIA_SMI: NVIDIA_SMI_ORACLE}


def fixture(name: str) -> str:
    return (GPU_FIXTURES / name).read_text(encoding="utf-8")


type Samples = dict[str, list[tuple[dict[str, str], float]]]


def reference_samples(text: str) -> Samples:
    """Every sample by name, read by prometheus_client."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        # prometheus_client adds "_total" to a counter's samples; keep the name as written.
        written = f"# TYPE {family.name} counter" in text
        for sample in family.samples:
            name = family.name if written else sample.name
            samples.setdefault(name, []).append((sample.labels, sample.value))
    return samples


def _dcgm_blank(value: float) -> bool:
    # go-dcgm dcgm_structs.h: DCGM_INT32_BLANK, DCGM_INT64_BLANK, DCGM_FP64_BLANK (+0..3).
    integers = {
        base + offset
        for base in (0x7FFFFFF0, 0x7FFFFFFFFFFFFFF0)
        for offset in range(4)
    }
    doubles = {140737488355328.0 + offset for offset in range(4)}
    return round(value) in integers or value in doubles


def reference_gpus(text: str, kind: GpuExporterKind) -> dict[str, dict[str, float]]:
    """UUID -> series -> value, by prometheus_client: each exporter's GPU samples."""
    gpus: dict[str, dict[str, float]] = {}
    for name, samples in reference_samples(text).items():
        for labels, value in samples:
            uuid = labels.get("uuid") if kind is NVIDIA_SMI else labels.get("UUID")
            if not uuid or math.isnan(value) or _dcgm_blank(value):
                continue
            gpus.setdefault(uuid, {}).setdefault(name, value)
    return gpus


def expected_values(
    series: dict[str, float], kind: GpuExporterKind
) -> tuple[dict[str, Any], set[str]]:
    """Return the reading the oracle gives for one GPU's series, and its fields."""
    values: dict[str, Any] = {}
    supported: set[str] = set()
    for key, (names, convert, field) in ORACLES[kind].items():
        present = [name for name in names if name in series]
        if not present:
            continue
        value = series[present[0]]
        if present[0].startswith("DCGM_FI_PROF_PCIE"):
            value /= 1000  # bytes per second -> KB/s
        values[key] = convert(value)
        supported.add(field)
    if kind is DCGM:
        if "DCGM_FI_DEV_FB_TOTAL" in series:
            values["memory_total_bytes"] = round(series["DCGM_FI_DEV_FB_TOTAL"] * MIB)
        elif "memory_used_bytes" in values:
            # dcgm_fields.h, DCGM_FI_DEV_FB_USED_RATIO: "Used/(Total - Reserved)".
            reserved = series.get("DCGM_FI_DEV_FB_RESERVED", 0)
            values["memory_total_bytes"] = round(
                (
                    series["DCGM_FI_DEV_FB_USED"]
                    + series["DCGM_FI_DEV_FB_FREE"]
                    + reserved
                )
                * MIB
            )
    return values, supported


def expected_energy(series: dict[str, float], kind: GpuExporterKind) -> float | None:
    if kind is DCGM:  # "Total energy consumption since boot (in mJ)"
        millijoules = series.get("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION")
        return None if millijoules is None else millijoules / 1000
    return series.get("nvidia_smi_energy_joules_total")  # joules


def expected_xids(text: str) -> dict[str, dict[str, int]]:
    """nvidia_gpu_exporter: XIDs counted per number; the last is the latest seen (METRICS.md)."""
    samples = reference_samples(text)
    xids: dict[str, dict[str, int]] = {}
    for labels, count in samples.get("nvidia_smi_xid_errors_total", ()):
        gpu = xids.setdefault(labels["uuid"], {"xid_errors": 0})
        gpu["xid_errors"] += round(count)
    seen = sorted(
        (when, labels["uuid"], int(labels["xid"]))
        for labels, when in samples.get("nvidia_smi_xid_last_timestamp_seconds", ())
    )
    for _, uuid, xid in seen:
        xids[uuid]["last_xid"] = xid
    return xids


def comparable(values: dict[str, Any]) -> dict[str, Any]:
    """The reading with its throttle reasons as a set (their order is engine/gpu.py's)."""
    if "throttle_reasons" in values:
        return values | {"throttle_reasons": set(values["throttle_reasons"])}
    return values


def parsed(name: str) -> dict[str, ExportedGpu]:
    return parse_gpu_exporter(fixture(name), FIXTURE_KINDS[name])


@pytest.mark.parametrize("name", sorted(FIXTURE_KINDS))
def test_fixtures_are_exposition_text_that_cites_its_source(name: str) -> None:
    text = fixture(name)

    families = list(text_string_to_metric_families(text))

    assert families
    assert text.startswith("# ")
    assert not text.startswith(("# HELP", "# TYPE"))
    assert "github.com/" in text.split("\n# HELP", 1)[0]


@pytest.mark.parametrize("name", sorted(FIXTURE_KINDS))
def test_every_mapped_field_equals_the_exporters_own_value(name: str) -> None:
    kind = FIXTURE_KINDS[name]
    reference = reference_gpus(fixture(name), kind)
    xids = expected_xids(fixture(name)) if kind is NVIDIA_SMI else {}

    gpus = parsed(name)

    assert set(gpus) == set(reference)
    for uuid, series in reference.items():
        values, supported = expected_values(series, kind)
        if uuid in xids:
            values |= xids[uuid]
            supported.add("xid")
        energy = expected_energy(series, kind)
        gpu = gpus[uuid]
        assert comparable(gpu.values) == comparable(values), uuid
        assert gpu.energy_joules == energy, uuid
        assert gpu.supported == supported | (
            {"energy"} if energy is not None else set()
        )


@pytest.mark.parametrize("name", sorted(FIXTURE_KINDS))
def test_values_are_gpu_reading_fields_in_its_types(name: str) -> None:
    reading_fields = {field.name for field in fields(GpuReading)}

    for gpu in parsed(name).values():
        reading = GpuReading(**gpu.values)

        assert set(gpu.values) <= reading_fields
        assert gpu.supported <= ALL_FIELDS
        for key, value in gpu.values.items():
            if key in {"power_w", "power_limit_w"}:
                assert isinstance(value, float)
            elif key == "throttle_reasons":
                assert isinstance(value, tuple)
            elif key != "performance_state" and value is not None:
                assert type(value) is int, key
        assert reading.memory_used_percent is not None


def test_dcgm_identifies_each_gpu_by_its_labels() -> None:
    gpus = parsed("dcgm_two_gpus.txt")

    assert {(g.uuid, g.index, g.name, g.driver_version) for g in gpus.values()} == {
        (f"GPU-{H100}", 0, "NVIDIA H100 80GB HBM3", "590.48.01"),
        (f"GPU-{H200}", 1, "NVIDIA H200", "590.48.01"),
    }


def test_nvidia_smi_identifies_each_gpu_by_its_info_series() -> None:
    reference = {
        labels["uuid"]: labels
        for labels, _ in reference_samples(fixture("nvidia_smi_two_gpus.txt"))[
            "nvidia_smi_gpu_info"
        ]
    }

    gpus = parsed("nvidia_smi_two_gpus.txt")

    assert set(gpus) == {H100, H200}
    for uuid, gpu in gpus.items():
        assert gpu.uuid == uuid
        assert gpu.index == int(reference[uuid]["index"])
        assert gpu.name == reference[uuid]["name"]
        assert gpu.driver_version == reference[uuid]["driver_version"]


def test_two_gpus_keep_their_own_values() -> None:
    dcgm = parsed("dcgm_two_gpus.txt")
    smi = parsed("nvidia_smi_two_gpus.txt")

    assert dcgm[f"GPU-{H100}"].values["temperature_c"] == 41
    assert dcgm[f"GPU-{H200}"].values["temperature_c"] == 52
    assert smi[H100].values["power_w"] == 69.85
    assert smi[H200].values["power_w"] == 627.4


def test_dcgm_total_memory_is_used_free_and_reserved_without_a_total_series() -> None:
    gpu = parsed("dcgm_two_gpus.txt")[f"GPU-{H200}"]

    # FB_USED 32362 + FB_FREE 110796 + FB_RESERVED 614 MiB
    assert gpu.values["memory_total_bytes"] == (32362 + 110796 + 614) * MIB


def test_dcgm_total_memory_series_wins_over_the_sum() -> None:
    gpu = parsed("dcgm_extra_counters.txt")[f"GPU-{H200}"]

    assert gpu.values["memory_total_bytes"] == 143771 * MIB


def test_dcgm_prefers_nvml_pcie_throughput_to_the_profiling_rate() -> None:
    gpu = parsed("dcgm_extra_counters.txt")[f"GPU-{H200}"]

    assert (gpu.values["pcie_tx_kb_s"], gpu.values["pcie_rx_kb_s"]) == (4217, 8691)


def test_dcgm_profiling_pcie_rate_is_kilobytes_per_second() -> None:
    gpu = parsed("dcgm_two_gpus.txt")[f"GPU-{H200}"]

    # DCGM_FI_PROF_PCIE_TX_BYTES 4217000 B/s
    assert gpu.values["pcie_tx_kb_s"] == 4217


def test_dcgm_extra_counters_map_fan_pstate_throttle_limit_and_ecc() -> None:
    gpus = parsed("dcgm_extra_counters.txt")
    geforce, h200 = (
        gpus["GPU-00000000-0000-0000-0000-000000000000"],
        gpus[f"GPU-{H200}"],
    )

    assert geforce.values["fan_percent"] == 38
    assert geforce.values["performance_state"] == "p8"
    assert geforce.values["throttle_reasons"] == ("sw_power_cap",)
    assert geforce.values["power_limit_w"] == 250.0
    assert (h200.values["ecc_corrected"], h200.values["ecc_uncorrected"]) == (3, 1)
    assert "ecc" not in geforce.supported
    assert "fan" not in h200.supported


def test_dcgm_xid_zero_is_no_xid() -> None:
    gpus = parsed("dcgm_two_gpus.txt")

    assert gpus[f"GPU-{H100}"].values["last_xid"] is None
    assert gpus[f"GPU-{H200}"].values["last_xid"] == 79
    assert "xid_errors" not in gpus[f"GPU-{H200}"].values


def test_nvidia_smi_xids_are_counted_and_the_latest_is_the_last() -> None:
    gpus = parsed("nvidia_smi_two_gpus.txt")

    # xid 48 once, then xid 79 twice (its timestamp is the later one)
    assert gpus[H200].values["xid_errors"] == 3
    assert gpus[H200].values["last_xid"] == 79
    assert "xid" in gpus[H200].supported
    assert "xid" not in gpus[H100].supported


def test_nvidia_smi_throttle_mask_and_pstate() -> None:
    gpus = parsed("nvidia_smi_two_gpus.txt")
    geforce = parsed("nvidia_smi_missing_field.txt")[MASKED]

    assert gpus[H100].values["throttle_reasons"] == ("gpu_idle",)
    assert gpus[H200].values["throttle_reasons"] == ()
    assert geforce.values["throttle_reasons"] == ("sw_power_cap",)
    assert geforce.values["performance_state"] == "p8"


def test_dcgm_missing_fields_are_none_not_zero() -> None:
    gpu = parsed("dcgm_missing_field.txt")["GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52"]
    reading = GpuReading(**gpu.values)

    # Memory temperature is DCGM's "not supported" value; power and energy have no sample.
    assert reading.memory_temperature_c is None
    assert reading.power_w is None
    assert gpu.energy_joules is None
    assert not {"memory_temperature", "power", "energy", "pcie", "xid"} & gpu.supported
    assert reading.sm_clock_mhz == 139
    assert reading.memory_clock_mhz == 405


def test_nvidia_smi_missing_fields_are_none_not_zero() -> None:
    gpu = parsed("nvidia_smi_missing_field.txt")[MASKED]
    reading = GpuReading(**gpu.values)

    assert reading.memory_temperature_c is None
    assert reading.ecc_corrected is None
    assert reading.ecc_uncorrected is None
    assert gpu.energy_joules is None
    assert not {"memory_temperature", "ecc", "energy", "pcie", "xid"} & gpu.supported
    assert reading.fan_percent == 38


def test_energy_counter_reset_is_returned_as_read() -> None:
    before = parsed("dcgm_two_gpus.txt")
    after = parsed("dcgm_two_gpus_later.txt")
    later = reference_gpus(fixture("dcgm_two_gpus_later.txt"), DCGM)

    reset, grown = f"GPU-{H100}", f"GPU-{H200}"
    assert after[reset].energy_joules == (
        later[reset]["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"] / 1000
    )
    assert after[reset].energy_joules < before[reset].energy_joules
    assert after[grown].energy_joules > before[grown].energy_joules
    assert "energy" in after[reset].supported


def test_the_same_gpu_reads_the_same_through_either_exporter() -> None:
    """Both fixtures describe the same two captured GPUs: every unit conversion must agree."""
    dcgm = parsed("dcgm_two_gpus.txt")
    smi = parsed("nvidia_smi_two_gpus.txt")

    for uuid in (H100, H200):
        ours, theirs = dcgm[f"GPU-{uuid}"].values, smi[uuid].values
        # Totals differ by the capture's own rounding of used/free/reserved to MiB.
        shared = (set(ours) & set(theirs)) - {"memory_total_bytes"}
        assert len(shared) >= 13
        assert {key: ours[key] for key in shared} == {
            key: theirs[key] for key in shared
        }
        assert dcgm[f"GPU-{uuid}"].energy_joules == smi[uuid].energy_joules


@pytest.mark.parametrize(
    ("name", "kind"),
    list(FIXTURE_KINDS.items()),
)
def test_detects_the_exporter(name: str, kind: GpuExporterKind) -> None:
    assert detect_gpu_exporter(fixture(name)) is kind


@pytest.mark.parametrize(
    "text",
    [
        (FIXTURES / "python_process_metrics.txt").read_text(encoding="utf-8"),
        (FIXTURES / "vllm_metrics.txt").read_text(encoding="utf-8"),
        "",
    ],
)
def test_detects_neither_exporter(text: str) -> None:
    assert detect_gpu_exporter(text) is None


@pytest.mark.parametrize(
    ("name", "cut"),
    [
        ("dcgm_two_gpus.txt", 'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-'),
        ("nvidia_smi_two_gpus.txt", "nvidia_smi_temperature_gpu{uuid="),
    ],
)
def test_garbled_text_raises(name: str, cut: str) -> None:
    text = fixture(name)
    truncated = text[: text.index(cut) + len(cut)]

    with pytest.raises(ExpositionError):
        parse_gpu_exporter(truncated, FIXTURE_KINDS[name])


def test_not_a_number_raises() -> None:
    text = 'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-a"} hot\n'

    with pytest.raises(ExpositionError):
        parse_gpu_exporter(text, DCGM)


def _dcgm_line(name: str, value: str, extra: str = "") -> str:
    return f'{name}{{gpu="0",UUID="GPU-a",device="nvidia0",modelName="M"{extra}}} {value}\n'


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_non_finite_values_are_absent(value: str) -> None:
    dcgm = _dcgm_line("DCGM_FI_DEV_POWER_USAGE", value) + _dcgm_line(
        "DCGM_FI_DEV_GPU_TEMP", "50"
    )
    smi = (
        f'nvidia_smi_power_draw_watts{{uuid="a"}} {value}\n'
        'nvidia_smi_temperature_gpu{uuid="a"} 50\n'
    )

    for gpu in (
        parse_gpu_exporter(dcgm, DCGM)["GPU-a"],
        parse_gpu_exporter(smi, NVIDIA_SMI)["a"],
    ):
        assert gpu.values == {"temperature_c": 50}
        assert gpu.supported == {"temperature"}


def test_samples_without_a_uuid_or_of_a_mig_slice_are_skipped() -> None:
    text = (
        'DCGM_FI_DEV_GPU_TEMP{gpu="0",modelName="M"} 40\n'
        + _dcgm_line(
            "DCGM_FI_DEV_POWER_USAGE", "52.6", ',GPU_I_PROFILE="1g.6gb",GPU_I_ID="3"'
        )
        + 'nvidia_smi_temperature_gpu{index="0"} 40\n'
    )

    assert parse_gpu_exporter(text, DCGM) == {}
    assert parse_gpu_exporter(text, NVIDIA_SMI) == {}


def test_dcgm_old_namespace_uuid_label_and_old_throttle_name() -> None:
    text = (
        'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu="2", uuid="GPU-b",modelName="M"} 68\n'
    )

    gpu = parse_gpu_exporter(text, DCGM)["GPU-b"]

    assert gpu.index == 2
    # 68 = 0x40 | 0x04
    assert gpu.values == {"throttle_reasons": ("hw_thermal_slowdown", "sw_power_cap")}


def test_nvidia_smi_old_throttle_name_and_ecc() -> None:
    text = (
        'nvidia_smi_clocks_throttle_reasons_active{uuid="c"} 1\n'
        'nvidia_smi_ecc_errors_corrected_volatile_total{uuid="c"} 5\n'
        'nvidia_smi_ecc_errors_uncorrected_volatile_total{uuid="c"} 2\n'
    )

    gpu = parse_gpu_exporter(text, NVIDIA_SMI)["c"]

    assert gpu.values == {
        "throttle_reasons": ("gpu_idle",),
        "ecc_corrected": 5,
        "ecc_uncorrected": 2,
    }
    assert gpu.index is None
    assert gpu.name == ""


def test_power_limit_is_the_enforced_one() -> None:
    # nvidia-smi: enforced.power.limit is "the minimum of various power limiters", the one
    # NVML's nvmlDeviceGetEnforcedPowerLimit gives the local source; power.limit is requested.
    text = (
        'nvidia_smi_power_limit_watts{uuid="c"} 300\n'
        'nvidia_smi_enforced_power_limit_watts{uuid="c"} 250\n'
    )

    gpu = parse_gpu_exporter(text, NVIDIA_SMI)["c"]

    assert gpu.values == {"power_limit_w": 250.0}
