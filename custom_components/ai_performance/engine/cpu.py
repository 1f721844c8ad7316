"""CPU utilisation from two readings of cumulative CPU times.

We compute this ourselves instead of calling ``psutil.cpu_percent()``: that function keeps its
previous reading in module-global state, which every caller in the process shares, so another
integration calling it (systemmonitor does) would silently shorten our measuring interval.
"""

from collections.abc import Mapping

# Linux counts guest time inside user/nice as well, so it must not be added twice.
_COUNTED_TWICE = ("guest", "guest_nice")
# Time the CPU spent doing nothing (waiting for I/O is idle too, as in top and psutil).
_IDLE = ("idle", "iowait")


def _busy_and_idle(times: Mapping[str, float]) -> tuple[float, float]:
    busy = sum(
        seconds
        for name, seconds in times.items()
        if name not in _IDLE and name not in _COUNTED_TWICE
    )
    idle = sum(times.get(name, 0.0) for name in _IDLE)
    return busy, idle


def busy_percent(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """Return the share of CPU time spent busy between two readings, in percent (0-100).

    A reading is a mapping of CPU time category to cumulative seconds, as
    ``psutil.cpu_times()._asdict()`` gives. Counters that went backwards (a reset) or an
    interval with no elapsed time give 0.0 rather than a nonsensical value.
    """
    busy_before, idle_before = _busy_and_idle(before)
    busy_after, idle_after = _busy_and_idle(after)
    # Busy and idle deltas are taken apart so that an all-idle or all-busy interval is exact.
    busy = busy_after - busy_before
    elapsed = busy + (idle_after - idle_before)
    if elapsed <= 0:
        return 0.0
    return min(100.0, max(0.0, busy / elapsed * 100.0))
