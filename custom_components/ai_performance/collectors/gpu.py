"""GPU source: every NVIDIA GPU through NVML (nvidia-ml-py), in the executor.

NVML is initialised once per config entry and shut down on unload. Which fields a card supports
is learnt once at start (NVML answers NotSupported), so entities exist only for those.

A GPU whose every read in a poll answers an NVML error (other than "cannot tell": NotSupported and
its kin, which only blank their field) is failing: it has no reading, so its entities go
unavailable while the other GPUs' stay, and the sample lists it in ``failing``, which makes the
GPU source fail for its repair issue (source_health.py). It is read again every poll and
recovers as soon as a read succeeds. A GPU that is lost (NVML "GPU is lost": it fell off the
bus, the driver crashed) is not read again; after LOST_GPU_GRACE it is forgotten, so its device
is removed as stale, but it stays in ``failing`` until NVML is started again (a reload or a
restart, after the reboot it needs).
"""

from collections.abc import Callable, Mapping
from contextlib import suppress
import ctypes
from dataclasses import dataclass, field
import threading
import time
from typing import Any

from homeassistant.core import HomeAssistant
import psutil
import pynvml

from ..const import DEFAULT_COLLECT_TIMEOUT, LOGGER, SOURCE_GPU
from ..engine import gpu as units
from ..engine.energy import EnergyReading
from ..metering import async_run_blocking
from .base import Needs

# A lost GPU stays (unavailable) this long, then its device is removed.
LOST_GPU_GRACE = 600.0
# The processes attribute lists at most this many, the biggest VRAM holders first.
MAX_LISTED_PROCESSES = 20
# How long unload waits for a running poll before shutting NVML down anyway.
STOP_WAIT = 5.0
# How long a poll or an energy reading waits for the other to let go of NVML (both are quick;
# a poll still running after this is stuck, and the tick reports the GPU source busy).
NVML_LOCK_WAIT = 1.0

# What the GPU source can read; each is also a need entities subscribe to.
FIELD_UTILIZATION = "utilization"
FIELD_MEMORY = "memory"
FIELD_TEMPERATURE = "temperature"
FIELD_MEMORY_TEMPERATURE = "memory_temperature"
FIELD_POWER = "power"
FIELD_POWER_LIMIT = "power_limit"
FIELD_ENERGY = "energy"
# Energy integrated from power readings, where an exporter gives no energy counter.
FIELD_ENERGY_ESTIMATE = "energy_estimate"
FIELD_CLOCKS = "clocks"
FIELD_FAN = "fan"
FIELD_PERFORMANCE_STATE = "performance_state"
FIELD_THROTTLE = "throttle"
FIELD_CODEC = "codec"
FIELD_PCIE = "pcie"
FIELD_ECC = "ecc"
FIELD_XID = "xid"
FIELD_PROCESSES = "processes"

# Errors that mean "this card or driver cannot tell": the field gets no entity.
_UNSUPPORTED = (
    pynvml.NVMLError_NotSupported,
    pynvml.NVMLError_FunctionNotFound,
    pynvml.NVMLError_NoPermission,
)


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    name: str | None
    # None where the driver cannot tell (Windows WDDM, some containers).
    gpu_memory_bytes: int | None


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """What does not change while a GPU is present."""

    index: int
    uuid: str
    name: str
    # The name its device gets: with several GPUs the index tells them apart.
    device_name: str
    memory_total_bytes: int
    driver_version: str
    cuda_version: str
    supported: frozenset[str]
    # The source that reads it: NVML here, or an AI host's GPU exporter; for an AI host's GPU,
    # that host's device subject, and the exporter's name.
    source: str = SOURCE_GPU
    host: str | None = None
    exporter: str = ""


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One poll of one GPU, in the units users read; None where the field was not read."""

    utilization_percent: int | None = None
    memory_utilization_percent: int | None = None
    memory_used_bytes: int | None = None
    memory_free_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperature_c: int | None = None
    memory_temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    energy_kwh: float | None = None
    energy_estimate_kwh: float | None = None
    sm_clock_mhz: int | None = None
    memory_clock_mhz: int | None = None
    fan_percent: int | None = None
    performance_state: str | None = None
    throttle_reasons: tuple[str, ...] | None = None
    encoder_percent: int | None = None
    decoder_percent: int | None = None
    pcie_tx_kb_s: int | None = None
    pcie_rx_kb_s: int | None = None
    ecc_corrected: int | None = None
    ecc_uncorrected: int | None = None
    xid_errors: int | None = None
    last_xid: int | None = None
    processes: tuple[GpuProcess, ...] | None = None

    @property
    def memory_used_percent(self) -> float | None:
        """Return the share of the GPU's memory in use, in %."""
        used, total = self.memory_used_bytes, self.memory_total_bytes
        if used is None or not total:
            return None
        return round(used / total * 100, 2)


@dataclass(frozen=True, slots=True)
class GpuSample:
    """Every GPU of the machine; empty where NVML is not available."""

    nvml_available: bool
    # Why NVML is not available ("NVML Shared Library Not Found", ...), for system health.
    nvml_error: str | None = None
    # The NVML library's own version ("13.580.95.05"), for system health.
    nvml_version: str = ""
    gpus: Mapping[str, GpuInfo] = field(default_factory=dict)
    # Readings of the GPUs present now; a GPU in gpus but not here is lost or failing.
    readings: Mapping[str, GpuReading] = field(default_factory=dict)
    # UUID -> "GPU 0 (name): NVML's error" for each GPU that answered only errors this poll or
    # is lost (also once forgotten): the GPU source's failure, for its repair issue.
    failing: Mapping[str, str] = field(default_factory=dict)


def _text(value: str | bytes) -> str:
    """NVML strings come as str or bytes depending on the nvidia-ml-py version."""
    return value.decode() if isinstance(value, bytes) else value


def _read_utilization(handle: object) -> dict[str, Any]:
    rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
    return {
        "utilization_percent": rates.gpu,
        "memory_utilization_percent": rates.memory,
    }


def _read_memory(handle: object) -> dict[str, Any]:
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    return {
        "memory_used_bytes": memory.used,
        "memory_free_bytes": memory.free,
        "memory_total_bytes": memory.total,
    }


def _read_temperature(handle: object) -> dict[str, Any]:
    return {
        "temperature_c": pynvml.nvmlDeviceGetTemperature(
            handle, pynvml.NVML_TEMPERATURE_GPU
        )
    }


def _read_memory_temperature(handle: object) -> dict[str, Any]:
    (value,) = pynvml.nvmlDeviceGetFieldValues(handle, [pynvml.NVML_FI_DEV_MEMORY_TEMP])
    if value.nvmlReturn != pynvml.NVML_SUCCESS:
        raise pynvml.NVMLError(value.nvmlReturn)
    return {"memory_temperature_c": value.value.uiVal}


def _read_power(handle: object) -> dict[str, Any]:
    milliwatts = pynvml.nvmlDeviceGetPowerUsage(handle)
    return {"power_w": units.milliwatts_to_watts(milliwatts)}


def _read_power_limit(handle: object) -> dict[str, Any]:
    milliwatts = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle)
    return {"power_limit_w": units.milliwatts_to_watts(milliwatts)}


def _read_energy(handle: object) -> dict[str, Any]:
    # Since the driver was loaded: a reset shows as a drop, which total_increasing expects.
    millijoules = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    return {"energy_kwh": round(units.millijoules_to_kwh(millijoules), 6)}


def _read_clocks(handle: object) -> dict[str, Any]:
    return {
        "sm_clock_mhz": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
        "memory_clock_mhz": pynvml.nvmlDeviceGetClockInfo(
            handle, pynvml.NVML_CLOCK_MEM
        ),
    }


def _read_fan(handle: object) -> dict[str, Any]:
    return {"fan_percent": pynvml.nvmlDeviceGetFanSpeed(handle)}


def _read_performance_state(handle: object) -> dict[str, Any]:
    pstate = pynvml.nvmlDeviceGetPerformanceState(handle)
    return {"performance_state": units.performance_state(pstate)}


def _read_throttle(handle: object) -> dict[str, Any]:
    mask = pynvml.nvmlDeviceGetCurrentClocksEventReasons(handle)
    return {"throttle_reasons": units.throttle_reasons(mask)}


def _read_codec(handle: object) -> dict[str, Any]:
    encoder, _ = pynvml.nvmlDeviceGetEncoderUtilization(handle)
    decoder, _ = pynvml.nvmlDeviceGetDecoderUtilization(handle)
    return {"encoder_percent": encoder, "decoder_percent": decoder}


def _read_pcie(handle: object) -> dict[str, Any]:
    return {
        "pcie_tx_kb_s": pynvml.nvmlDeviceGetPcieThroughput(
            handle, pynvml.NVML_PCIE_UTIL_TX_BYTES
        ),
        "pcie_rx_kb_s": pynvml.nvmlDeviceGetPcieThroughput(
            handle, pynvml.NVML_PCIE_UTIL_RX_BYTES
        ),
    }


def _read_ecc(handle: object) -> dict[str, Any]:
    def errors(kind: int) -> int:
        return int(
            pynvml.nvmlDeviceGetTotalEccErrors(handle, kind, pynvml.NVML_VOLATILE_ECC)
        )

    return {
        "ecc_corrected": errors(pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
        "ecc_uncorrected": errors(pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
    }


def _process_name(pid: int) -> str | None:
    try:
        return str(psutil.Process(pid).name())
    except psutil.Error:  # gone, or in another container's PID namespace
        return None


def _read_processes(handle: object) -> dict[str, Any]:
    memory_by_pid: dict[int, int | None] = {}
    for process in (
        *pynvml.nvmlDeviceGetComputeRunningProcesses(handle),
        *pynvml.nvmlDeviceGetGraphicsRunningProcesses(handle),
    ):
        # A process with a compute and a graphics context is listed twice: keep the larger.
        known = memory_by_pid.get(process.pid)
        used = process.usedGpuMemory
        memory_by_pid[process.pid] = used if known is None else max(known, used or 0)
    processes = sorted(
        (
            GpuProcess(pid, _process_name(pid), used)
            for pid, used in memory_by_pid.items()
        ),
        key=lambda process: -(process.gpu_memory_bytes or 0),
    )
    return {"processes": tuple(processes)}


# Field -> reader; XID errors come from an event set instead (see GpuCollector).
_READERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    FIELD_UTILIZATION: _read_utilization,
    FIELD_MEMORY: _read_memory,
    FIELD_TEMPERATURE: _read_temperature,
    FIELD_MEMORY_TEMPERATURE: _read_memory_temperature,
    FIELD_POWER: _read_power,
    FIELD_POWER_LIMIT: _read_power_limit,
    FIELD_ENERGY: _read_energy,
    FIELD_CLOCKS: _read_clocks,
    FIELD_FAN: _read_fan,
    FIELD_PERFORMANCE_STATE: _read_performance_state,
    FIELD_THROTTLE: _read_throttle,
    FIELD_CODEC: _read_codec,
    FIELD_PCIE: _read_pcie,
    FIELD_ECC: _read_ecc,
    FIELD_PROCESSES: _read_processes,
}
ALL_FIELDS = frozenset({*_READERS, FIELD_XID})


class GpuBusyError(RuntimeError):
    """The previous NVML poll has not finished: NVML is never polled twice at once."""


@dataclass(slots=True)
class _Gpu:
    """A GPU the collector tracks: its handle, facts, XID count and how it fails, if it does."""

    info: GpuInfo
    handle: object
    xid_errors: int = 0
    last_xid: int | None = None
    lost_at: float | None = None
    # While it answers only errors (or is lost): which GPU, and NVML's last error.
    failure: str | None = None

    @property
    def label(self) -> str:
        """Return how logs and the repair issue name this GPU: "GPU 0 (its model)"."""
        return f"GPU {self.info.index} ({self.info.name})"

    def fail(self, err: pynvml.NVMLError) -> None:
        """Record that no read succeeded this poll, the last with ``err``.

        Logged once when it starts (at INFO, as a failing source is), not on every poll.
        """
        if self.failure is None and not isinstance(err, pynvml.NVMLError_GpuIsLost):
            LOGGER.info(
                "%s answers only errors: %s: %s", self.label, type(err).__name__, err
            )
        # Shown in the repair issue: the error's text, its class only in the log above.
        self.failure = f"{self.label}: {err}"


class GpuCollector:
    """Polls every NVIDIA GPU through NVML."""

    key = SOURCE_GPU
    timeout = DEFAULT_COLLECT_TIMEOUT

    def __init__(self, hass: HomeAssistant, needs: Needs) -> None:
        """Initialise the collector; NVML is initialised in async_start."""
        self._hass = hass
        self._needs = needs
        self._poll_lock = threading.Lock()
        self._initialised = False
        self._nvml_error: str | None = None
        self._driver_version = ""
        self._cuda_version = ""
        self._nvml_version = ""
        self._gpus: dict[str, _Gpu] = {}
        # Lost GPUs that were forgotten, with their failure: failing until NVML starts again.
        self._forgotten: dict[str, str] = {}
        self._xid_events: Any = None

    async def async_start(self) -> None:
        """Initialise NVML and learn every GPU and the fields it supports."""
        await async_run_blocking(self._hass, self._start)
        if self._nvml_error is not None:
            # Expected on HA OS, in containers and on machines without an NVIDIA driver.
            LOGGER.info("No NVIDIA GPU monitoring: %s", self._nvml_error)

    async def async_collect(self) -> GpuSample:
        """Poll the GPUs for what the enabled entities need."""
        wanted = self._needs.select(self.key, ALL_FIELDS)
        return await async_run_blocking(self._hass, lambda: self._poll(wanted))

    async def async_stop(self) -> None:
        """Shut NVML down once no poll is running."""
        await async_run_blocking(self._hass, self._stop)

    def read_energy(self) -> EnergyReading | None:
        """Read the energy counters of every GPU that has one (blocking: executor).

        Return None when NVML is off, no GPU counts energy, a poll holds NVML for too long, or
        a GPU does not answer: a reading of only some GPUs would look like a counter reset.
        """
        if not self._initialised or not self._poll_lock.acquire(timeout=NVML_LOCK_WAIT):
            return None
        try:
            gpus = [
                (uuid, gpu.handle)
                for uuid, gpu in self._gpus.items()
                if gpu.lost_at is None and FIELD_ENERGY in gpu.info.supported
            ]
            millijoules = sum(
                pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) for _, handle in gpus
            )
        except pynvml.NVMLError:
            return None
        finally:
            self._poll_lock.release()
        if not gpus:
            return None
        return EnergyReading(
            at=time.time(),
            gpus=frozenset(uuid for uuid, _ in gpus),
            joules=units.millijoules_to_joules(millijoules),
        )

    def _start(self) -> None:
        try:
            pynvml.nvmlInit()
            self._initialised = True
            self._driver_version = _text(pynvml.nvmlSystemGetDriverVersion())
            self._nvml_version = _text(pynvml.nvmlSystemGetNVMLVersion())
            self._cuda_version = units.cuda_version(
                pynvml.nvmlSystemGetCudaDriverVersion()
            )
            self._xid_events = pynvml.nvmlEventSetCreate()
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as err:
            self._nvml_error = str(err)
            self._stop()
            return
        for index in range(count):
            try:
                gpu = self._discover(index, count)
            except pynvml.NVMLError as err:
                LOGGER.warning("GPU %s cannot be monitored: %s", index, err)
                continue
            self._gpus[gpu.info.uuid] = gpu

    def _discover(self, index: int, count: int) -> _Gpu:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        supported = {name for name, read in _READERS.items() if _supports(read, handle)}
        try:
            pynvml.nvmlDeviceRegisterEvents(
                handle, pynvml.nvmlEventTypeXidCriticalError, self._xid_events
            )
            supported.add(FIELD_XID)
        except _UNSUPPORTED:
            pass
        name = _text(pynvml.nvmlDeviceGetName(handle))
        info = GpuInfo(
            index=index,
            uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
            name=name,
            device_name=name if count == 1 else f"{name} (GPU {index})",
            memory_total_bytes=pynvml.nvmlDeviceGetMemoryInfo(handle).total,
            driver_version=self._driver_version,
            cuda_version=self._cuda_version,
            supported=frozenset(supported),
        )
        return _Gpu(info=info, handle=handle)

    def _stop(self) -> None:
        locked = self._poll_lock.acquire(timeout=STOP_WAIT)
        try:
            if self._xid_events is not None:
                event_set, self._xid_events = self._xid_events, None
                with suppress(pynvml.NVMLError):  # shut NVML down regardless
                    pynvml.nvmlEventSetFree(event_set)
            if self._initialised:
                pynvml.nvmlShutdown()
                self._initialised = False
        finally:
            if locked:
                self._poll_lock.release()

    def _poll(self, wanted: frozenset[str]) -> GpuSample:
        if not self._initialised:
            return GpuSample(nvml_available=False, nvml_error=self._nvml_error)
        if not self._poll_lock.acquire(timeout=NVML_LOCK_WAIT):
            msg = "the previous NVML poll is still running"
            raise GpuBusyError(msg)
        try:
            if FIELD_XID in wanted:
                self._drain_xid_events()
            readings = {}
            failing: dict[str, str] = {}
            now = time.monotonic()
            for uuid, gpu in list(self._gpus.items()):
                if gpu.lost_at is None and (reading := self._read(gpu, wanted, now)):
                    readings[uuid] = reading
                    continue
                failing[uuid] = gpu.failure or gpu.label
                if gpu.lost_at is not None and now - gpu.lost_at > LOST_GPU_GRACE:
                    del self._gpus[uuid]
                    self._forgotten[uuid] = failing[uuid]
        finally:
            self._poll_lock.release()
        return GpuSample(
            nvml_available=True,
            nvml_version=self._nvml_version,
            gpus={uuid: gpu.info for uuid, gpu in self._gpus.items()},
            readings=readings,
            failing=self._forgotten | failing,
        )

    def _read(self, gpu: _Gpu, wanted: frozenset[str], now: float) -> GpuReading | None:
        """Read the wanted fields of one GPU; None while it answers only errors, or once lost.

        One field failing (a busy driver, a field this card cannot tell this time) only blanks
        that field. Only when no field could be read and NVML answered a real error (not
        NotSupported and its kin) does the GPU fail this poll.
        """
        values: dict[str, Any] = {}
        read_any = False
        error: pynvml.NVMLError | None = None
        for name in wanted & gpu.info.supported:
            if name == FIELD_XID:
                values |= {"xid_errors": gpu.xid_errors, "last_xid": gpu.last_xid}
                continue
            try:
                values |= _READERS[name](gpu.handle)
            except pynvml.NVMLError_GpuIsLost as err:
                LOGGER.warning("%s is lost", gpu.label)
                gpu.lost_at = now
                gpu.fail(err)
                return None
            except _UNSUPPORTED as err:
                LOGGER.debug("GPU %s: %s cannot tell: %s", gpu.info.uuid, name, err)
            except pynvml.NVMLError as err:
                LOGGER.debug("GPU %s: %s failed: %s", gpu.info.uuid, name, err)
                error = err
            else:
                read_any = True
        if error is not None and not read_any:
            gpu.fail(error)
            return None
        if gpu.failure is not None:
            gpu.failure = None
            LOGGER.info("%s answers again", gpu.label)
        return GpuReading(**values)

    def _drain_xid_events(self) -> None:
        """Count the XID errors reported since the previous poll, without waiting.

        An event set that answers an error is left for the next poll: the readings still count.
        """
        by_handle = {_address(gpu.handle): gpu for gpu in self._gpus.values()}
        while True:
            try:
                event = pynvml.nvmlEventSetWait_v2(self._xid_events, 0)
            except pynvml.NVMLError_Timeout:
                return
            except pynvml.NVMLError as err:
                LOGGER.debug("XID events cannot be read: %s", err)
                return
            if (gpu := by_handle.get(_address(event.device))) is not None:
                gpu.xid_errors += 1
                gpu.last_xid = event.eventData


def _address(handle: Any) -> int | None:
    """Return what identifies a device handle: the address it points to."""
    return ctypes.cast(handle, ctypes.c_void_p).value


def _supports(read: Callable[[Any], dict[str, Any]], handle: object) -> bool:
    try:
        read(handle)
    except _UNSUPPORTED:
        return False
    return True
