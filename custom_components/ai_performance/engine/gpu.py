"""GPU facts in the units users read, from NVML's raw values (no NVML import here)."""

from collections.abc import Iterable

MILLIJOULES_PER_KWH = 3_600_000_000
BYTES_PER_GIB = 1024**3

# NVML's clocks event ("throttle") reason bits, in the order a user should read them: the real
# slowdowns first, the harmless reasons last.
THROTTLE_REASON_BITS: dict[str, int] = {
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "hw_slowdown": 0x08,
    "sw_thermal_slowdown": 0x20,
    "sw_power_cap": 0x04,
    "sync_boost": 0x10,
    "applications_clocks_setting": 0x02,
    "display_clock_setting": 0x100,
    "gpu_idle": 0x01,
}
# Reasons that slow a busy GPU down; the others (idle, a clock setting, sync boost) do not.
SLOWDOWN_REASONS = frozenset(
    {
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "sw_power_cap",
    }
)
NO_THROTTLE = "none"
THROTTLE_STATES = (*THROTTLE_REASON_BITS, NO_THROTTLE)

# NVML performance states: P0 (maximum performance) to P15 (minimum); 32 means unknown.
PERFORMANCE_STATES = tuple(f"p{number}" for number in range(16))


def milliwatts_to_watts(milliwatts: int) -> float:
    """Return watts from NVML's milliwatts."""
    return milliwatts / 1000


def millijoules_to_kwh(millijoules: int) -> float:
    """Return kilowatt-hours from NVML's millijoules."""
    return millijoules / MILLIJOULES_PER_KWH


def millijoules_to_joules(millijoules: int) -> float:
    """Return joules from NVML's millijoules."""
    return millijoules / 1000


def bytes_to_gib(size: int) -> float:
    """Return GiB from bytes."""
    return size / BYTES_PER_GIB


def throttle_reasons(mask: int) -> tuple[str, ...]:
    """Return the active throttle reasons in a clocks event reasons bit mask, worst first."""
    return tuple(name for name, bit in THROTTLE_REASON_BITS.items() if mask & bit)


def main_throttle_reason(reasons: Iterable[str]) -> str:
    """Return the reason to show as the state: the worst active one, or "none"."""
    return next(iter(reasons), NO_THROTTLE)


def is_throttling(reasons: Iterable[str]) -> bool:
    """Return True when a reason that slows a busy GPU down is active."""
    return any(reason in SLOWDOWN_REASONS for reason in reasons)


def performance_state(pstate: int) -> str | None:
    """Return "p0" to "p15" for an NVML performance state, None for unknown (32)."""
    return PERFORMANCE_STATES[pstate] if 0 <= pstate < len(PERFORMANCE_STATES) else None


def cuda_version(encoded: int) -> str:
    """Return "12.4" from NVML's encoded CUDA driver version (1000 * major + 10 * minor)."""
    return f"{encoded // 1000}.{encoded % 1000 // 10}"
