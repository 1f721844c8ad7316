"""The coordinator: one tick polls every collector concurrently, each isolated and timed."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
import time
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .alerts import AlertManager
from .collectors.base import Collector, Needs, source_name
from .const import DOMAIN, LOGGER, UPDATE_INTERVAL
from .costs import CostSettings
from .engine.snapshot import Snapshot, SourceResult
from .ledger import RequestLedger
from .metering import LoopTimedCall, SourceMeter, current_meter
from .source_health import SourceHealth
from .trends import TrendWatcher

if TYPE_CHECKING:
    # These carry out model changes, which need the entry type defined here.
    from .autopilot import AutoOptimizer
    from .benchmark import BenchmarkRunner


@dataclass(slots=True)
class AIPerformanceData:
    """Runtime data of a config entry."""

    coordinator: AIPerformanceCoordinator
    needs: Needs
    ledger: RequestLedger
    costs: CostSettings
    alerts: AlertManager
    trends: TrendWatcher
    benchmark: BenchmarkRunner
    optimizer: AutoOptimizer


type AIPerformanceConfigEntry = ConfigEntry[AIPerformanceData]


@dataclass(frozen=True, slots=True)
class Judges:
    """What each tick's snapshot goes through, in this order.

    ``trends`` adds the forecasts and latency checks, ``alerts`` judges the values against their
    thresholds, and ``health`` raises the repair issues of sources failing for too long.
    """

    trends: TrendWatcher | None = None
    alerts: AlertManager | None = None
    health: SourceHealth | None = None


# How long a tick waits for its sources before it publishes what it has. A source still busy
# then (a hung server) keeps its previous result in this snapshot; its answer, or its timeout,
# lands in the next one. The first tick waits for every source: it decides which entities exist.
PUBLISH_WAIT_S: Final = 0.25


class AIPerformanceCoordinator(DataUpdateCoordinator[Snapshot]):
    """Polls every collector once per tick and publishes one immutable Snapshot.

    A failing or slow source never fails or delays the tick: it gets an error in its
    SourceResult, so only its own entities go unavailable, and a source that has not answered
    within ``PUBLISH_WAIT_S`` is published late (at the next tick) while the others publish on
    time. Each failure is logged once, when it starts, and once more when the source recovers.
    """

    config_entry: AIPerformanceConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: AIPerformanceConfigEntry,
        collectors: Sequence[Collector[Any]],
        judges: Judges | None = None,
    ) -> None:
        """Initialise the coordinator over its collectors; ``judges`` look at each snapshot."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=UPDATE_INTERVAL,
            always_update=False,
        )
        self.collectors = tuple(collectors)
        judges = judges or Judges()
        self.alerts = judges.alerts
        self.trends = judges.trends
        self.health = judges.health
        self._started: list[Collector[Any]] = []
        self._failing: set[str] = set()
        # Each source's collection still running (started by an earlier tick), and its last
        # result, shown while a newer one is late.
        self._running: dict[str, asyncio.Task[SourceResult]] = {}
        self._unpublished: dict[str, SourceResult] = {}
        self._last: dict[str, SourceResult] = {}
        # Loop time of the last entity update, charged to the next snapshot's overhead.
        self._listeners_ms = 0.0

    @override
    async def _async_setup(self) -> None:
        """Start every collector once, before the first tick."""
        # Also stop them when Home Assistant stops: NVML is shut down, timers are cancelled.
        self.config_entry.async_on_unload(
            self.hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_STOP, self._async_stop_collectors
            )
        )
        for collector in self.collectors:
            await collector.async_start()
            self._started.append(collector)

    @override
    async def _async_update_data(self) -> Snapshot:
        """Collect from every source concurrently and time the whole collection."""
        started = time.perf_counter()
        sources = await self._collect_all(first=self.data is None)
        collection_ms = (time.perf_counter() - started) * 1000
        interval = self.update_interval or UPDATE_INTERVAL
        snapshot = Snapshot(
            sources=sources,
            collection_ms=round(collection_ms, 3),
            interval_s=interval.total_seconds(),
            loop_ms=round(
                sum(r.loop_ms for r in sources.values()) + self._listeners_ms, 3
            ),
            executor_ms=round(sum(r.executor_ms for r in sources.values()), 3),
        )
        now = time.time()
        if self.trends is not None:
            snapshot = replace(snapshot, **self.trends.evaluate(snapshot, now))
        if self.alerts is not None:
            snapshot = replace(snapshot, alerts=self.alerts.evaluate(snapshot, now))
        if self.health is not None:
            self.health.update(snapshot, now)
        return snapshot

    async def _collect_all(self, *, first: bool) -> dict[str, SourceResult]:
        """Collect every source not still busy, waiting for them up to the publish deadline.

        Each source is collected every tick unless its previous collection still runs; an
        answer that came after its tick was published is shown now, unless a newer one came.
        """
        self._take_finished()
        for collector in self.collectors:
            if collector.key not in self._running:
                self._running[collector.key] = self.hass.async_create_background_task(
                    self._collect(collector), f"{DOMAIN} collect {collector.key}"
                )
        if self._running:
            await asyncio.wait(
                self._running.values(), timeout=None if first else PUBLISH_WAIT_S
            )
        self._take_finished()
        sources: dict[str, SourceResult] = {}
        for collector in self.collectors:
            key = collector.key
            if (result := self._unpublished.pop(key, None)) is not None:
                self._last[key] = sources[key] = result
            elif (last := self._last.get(key)) is not None:
                # Late: show the last result again, its cost already counted once.
                sources[key] = replace(last, loop_ms=0.0, executor_ms=0.0, late=True)
            else:  # stopped before it ever answered (an unload during the first tick)
                sources[key] = SourceResult(None, "stopped", 0.0, late=True)
        return sources

    def _take_finished(self) -> None:
        """Move the results of finished collections to those waiting to be published."""
        for key, task in list(self._running.items()):
            if not task.done():
                continue
            del self._running[key]
            if task.cancelled():
                continue
            result = task.result()
            if (earlier := self._unpublished.get(key)) is not None:
                # Superseded before it was shown: only its cost still counts.
                result = replace(
                    result,
                    loop_ms=round(result.loop_ms + earlier.loop_ms, 3),
                    executor_ms=round(result.executor_ms + earlier.executor_ms, 3),
                )
            self._unpublished[key] = result

    async def _collect(self, collector: Collector[Any]) -> SourceResult:
        """Collect one source (in a task of its own) under its timeout, timing its parts."""
        meter = SourceMeter()
        current_meter.set(meter)
        started = time.perf_counter()
        error: str | None = None
        message: str | None = None
        sample: object | None = None
        try:
            async with asyncio.timeout(collector.timeout):
                sample = await LoopTimedCall(collector.async_collect(), meter)
        except TimeoutError:
            error = message = f"no answer within {collector.timeout:g} s"
        except Exception as err:  # noqa: BLE001 - a failing source must never take down the others
            error = f"{type(err).__name__}: {err}"
            message = str(err) or error
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        self._log_transition(collector, error)
        return SourceResult(
            sample=sample,
            error=error,
            message=message,
            duration_ms=duration_ms,
            loop_ms=round(meter.loop_s * 1000, 3),
            executor_ms=round(meter.executor_s * 1000, 3),
        )

    @override
    @callback
    def async_update_listeners(self) -> None:
        """Update the entities, timing it: writing states is our biggest loop cost."""
        started = time.perf_counter()
        super().async_update_listeners()
        # Alert events go out once the states show the alerts they announce.
        if self.alerts is not None:
            self.alerts.async_announce()
        self._listeners_ms = (time.perf_counter() - started) * 1000

    def _log_transition(self, collector: Collector[Any], error: str | None) -> None:
        """Log when a source starts failing and when it recovers, never on every tick."""
        key = collector.key
        if error is not None and key not in self._failing:
            self._failing.add(key)
            LOGGER.info("Source %s is unavailable: %s", source_name(collector), error)
        elif error is None and key in self._failing:
            self._failing.discard(key)
            LOGGER.info("Source %s is available again", source_name(collector))

    @override
    async def async_shutdown(self) -> None:
        """Stop polling, then stop every collector that was started (newest first)."""
        await super().async_shutdown()
        running = list(self._running.values())
        for task in running:
            task.cancel()
        # Let them end (an executor call finishes first) before their sources are stopped.
        await asyncio.gather(*running, return_exceptions=True)
        self._running.clear()
        await self._async_stop_collectors()

    async def _async_stop_collectors(self, _event: Event | None = None) -> None:
        while self._started:
            collector = self._started.pop()
            try:
                await collector.async_stop()
            except Exception:  # noqa: BLE001 - one collector's bad stop must not leak the others
                LOGGER.exception("Error stopping source %s", source_name(collector))
