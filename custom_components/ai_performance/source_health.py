"""Repair issues about the sources themselves: one failing for too long, NVML missing when asked for.

A model server that is down has its own issue (with its outage time), so servers are left out here.
The GPU source also fails while a GPU answers only NVML errors or is lost, although the source
delivers the other GPUs' readings: only that GPU's entities are unavailable, and the issue names it.
"""

from typing import Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_cached_translations

from .collectors.gpu import GpuSample
from .const import DOMAIN, SOURCE_GPU
from .engine.snapshot import Snapshot, SourceResult
from .issues import (
    ISSUE_NVML_MISSING,
    async_raise_nvml_missing,
    async_raise_source_failing,
    local_time,
    source_issue_id,
)

# Sources with outage issues of their own (collectors/servers/base.py): model servers and AI
# hosts' exporters.
OWN_OUTAGE_ISSUES: Final = ("server:", "ai_host:", "ai_host_gpu:")


class SourceHealth:
    """Raises and deletes the repair issues of failing sources after each tick."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        *,
        repair_after_s: float,
        gpu_required: bool,
    ) -> None:
        """Watch the sources of ``entry_id``: ``gpu_required`` when GPU monitoring is on."""
        self._hass = hass
        self._entry_id = entry_id
        self._repair_after_s = repair_after_s
        self._gpu_required = gpu_required
        self._failing_since: dict[str, float] = {}
        self._raised: set[str] = set()

    @callback
    def update(self, snapshot: Snapshot, now: float) -> None:
        """Raise the issue of each source failing for too long; delete those that recovered."""
        for key, result in snapshot.sources.items():
            if key.startswith(OWN_OUTAGE_ISSUES):
                continue
            issue_id = source_issue_id(key)
            if (error := _failure(key, result)) is None:
                self._failing_since.pop(key, None)
                self._delete(issue_id)
                continue
            since = self._failing_since.setdefault(key, now)
            if now - since >= self._repair_after_s and issue_id not in self._raised:
                async_raise_source_failing(
                    self._hass,
                    self._entry_id,
                    key,
                    {
                        "source": self._source_name(key),
                        "since": local_time(since),
                        "error": error,
                    },
                )
                self._raised.add(issue_id)
        gpus = snapshot.sample(SOURCE_GPU, GpuSample)
        if self._gpu_required and gpus is not None and not gpus.nvml_available:
            if ISSUE_NVML_MISSING not in self._raised:
                async_raise_nvml_missing(
                    self._hass, self._entry_id, gpus.nvml_error or "NVML not found"
                )
                self._raised.add(ISSUE_NVML_MISSING)
        elif gpus is not None:
            self._delete(ISSUE_NVML_MISSING)

    def _source_name(self, key: str) -> str:
        """Return a source in words ("the NVIDIA GPUs"), as loaded with the integration."""
        translations = async_get_cached_translations(
            self._hass, self._hass.config.language, "exceptions", DOMAIN
        )
        return translations.get(
            f"component.{DOMAIN}.exceptions.source_{key}.message", key
        )

    def _delete(self, issue_id: str) -> None:
        if issue_id in self._raised:
            self._raised.discard(issue_id)
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)

    @callback
    def async_stop(self) -> None:
        """Delete every issue raised (on unload): a reload measures afresh."""
        for issue_id in list(self._raised):
            self._delete(issue_id)


def _failure(key: str, result: SourceResult) -> str | None:
    """Return why source ``key`` failed this tick, or None when it delivered everything.

    A GPU source that delivered still fails while some GPU answers only errors or is lost.
    """
    if not result.ok:
        return result.message or result.error or ""
    sample = result.sample
    if key == SOURCE_GPU and isinstance(sample, GpuSample) and sample.failing:
        return "; ".join(sample.failing.values())
    return None
