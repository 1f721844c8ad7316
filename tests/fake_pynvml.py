# ruff: noqa: N802, ARG002 - the names and signatures are NVML's own
"""A stand-in for the ``pynvml`` module (nvidia-ml-py) on machines without an NVIDIA GPU.

Faithful where our code can tell: the real function names and signatures, real return types
(the module's own ctypes structs, device handles and friendly objects), values in NVML's units
(mW, mJ, bytes, MHz, KB/s), and the real error classes, raised as the real library raises them
(``pynvml.NVMLError(code)`` maps a code to its subclass). Constants come from the real module.

It follows the real module it wraps, nvidia-ml-py's ``pynvml.py`` (installed with the
integration's requirements: its function names, structs and NVML_ERROR codes), and NVIDIA's NVML
API reference (docs.nvidia.com/deploy/nvml-api: "Device Queries" for units, "Field Value Queries"
for nvmlDeviceGetFieldValues, "Events" for XID errors). NVML itself needs an NVIDIA GPU and its
driver, which these machines do not have.
"""

import ctypes
from dataclasses import dataclass, field
import time
from typing import Any

import pynvml as real

GIB = 1024**3

# Functions a FakeGpu can be made not to support, by the name of the NVML call.
UTILIZATION = "nvmlDeviceGetUtilizationRates"
TEMPERATURE = "nvmlDeviceGetTemperature"
FIELD_VALUES = "nvmlDeviceGetFieldValues"
POWER = "nvmlDeviceGetPowerUsage"
POWER_LIMIT = "nvmlDeviceGetEnforcedPowerLimit"
ENERGY = "nvmlDeviceGetTotalEnergyConsumption"
CLOCKS = "nvmlDeviceGetClockInfo"
FAN = "nvmlDeviceGetFanSpeed"
PSTATE = "nvmlDeviceGetPerformanceState"
THROTTLE = "nvmlDeviceGetCurrentClocksEventReasons"
ENCODER = "nvmlDeviceGetEncoderUtilization"
PCIE = "nvmlDeviceGetPcieThroughput"
ECC = "nvmlDeviceGetTotalEccErrors"
EVENTS = "nvmlDeviceRegisterEvents"


@dataclass
class FakeGpu:
    """One GPU's state, in NVML's units. Tests change it between polls."""

    uuid: str
    name: str = "NVIDIA GeForce RTX 4090"
    memory_total: int = 24 * GIB
    memory_used: int = 6 * GIB
    gpu_util: int = 37
    memory_util: int = 12
    temperature: int = 61
    memory_temperature: int = 70
    power_mw: int = 215_500
    power_limit_mw: int = 450_000
    energy_mj: int = 7_200_000_000  # 2 kWh
    # When set, the energy counter grows at this power from the moment the GPU was made, as a
    # real counter does between readings.
    steady_watts: float | None = None
    made_at: float = field(default_factory=time.time)
    sm_clock: int = 2520
    memory_clock: int = 10501
    fan: int = 42
    pstate: int = 2
    throttle_mask: int = 0
    encoder: int = 0
    decoder: int = 3
    pcie_tx_kb: int = 1200
    pcie_rx_kb: int = 5400
    ecc_corrected: int = 0
    ecc_uncorrected: int = 0
    # (pid, used bytes or None): NVML lists compute and graphics processes apart.
    compute_processes: list[tuple[int, int | None]] = field(default_factory=list)
    graphics_processes: list[tuple[int, int | None]] = field(default_factory=list)
    unsupported: set[str] = field(default_factory=set)
    lost: bool = False
    # When set (an NVML_ERROR_* code), every call about this GPU answers that error, as NVML
    # does for a GPU in trouble after nvmlInit succeeded (NVML_ERROR_UNKNOWN,
    # NVML_ERROR_RESET_REQUIRED, ...): pynvml raises the code's NVMLError subclass.
    error: int | None = None


def _error(code: int) -> real.NVMLError:
    return real.NVMLError(code)


class FakeNvml:
    """The pynvml module over FakeGpus. Patch it in for the collector's ``pynvml``."""

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        library: bool = True,
        driver: str = "580.95.05",
        cuda: int = 13000,
    ) -> None:
        self.gpus: list[FakeGpu] = []
        self._structs: list[Any] = []
        self.library = library
        self.driver = driver
        self.cuda = cuda
        self.init_count = 0
        self.calls: list[str] = []
        self.pending_xids: list[tuple[FakeGpu, int]] = []
        self._event_sets: list[Any] = []
        self.plug(*(gpus or []))

    def plug(self, *gpus: FakeGpu) -> None:
        """Add GPUs (and the library, if it was missing), as installing a card and driver."""
        self.library = self.library or bool(gpus)
        for gpu in gpus:
            self.gpus.append(gpu)
            # Real handles: pointers to NVML's opaque device struct, one per GPU.
            self._structs.append(real.struct_c_nvmlDevice_t())

    def __getattr__(self, name: str) -> Any:
        """Constants, structs and error classes are the real module's."""
        return getattr(real, name)

    # --- library -------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if not self.library:
            raise _error(real.NVML_ERROR_LIBRARY_NOT_FOUND)
        self.init_count += 1

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        self._check_init()
        self.init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check_init()
        return self.driver

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._check_init()
        return f"{self.cuda // 1000}.{self.driver}"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._check_init()
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        self._check_init()
        if not 0 <= index < len(self.gpus):
            raise _error(real.NVML_ERROR_INVALID_ARGUMENT)
        return ctypes.pointer(self._structs[index])

    # --- device --------------------------------------------------------------------------

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return self._gpu(handle, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetMemoryInfo(self, handle: Any) -> Any:
        gpu = self._gpu(handle, "nvmlDeviceGetMemoryInfo")
        return real.c_nvmlMemory_t(
            total=gpu.memory_total,
            free=gpu.memory_total - gpu.memory_used,
            used=gpu.memory_used,
        )

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        gpu = self._gpu(handle, UTILIZATION)
        return real.c_nvmlUtilization_t(gpu=gpu.gpu_util, memory=gpu.memory_util)

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        gpu = self._gpu(handle, TEMPERATURE)
        if sensor != real.NVML_TEMPERATURE_GPU:
            raise _error(real.NVML_ERROR_INVALID_ARGUMENT)
        return gpu.temperature

    def nvmlDeviceGetFieldValues(self, handle: Any, field_ids: list[int]) -> Any:
        gpu = self._gpu(handle, FIELD_VALUES)
        values = (real.c_nvmlFieldValue_t * len(field_ids))()
        for value, field_id in zip(values, field_ids, strict=True):
            value.fieldId = field_id
            if field_id == real.NVML_FI_DEV_MEMORY_TEMP and gpu.memory_temperature:
                value.valueType = real.NVML_VALUE_TYPE_UNSIGNED_INT
                value.value.uiVal = gpu.memory_temperature
                value.nvmlReturn = real.NVML_SUCCESS
            else:
                # As the real call: success overall, the field's own return says why not.
                value.nvmlReturn = real.NVML_ERROR_NOT_SUPPORTED
        return values

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        return self._gpu(handle, POWER).power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return self._gpu(handle, POWER_LIMIT).power_limit_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        gpu = self._gpu(handle, ENERGY)
        if gpu.steady_watts is None:
            return gpu.energy_mj
        elapsed = time.time() - gpu.made_at
        return gpu.energy_mj + int(gpu.steady_watts * elapsed * 1000)

    def nvmlDeviceGetClockInfo(self, handle: Any, clock_type: int) -> int:
        gpu = self._gpu(handle, CLOCKS)
        clocks = {
            real.NVML_CLOCK_SM: gpu.sm_clock,
            real.NVML_CLOCK_MEM: gpu.memory_clock,
        }
        if clock_type not in clocks:
            raise _error(real.NVML_ERROR_INVALID_ARGUMENT)
        return clocks[clock_type]

    def nvmlDeviceGetFanSpeed(self, handle: Any) -> int:
        return self._gpu(handle, FAN).fan

    def nvmlDeviceGetPerformanceState(self, handle: Any) -> int:
        return self._gpu(handle, PSTATE).pstate

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return self._gpu(handle, THROTTLE).throttle_mask

    def nvmlDeviceGetEncoderUtilization(self, handle: Any) -> list[int]:
        return [self._gpu(handle, ENCODER).encoder, 167000]

    def nvmlDeviceGetDecoderUtilization(self, handle: Any) -> list[int]:
        return [self._gpu(handle, ENCODER).decoder, 167000]

    def nvmlDeviceGetPcieThroughput(self, handle: Any, counter: int) -> int:
        gpu = self._gpu(handle, PCIE)
        if counter == real.NVML_PCIE_UTIL_TX_BYTES:
            return gpu.pcie_tx_kb
        if counter == real.NVML_PCIE_UTIL_RX_BYTES:
            return gpu.pcie_rx_kb
        raise _error(real.NVML_ERROR_INVALID_ARGUMENT)

    def nvmlDeviceGetTotalEccErrors(
        self, handle: Any, error_type: int, counter_type: int
    ) -> int:
        gpu = self._gpu(handle, ECC)
        if counter_type != real.NVML_VOLATILE_ECC:
            raise _error(real.NVML_ERROR_INVALID_ARGUMENT)
        if error_type == real.NVML_MEMORY_ERROR_TYPE_CORRECTED:
            return gpu.ecc_corrected
        return gpu.ecc_uncorrected

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:
        gpu = self._gpu(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [self._process(pid, used) for pid, used in gpu.compute_processes]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Any) -> list[Any]:
        gpu = self._gpu(handle, "nvmlDeviceGetGraphicsRunningProcesses")
        return [self._process(pid, used) for pid, used in gpu.graphics_processes]

    # --- events --------------------------------------------------------------------------

    def nvmlEventSetCreate(self) -> Any:
        self._check_init()
        event_set = ctypes.pointer(real.struct_c_nvmlEventSet_t())
        self._event_sets.append(event_set)
        return event_set

    def nvmlEventSetFree(self, event_set: Any) -> None:
        self._event_sets.remove(event_set)

    def nvmlDeviceRegisterEvents(
        self, handle: Any, event_types: int, event_set: Any
    ) -> None:
        self._gpu(handle, EVENTS)

    def nvmlEventSetWait_v2(self, event_set: Any, timeout_ms: int) -> Any:
        self._check_init()
        if not self.pending_xids:
            raise _error(real.NVML_ERROR_TIMEOUT)
        gpu, xid = self.pending_xids.pop(0)
        data = real.c_nvmlEventData_t()
        data.device = ctypes.pointer(self._structs[self.gpus.index(gpu)])
        data.eventType = real.nvmlEventTypeXidCriticalError
        data.eventData = xid
        return data

    # --- helpers -------------------------------------------------------------------------

    @property
    def event_sets_open(self) -> int:
        return len(self._event_sets)

    def _check_init(self) -> None:
        if self.init_count <= 0:
            raise _error(real.NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: Any, function: str) -> FakeGpu:
        self.calls.append(function)
        self._check_init()
        address = ctypes.cast(handle, ctypes.c_void_p).value
        gpu = next(
            (
                gpu
                for struct, gpu in zip(self._structs, self.gpus, strict=True)
                if ctypes.addressof(struct) == address
            ),
            None,
        )
        if gpu is None:
            raise _error(real.NVML_ERROR_INVALID_ARGUMENT)
        if gpu.lost:
            raise _error(real.NVML_ERROR_GPU_IS_LOST)
        if gpu.error is not None:
            raise _error(gpu.error)
        if function in gpu.unsupported:
            raise _error(real.NVML_ERROR_NOT_SUPPORTED)
        return gpu

    @staticmethod
    def _process(pid: int, used: int | None) -> Any:
        # As the real call: a friendly object from the struct, None where memory is unknown.
        process = real.nvmlStructToFriendlyObject(
            real.c_nvmlProcessInfo_v3_t(pid=pid, usedGpuMemory=used or 0)
        )
        if used is None:
            process.usedGpuMemory = None
        return process
