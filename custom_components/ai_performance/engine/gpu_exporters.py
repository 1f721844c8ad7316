"""TEMPORARY STUB (uncommitted) until the helper's parser lands."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class GpuExporterKind(StrEnum):
    DCGM = "dcgm"
    NVIDIA_SMI = "nvidia_smi"


@dataclass(frozen=True, slots=True)
class ExportedGpu:
    uuid: str
    index: int | None
    name: str
    driver_version: str
    values: dict[str, Any]
    energy_joules: float | None
    supported: frozenset[str]


def detect_gpu_exporter(text: str) -> GpuExporterKind | None:
    if "DCGM_FI_" in text:
        return GpuExporterKind.DCGM
    if "nvidia_smi_" in text:
        return GpuExporterKind.NVIDIA_SMI
    return None


def parse_gpu_exporter(text: str, kind: GpuExporterKind) -> dict[str, ExportedGpu]:
    return {}
