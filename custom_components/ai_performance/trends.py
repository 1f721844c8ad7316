"""Trends read back from the recorder: when resources fill up, latency anomalies, the month's cost.

Every hour (and once the recorder is ready after a start) the long-term statistics of our own
sensors are read on the recorder's executor: the hourly means of memory, disk and GPU memory
usage over the last week, of each agent's p95 latency over the last four weeks, and the overall
cost of each of the last two weeks' days. From them come straight-line trends and latency
baselines (``engine.forecast``, ``engine.anomaly``); each tick puts them in the snapshot, judged
against the latest values. Without the recorder, or before enough hours are recorded, the
forecasts are unknown. A latency anomaly that starts within a day after a Home Assistant or
integration update names it, and so does a subject slower since the update than the day before
(``updates``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import time
from typing import Any, Final

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import UnitOfTime
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.util import dt as dt_util
import numpy as np

from .collectors.base import gpu_subject, host_subject, request_subject
from .collectors.gpu import GpuSample
from .collectors.host import HostSample
from .collectors.requests import MAIN_WINDOW_S, RequestsSample
from .const import DOMAIN, LOGGER, SOURCE_HOST, SOURCE_REQUESTS, SUBJECT_OVERVIEW
from .costs import CostSettings, month_bounds
from .engine.anomaly import Baseline, LatencyCheck, baseline, hour_of_week
from .engine.forecast import (
    DAY_S,
    CostProjection,
    ResourceForecast,
    Trend,
    fit_trend,
    project_month,
)
from .engine.snapshot import Snapshot
from .engine.updates import BeforeAfter, before_after
from .ledger import AGENT_LEVEL_KINDS
from .updates import UpdateWatcher

# How far back each series is read.
RESOURCE_DAYS: Final = 7
LATENCY_DAYS: Final = 28
COST_DAYS: Final = 14
# A week of daily costs before their trend is trusted.
MIN_COST_DAYS: Final = 7
# Read a few minutes past the hour: the recorder compiles the hour's statistics just after it.
REFRESH_MINUTE: Final = 12

MEMORY: Final = "memory"
DISK: Final = "disk"
VRAM: Final = "vram"
# The sensors whose statistics are read.
LATENCY_SENSOR: Final = "latency_p95"
COST_SENSOR: Final = "overall_cost"


@dataclass(frozen=True, slots=True)
class Series:
    """One statistic to read: which forecast or subject it feeds, and our sensor behind it."""

    key: str
    subject: str
    sensor_key: str


def resource_series(snapshot: Snapshot, config_dir: str) -> dict[str, ResourceForecast]:
    """Return the resources of this snapshot that get a forecast, without trends, by key."""
    resources: dict[str, ResourceForecast] = {}
    for source, host in snapshot.samples(HostSample).items():
        subject = host_subject(source)
        # Home Assistant's own host keeps the keys it had before AI hosts came.
        suffix = "" if source == SOURCE_HOST else f"@{subject}"
        if host.memory_percent is not None:
            resources[f"{MEMORY}{suffix}"] = ResourceForecast(
                MEMORY, subject, None, None
            )
        for path in host.disks:
            item = None if source == SOURCE_HOST and path == config_dir else path
            resources[f"{DISK}:{path}{suffix}"] = ResourceForecast(
                DISK, subject, item, None
            )
    for gpus in snapshot.samples(GpuSample).values():
        for uuid in gpus.gpus:
            resources[f"{VRAM}:{uuid}"] = ResourceForecast(
                VRAM, gpu_subject(uuid), None, None
            )
    return resources


def usage_sensor_key(forecast: ResourceForecast) -> str:
    """Return the key of the usage sensor whose statistics ``forecast`` reads."""
    if forecast.resource == DISK:
        return (
            "config_disk_usage"
            if forecast.item is None
            else f"disk_usage_{forecast.item}"
        )
    return f"{forecast.resource}_usage"


class TrendWatcher:
    """Reads the recorder's statistics every hour; judges the latest values every tick."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        costs: CostSettings | None = None,
    ) -> None:
        """Prepare a watcher with nothing read yet; the month's cost is projected when priced."""
        self._hass = hass
        self._entry_id = entry_id
        self._costs = costs
        self._trends: dict[str, Trend] = {}
        self._daily_cost: Trend | None = None
        # Per agent: the hours of the week and the p95 latencies of the past four weeks.
        self._latency: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._baselines: dict[tuple[str, int], Baseline | None] = {}
        # Per agent: its latency the day before the last update and since, while compared.
        self._compared: dict[str, BeforeAfter] = {}
        # What the last tick showed, read at the next refresh.
        self._wanted: list[Series] = []
        self._unsubscribe: CALLBACK_TYPE | None = None
        self.updates = UpdateWatcher(hass, entry_id)

    async def async_load(self, entry: ConfigEntry) -> None:
        """Read the update history and see this setup's versions; saved again at unload."""
        await self.updates.async_load(time.time())
        entry.async_on_unload(self.updates.async_save)

    @callback
    def async_start(self, entry: ConfigEntry) -> None:
        """Read the statistics now and a few minutes past every hour, in the background.

        The reads are tasks of ``entry``: cancelled when it unloads.
        """
        if "recorder" not in self._hass.config.components:
            return

        @callback
        def refresh(_now: datetime | None = None) -> None:
            entry.async_create_background_task(
                self._hass, self.async_refresh(), f"{DOMAIN} trends"
            )

        refresh()
        self._unsubscribe = async_track_utc_time_change(
            self._hass, refresh, minute=REFRESH_MINUTE, second=0
        )

    @callback
    def async_stop(self) -> None:
        """Stop reading every hour."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def evaluate(self, snapshot: Snapshot, now: float) -> dict[str, Any]:
        """Return the snapshot's forecasts, latency checks and cost projection."""
        config_dir = self._hass.config.config_dir
        forecasts = {
            key: ResourceForecast(f.resource, f.subject, f.item, self._trends.get(key))
            for key, f in resource_series(snapshot, config_dir).items()
        }
        wanted = [
            Series(key, f.subject, usage_sensor_key(f)) for key, f in forecasts.items()
        ]
        checks: dict[str, LatencyCheck] = {}
        projection: CostProjection | None = None
        if (requests := snapshot.sample(SOURCE_REQUESTS, RequestsSample)) is not None:
            slot = _slot(now)
            for key, stats in requests.subjects.items():
                if stats.kind not in AGENT_LEVEL_KINDS:
                    continue
                value = stats.windows[MAIN_WINDOW_S].latency_p95
                checks[key] = LatencyCheck(value, self._baseline(key, slot))
                wanted.append(Series(key, request_subject(key), LATENCY_SENSOR))
            names = {key: requests.subjects[key].name for key in checks}
            checks = self.updates.follow(checks, names, now, self._compared)
            if self._costs is not None and self._costs.priced:
                projection = self._project(requests, now, self._costs.monthly_budget)
                wanted.append(Series(COST_SENSOR, SUBJECT_OVERVIEW, COST_SENSOR))
        self._wanted = wanted
        return {
            "forecasts": forecasts,
            "latency_checks": checks,
            "cost_projection": projection,
        }

    def _baseline(self, key: str, slot: int) -> Baseline | None:
        if (key, slot) not in self._baselines:
            history = self._latency.get(key)
            self._baselines[(key, slot)] = (
                None if history is None else baseline(history[0], history[1], slot)
            )
        return self._baselines[(key, slot)]

    def _project(
        self, requests: RequestsSample, now: float, budget: float | None
    ) -> CostProjection:
        start, end = month_bounds(requests.month)
        return project_month(
            requests.month_cost,
            (start.timestamp(), end.timestamp()),
            now,
            self._daily_cost,
            budget,
        )

    async def async_refresh(self) -> None:
        """Read the statistics behind every forecast and baseline, and fit them."""
        instance = get_instance(self._hass)
        if not await instance.async_db_ready:
            return
        registry = er.async_get(self._hass)
        ids: dict[str, Series] = {}
        for series in self._wanted:
            unique_id = f"{self._entry_id}_{series.subject}_{series.sensor_key}"
            entity_id = registry.async_get_entity_id(SENSOR_DOMAIN, DOMAIN, unique_id)
            if entity_id is not None:
                ids[entity_id] = series
        if not ids:
            return
        hourly, daily = await instance.async_add_executor_job(
            _read_statistics, self._hass, ids
        )
        self._fit(ids, hourly, daily)

    def _fit(
        self,
        ids: Mapping[str, Series],
        hourly: Mapping[str, list[tuple[float, float | None]]],
        daily: list[tuple[float, float | None]],
    ) -> None:
        trends: dict[str, Trend] = {}
        latency: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        compared: dict[str, BeforeAfter] = {}
        now = dt_util.utcnow().timestamp()
        since = now - RESOURCE_DAYS * DAY_S
        update = self.updates.history.latest_update()
        for entity_id, rows in hourly.items():
            series = ids[entity_id]
            if series.sensor_key == LATENCY_SENSOR:
                slots = np.array([_slot(start) for start, _ in rows], dtype=int)
                values = np.array(
                    [np.nan if v is None else v for _, v in rows], dtype=float
                )
                latency[series.key] = (slots, values)
                if update and (
                    change := before_after(
                        [start for start, _ in rows],
                        [value for _, value in rows],
                        update[0].at,
                        now,
                    )
                ):
                    compared[series.key] = change
                continue
            recent = [(start, value) for start, value in rows if start >= since]
            # Each hour's mean stands for the middle of its hour.
            trend = fit_trend(
                [start + 1800 for start, _ in recent], [value for _, value in recent]
            )
            if trend is not None:
                trends[series.key] = trend
        self._trends = trends
        self._latency = latency
        self._compared = compared
        self._baselines.clear()
        self._daily_cost = fit_trend(
            [start + DAY_S / 2 for start, _ in daily],
            [value for _, value in daily],
            min_points=MIN_COST_DAYS,
        )
        LOGGER.debug(
            "Fitted %s trends and %s latency histories", len(trends), len(latency)
        )


def _slot(when: float) -> int:
    local = dt_util.as_local(dt_util.utc_from_timestamp(when))
    return hour_of_week(local.weekday(), local.hour)


def _read_statistics(
    hass: HomeAssistant, ids: Mapping[str, Series]
) -> tuple[
    dict[str, list[tuple[float, float | None]]], list[tuple[float, float | None]]
]:
    """Read the hourly means and the daily cost changes (in the recorder's executor)."""
    now = dt_util.utcnow()
    means = {entity_id for entity_id, s in ids.items() if s.sensor_key != COST_SENSOR}
    hourly: dict[str, list[tuple[float, float | None]]] = {}
    if means:
        rows = statistics_during_period(
            hass,
            now - timedelta(days=LATENCY_DAYS),
            None,
            means,
            "hour",
            {"duration": UnitOfTime.MILLISECONDS},
            {"mean"},
        )
        hourly = {
            entity_id: [(row["start"], row.get("mean")) for row in stat_rows]
            for entity_id, stat_rows in rows.items()
        }
    daily: list[tuple[float, float | None]] = []
    costs = {entity_id for entity_id, s in ids.items() if s.sensor_key == COST_SENSOR}
    if costs:
        today = dt_util.start_of_local_day()
        rows = statistics_during_period(
            hass,
            today - timedelta(days=COST_DAYS),
            today,  # only whole days
            costs,
            "day",
            None,
            {"change"},
        )
        daily = [
            (row["start"], row.get("change"))
            for stat_rows in rows.values()
            for row in stat_rows
        ]
    return hourly, daily
