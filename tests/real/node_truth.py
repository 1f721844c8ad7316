"""What node_exporter itself says, read with prometheus_client: the ground truth of an AI host.

The figures a host sensor shows, computed from two scrapes of node_exporter and the test's own
clock, with the definitions of the tools users compare with: CPU busy as top and psutil count
it (idle and iowait are idle), memory in use as psutil (total - available), a disk's use as df
(used / (used + available)), rates as Prometheus's ``rate()`` over the two scrapes.
"""

from collections import defaultdict
import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

IDLE_MODES = ("idle", "iowait")
MEMORY_FILE_SYSTEMS = ("tmpfs", "ramfs", "devtmpfs")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Return every sample of a scrape by series name, with its labels."""
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((dict(sample.labels), sample.value))
    return found


def _one(scrape: dict[str, Any], name: str) -> float:
    ((_, value),) = scrape[name]
    return value


def _busy(before: dict[str, float], after: dict[str, float]) -> float:
    busy = sum(after[m] - before[m] for m in after if m not in IDLE_MODES)
    idle = sum(after[m] - before[m] for m in IDLE_MODES if m in after)
    return round(busy / (busy + idle) * 100, 1) if busy + idle > 0 else 0.0


def _cpu_modes(scrape: dict[str, Any]) -> dict[str, dict[str, float]]:
    cpus: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, value in scrape["node_cpu_seconds_total"]:
        cpus[labels["cpu"]][labels["mode"]] = value
    return cpus


def _summed(cpus: dict[str, dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for modes in cpus.values():
        for mode, seconds in modes.items():
            total[mode] += seconds
    return total


def _total(scrape: dict[str, Any], name: str, skip: str = "") -> float:
    return sum(v for labels, v in scrape[name] if labels.get("device") != skip)


def host_truth(first: str, second: str, elapsed_s: float) -> dict[str, float]:
    """Return each host sensor's value (by its key) from two scrapes ``elapsed_s`` apart."""
    a, b = samples(first), samples(second)
    truth = {
        "load_1m": _one(b, "node_load1"),
        "load_5m": _one(b, "node_load5"),
        "load_15m": _one(b, "node_load15"),
    }
    total = _one(b, "node_memory_MemTotal_bytes")
    available = _one(b, "node_memory_MemAvailable_bytes")
    truth["memory_usage"] = round((total - available) / total * 100, 1)
    truth["memory_available"] = available
    swap_total = _one(b, "node_memory_SwapTotal_bytes")
    swap_free = _one(b, "node_memory_SwapFree_bytes")
    truth["swap_usage"] = (
        round((swap_total - swap_free) / swap_total * 100, 1) if swap_total else 0.0
    )
    before, after = _cpu_modes(a), _cpu_modes(b)
    truth["cpu_usage"] = _busy(_summed(before), _summed(after))
    for cpu in after:
        truth[f"cpu_core_{cpu}_usage"] = _busy(before[cpu], after[cpu])
    for key, name, skip in (
        ("disk_read_rate", "node_disk_read_bytes_total", ""),
        ("disk_write_rate", "node_disk_written_bytes_total", ""),
        ("network_in_rate", "node_network_receive_bytes_total", "lo"),
        ("network_out_rate", "node_network_transmit_bytes_total", "lo"),
    ):
        truth[key] = round(
            (_total(b, name, skip) - _total(a, name, skip)) / elapsed_s, 1
        )
    for resource in ("cpu", "memory", "io"):
        name = f"node_pressure_{resource}_waiting_seconds_total"
        if name in b:
            waited = _one(b, name) - _one(a, name)
            truth[f"{resource}_pressure"] = round(
                min(100.0, waited / elapsed_s * 100), 2
            )
    sizes = {
        labels["mountpoint"]: (labels, value)
        for labels, value in b["node_filesystem_size_bytes"]
        if labels["fstype"] not in MEMORY_FILE_SYSTEMS and value > 0
    }
    for name_key, name in (
        ("free", "node_filesystem_free_bytes"),
        ("avail", "node_filesystem_avail_bytes"),
    ):
        for labels, value in b[name]:
            if labels["mountpoint"] in sizes:
                sizes[labels["mountpoint"]][0][name_key] = str(value)
    for mount, (labels, size) in sizes.items():
        free, avail = float(labels["free"]), float(labels["avail"])
        used = size - free
        truth[f"disk_usage_{mount}"] = round(used / (used + avail) * 100, 1)
        truth[f"disk_free_{mount}"] = avail
    return truth


# Shares and rates are rounded to 0.1, pressure to 0.01, as the sensors show them; the sums
# behind them are added up in another order here, which may flip the last digit of a figure
# that falls on a tie (CPU seconds count in hundredths: 0.09 of 4 s busy is 2.25 %).
_STEPS = {"_usage": 0.1, "_rate": 0.1, "_pressure": 0.01}


def matches(key: str, ours: float, truth: float) -> bool:
    """Return True when our figure is node_exporter's (to the sensor's last digit)."""
    for suffix, step in _STEPS.items():
        if key.endswith(suffix):
            return abs(ours - truth) <= step + 1e-9
    # Sizes come back from GiB: exact but for the float's last digits.
    return math.isclose(ours, truth, rel_tol=1e-9)


def mismatches(
    shown: dict[str, float], truth: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """Return (ours, node_exporter's) of each figure that is not node_exporter's own."""
    return {
        key: (shown.get(key, math.nan), value)
        for key, value in truth.items()
        if key not in shown or not matches(key, shown[key], value)
    }


def scraped_at(text: str) -> float | None:
    """Return when Prometheus scraped the memory total, from federation's timestamp (s)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "node_memory_MemTotal_bytes" and sample.timestamp:
                return float(sample.timestamp)
    return None
