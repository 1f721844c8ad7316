"""The GPU collector over the fake NVML (and once over the real library of this machine)."""

import logging
import threading
from unittest.mock import patch

from homeassistant.core import HomeAssistant
import pynvml
import pytest

from custom_components.ai_performance.collectors import gpu as gpu_collector
from custom_components.ai_performance.collectors.base import Needs
from custom_components.ai_performance.collectors.gpu import (
    FIELD_FAN,
    FIELD_MEMORY_TEMPERATURE,
    FIELD_POWER,
    FIELD_XID,
    GpuBusyError,
    GpuCollector,
    GpuSample,
)

from ..fake_pynvml import ENERGY, FAN, FIELD_VALUES, GIB, FakeGpu, FakeNvml


async def _sample(hass: HomeAssistant, needs: Needs | None = None) -> GpuSample:
    collector = GpuCollector(hass, needs or Needs())
    await collector.async_start()
    try:
        return await collector.async_collect()
    finally:
        await collector.async_stop()


async def test_no_nvml_library_means_no_gpus_and_one_info_line(
    hass: HomeAssistant, nvml: FakeNvml, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    collector = GpuCollector(hass, Needs())

    await collector.async_start()
    samples = [await collector.async_collect() for _ in range(3)]
    await collector.async_stop()

    assert all(s == samples[0] for s in samples)
    assert samples[0].nvml_available is False
    assert samples[0].nvml_error == "NVML Shared Library Not Found"
    assert samples[0].gpus == {}
    lines = [r for r in caplog.records if "NVIDIA" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in lines] == [
        (logging.INFO, "No NVIDIA GPU monitoring: NVML Shared Library Not Found")
    ]
    assert "nvmlShutdown" not in nvml.calls


async def test_a_machine_with_the_driver_but_no_gpu_has_no_gpus(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.library = True

    sample = await _sample(hass)

    assert sample.nvml_available is True
    assert sample.gpus == {}
    assert nvml.init_count == 0  # shut down again


async def test_nvml_is_initialised_once_and_shut_down_on_stop(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"))
    collector = GpuCollector(hass, Needs())

    await collector.async_start()
    for _ in range(3):
        await collector.async_collect()
    assert nvml.calls.count("nvmlInit") == 1
    assert nvml.init_count == 1
    await collector.async_stop()

    assert nvml.calls.count("nvmlShutdown") == 1
    assert nvml.init_count == 0
    assert nvml.event_sets_open == 0


async def test_units_are_converted(hass: HomeAssistant, nvml: FakeNvml) -> None:
    nvml.plug(
        FakeGpu(
            uuid="GPU-a",
            power_mw=123_456,
            power_limit_mw=300_000,
            energy_mj=1_800_000_000,
            memory_total=8 * GIB,
            memory_used=3 * GIB,
        )
    )

    reading = (await _sample(hass)).readings["GPU-a"]

    assert reading.power_w == pytest.approx(123.456)
    assert reading.power_limit_w == pytest.approx(300.0)
    assert reading.energy_kwh == pytest.approx(0.5)
    assert reading.memory_used_bytes == 3 * GIB
    assert reading.memory_free_bytes == 5 * GIB
    assert reading.memory_total_bytes == 8 * GIB


async def test_two_gpus_are_named_apart_and_keep_their_own_support(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(
        FakeGpu(uuid="GPU-a"),
        FakeGpu(uuid="GPU-b", unsupported={FAN, FIELD_VALUES}),
    )

    sample = await _sample(hass)

    assert [g.device_name for g in sample.gpus.values()] == [
        "NVIDIA GeForce RTX 4090 (GPU 0)",
        "NVIDIA GeForce RTX 4090 (GPU 1)",
    ]
    assert {FIELD_FAN, FIELD_MEMORY_TEMPERATURE} <= sample.gpus["GPU-a"].supported
    assert FIELD_FAN not in sample.gpus["GPU-b"].supported
    assert FIELD_MEMORY_TEMPERATURE not in sample.gpus["GPU-b"].supported
    assert sample.readings["GPU-b"].fan_percent is None
    assert sample.gpus["GPU-a"].driver_version == "580.95.05"
    assert sample.gpus["GPU-a"].cuda_version == "13.0"


async def test_only_wanted_fields_are_polled(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"))
    needs = Needs()
    collector = GpuCollector(hass, needs)
    await collector.async_start()
    needs.narrow()
    unsubscribe = needs.async_subscribe("gpu", FIELD_POWER)

    with patch.object(
        nvml, "nvmlDeviceGetTemperature", wraps=nvml.nvmlDeviceGetTemperature
    ) as temperature:
        reading = (await collector.async_collect()).readings["GPU-a"]
    unsubscribe()
    await collector.async_stop()

    assert reading.power_w == pytest.approx(215.5)
    assert reading.temperature_c is None
    assert reading.utilization_percent is None
    temperature.assert_not_called()


async def test_throttle_reasons_are_decoded_worst_first(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    # GPU idle (0x01) + software thermal slowdown (0x20) + hardware thermal slowdown (0x40).
    nvml.plug(FakeGpu(uuid="GPU-a", throttle_mask=0x61))

    reading = (await _sample(hass)).readings["GPU-a"]

    assert reading.throttle_reasons == (
        "hw_thermal_slowdown",
        "sw_thermal_slowdown",
        "gpu_idle",
    )


async def test_xid_errors_are_counted_per_gpu(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    gpu_a, gpu_b = (
        FakeGpu(uuid="GPU-a"),
        FakeGpu(uuid="GPU-b", unsupported={"nvmlDeviceRegisterEvents"}),
    )
    nvml.plug(gpu_a, gpu_b)
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    first = await collector.async_collect()
    nvml.pending_xids.extend([(gpu_a, 79), (gpu_a, 31)])
    second = await collector.async_collect()
    await collector.async_stop()

    assert first.readings["GPU-a"].xid_errors == 0
    assert second.readings["GPU-a"].xid_errors == 2
    assert second.readings["GPU-a"].last_xid == 31
    assert FIELD_XID not in second.gpus["GPU-b"].supported
    assert second.readings["GPU-b"].xid_errors is None


@pytest.mark.parametrize(
    "code", [pynvml.NVML_ERROR_UNKNOWN, pynvml.NVML_ERROR_NOT_SUPPORTED]
)
async def test_a_field_failing_once_blanks_only_that_field(
    hass: HomeAssistant, nvml: FakeNvml, code: int
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"))
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    with patch.object(
        nvml, "nvmlDeviceGetPowerUsage", side_effect=pynvml.NVMLError(code)
    ):
        sample = await collector.async_collect()
    await collector.async_stop()

    assert sample.readings["GPU-a"].power_w is None
    assert sample.readings["GPU-a"].utilization_percent == 37
    assert sample.failing == {}


@pytest.mark.parametrize(
    ("code", "error"),
    [
        # NVML's words: the class (NVMLError_Unknown, ...) stays in the log.
        (pynvml.NVML_ERROR_UNKNOWN, "Unknown Error"),
        (pynvml.NVML_ERROR_RESET_REQUIRED, "GPU requires restart"),
        (pynvml.NVML_ERROR_GPU_IS_LOST, "GPU is lost"),
    ],
)
async def test_a_gpu_answering_only_errors_is_failing_with_no_reading(
    hass: HomeAssistant, nvml: FakeNvml, code: int, error: str
) -> None:
    gpu = FakeGpu(uuid="GPU-a")
    nvml.plug(gpu)
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    gpu.error = code  # after nvmlInit and discovery succeeded
    sample = await collector.async_collect()
    await collector.async_stop()

    assert list(sample.gpus) == ["GPU-a"]  # still known: its device stays
    assert sample.readings == {}  # so its entities are unavailable
    assert sample.failing == {"GPU-a": f"GPU 0 (NVIDIA GeForce RTX 4090): {error}"}


async def test_a_failing_gpu_is_read_again_and_recovers(
    hass: HomeAssistant, nvml: FakeNvml, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    gpu = FakeGpu(uuid="GPU-a")
    nvml.plug(gpu)
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    gpu.error = pynvml.NVML_ERROR_UNKNOWN
    failing = [await collector.async_collect() for _ in range(3)]
    gpu.error = None
    recovered = await collector.async_collect()
    await collector.async_stop()

    assert all(s.readings == {} for s in failing)
    assert recovered.failing == {}
    assert recovered.readings["GPU-a"].utilization_percent == 37
    # Logged when it starts failing and when it recovers, not on every poll.
    lines = [r.getMessage() for r in caplog.records if "GPU 0" in r.getMessage()]
    assert lines == [
        (
            "GPU 0 (NVIDIA GeForce RTX 4090) answers only errors: "
            "NVMLError_Unknown: Unknown Error"
        ),
        "GPU 0 (NVIDIA GeForce RTX 4090) answers again",
    ]


async def test_every_field_not_supported_only_blanks_the_fields(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    """NotSupported says the card cannot tell, not that it is broken: never failing."""
    gpu = FakeGpu(uuid="GPU-a")
    nvml.plug(gpu)
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    gpu.error = pynvml.NVML_ERROR_NOT_SUPPORTED
    sample = await collector.async_collect()
    await collector.async_stop()

    assert sample.failing == {}
    assert sample.readings["GPU-a"].utilization_percent is None


async def test_one_gpu_failing_leaves_the_other_read(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b"))
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    nvml.gpus[0].error = pynvml.NVML_ERROR_UNKNOWN
    sample = await collector.async_collect()
    await collector.async_stop()

    assert list(sample.readings) == ["GPU-b"]
    assert sample.readings["GPU-b"].utilization_percent == 37
    assert list(sample.failing) == ["GPU-a"]


async def test_xid_events_that_cannot_be_read_do_not_fail_the_poll(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"))
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    with patch.object(
        nvml,
        "nvmlEventSetWait_v2",
        side_effect=pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN),
    ):
        sample = await collector.async_collect()
    await collector.async_stop()

    assert sample.readings["GPU-a"].utilization_percent == 37
    assert sample.failing == {}


async def test_a_gpu_that_cannot_be_discovered_is_skipped(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a", lost=True), FakeGpu(uuid="GPU-b"))

    sample = await _sample(hass)

    assert list(sample.gpus) == ["GPU-b"]


async def test_nvml_is_never_polled_twice_at_once(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"))
    collector = GpuCollector(hass, Needs())
    await collector.async_start()
    entered, release = threading.Event(), threading.Event()
    original = nvml.nvmlDeviceGetUtilizationRates

    def slow(handle: object) -> object:
        entered.set()
        release.wait(5)
        return original(handle)

    with patch.object(nvml, "nvmlDeviceGetUtilizationRates", side_effect=slow):
        first = hass.async_create_task(collector.async_collect())
        await hass.async_add_executor_job(entered.wait, 5)
        with pytest.raises(GpuBusyError):
            await collector.async_collect()
        release.set()
        assert (await first).readings["GPU-a"].utilization_percent == 37
    await collector.async_stop()


async def test_lost_gpus_are_forgotten_after_the_grace_period(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    gpu = FakeGpu(uuid="GPU-a")
    nvml.plug(gpu)
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    gpu.lost = True
    lost = await collector.async_collect()
    with patch.object(gpu_collector, "LOST_GPU_GRACE", 0.0):
        forgotten = await collector.async_collect()
    await collector.async_stop()

    assert list(lost.gpus) == ["GPU-a"]
    assert lost.readings == {}
    assert forgotten.gpus == {}
    # Forgotten (its device goes) but still failing: it needs a reboot, and the issue says so.
    assert forgotten.failing == {
        "GPU-a": "GPU 0 (NVIDIA GeForce RTX 4090): GPU is lost"
    }


async def test_the_real_nvml_of_this_machine_never_raises(hass: HomeAssistant) -> None:
    """Without the fake: no driver here gives a clean 'not available', a GPU gives readings."""
    with patch.object(gpu_collector, "pynvml", pynvml):
        sample = await _sample(hass)

    if sample.nvml_available:
        assert set(sample.readings) <= set(sample.gpus)
    else:
        assert sample.nvml_error
        assert sample.gpus == {}


async def test_energy_readings_sum_every_gpu_that_counts_energy(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(
        FakeGpu(uuid="GPU-a", energy_mj=1_000_000),
        FakeGpu(uuid="GPU-b", energy_mj=2_500_000),
        FakeGpu(uuid="GPU-c", unsupported={ENERGY}),
    )
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    reading = await hass.async_add_executor_job(collector.read_energy)
    # A GPU that stops answering would make the sum fall: no reading rather than a false one.
    nvml.gpus[1].lost = True
    while_lost = await hass.async_add_executor_job(collector.read_energy)
    await collector.async_stop()
    after_stop = await hass.async_add_executor_job(collector.read_energy)

    assert reading is not None
    assert reading.joules == 3500.0
    assert reading.gpus == {"GPU-a", "GPU-b"}
    assert while_lost is None
    assert after_stop is None


async def test_without_an_energy_counter_there_is_no_reading(
    hass: HomeAssistant, nvml: FakeNvml
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a", unsupported={ENERGY}))
    collector = GpuCollector(hass, Needs())
    await collector.async_start()

    assert await hass.async_add_executor_job(collector.read_energy) is None
    await collector.async_stop()
