"""NVML values in users' units."""

import pytest

from custom_components.ai_performance.engine import gpu


def test_unit_conversions() -> None:
    assert gpu.milliwatts_to_watts(215_500) == 215.5
    assert gpu.millijoules_to_kwh(3_600_000_000) == 1.0
    assert gpu.bytes_to_gib(24 * 1024**3) == 24.0


def test_cuda_version_is_decoded() -> None:
    assert gpu.cuda_version(12040) == "12.4"
    assert gpu.cuda_version(13000) == "13.0"


@pytest.mark.parametrize(
    ("pstate", "name"), [(0, "p0"), (8, "p8"), (15, "p15"), (32, None)]
)
def test_performance_state(pstate: int, name: str | None) -> None:
    assert gpu.performance_state(pstate) == name


def test_throttle_reasons_worst_first_and_which_ones_slow_the_gpu() -> None:
    reasons = gpu.throttle_reasons(0x01 | 0x04 | 0x40)

    assert reasons == ("hw_thermal_slowdown", "sw_power_cap", "gpu_idle")
    assert gpu.main_throttle_reason(reasons) == "hw_thermal_slowdown"
    assert gpu.is_throttling(reasons)
    assert not gpu.is_throttling(gpu.throttle_reasons(0x01 | 0x02 | 0x10 | 0x100))
    assert gpu.main_throttle_reason(()) == "none"
