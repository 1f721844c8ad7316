"""The coordinator: one tick polls every collector concurrently, each isolated and timed."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
import time
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .collectors.base import Collector
from .const import DOMAIN, LOGGER, UPDATE_INTERVAL
from .engine.snapshot import Snapshot, SourceResult


@dataclass(slots=True)
class AIPerformanceData:
    """Runtime data of a config entry."""

    coordinator: AIPerformanceCoordinator


type AIPerformanceConfigEntry = ConfigEntry[AIPerformanceData]


class AIPerformanceCoordinator(DataUpdateCoordinator[Snapshot]):
    """Polls every collector once per tick and publishes one immutable Snapshot.

    A failing or slow source never fails the tick: it gets an error in its SourceResult, so only
    its own entities go unavailable. Each failure is logged once, when it starts, and once more
    when the source recovers.
    """

    config_entry: AIPerformanceConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: AIPerformanceConfigEntry,
        collectors: Sequence[Collector[Any]],
    ) -> None:
        """Initialise the coordinator over its collectors."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=UPDATE_INTERVAL,
            always_update=False,
        )
        self.collectors = tuple(collectors)
        self._started: list[Collector[Any]] = []
        self._failing: set[str] = set()

    @override
    async def _async_setup(self) -> None:
        """Start every collector once, before the first tick."""
        for collector in self.collectors:
            await collector.async_start()
            self._started.append(collector)

    @override
    async def _async_update_data(self) -> Snapshot:
        """Collect from every source concurrently and time the whole collection."""
        started = time.perf_counter()
        results = await asyncio.gather(*(self._collect(c) for c in self.collectors))
        collection_ms = (time.perf_counter() - started) * 1000
        return Snapshot(
            sources={c.key: r for c, r in zip(self.collectors, results, strict=True)},
            collection_ms=round(collection_ms, 3),
        )

    async def _collect(self, collector: Collector[Any]) -> SourceResult:
        started = time.perf_counter()
        error: str | None = None
        sample: object | None = None
        try:
            async with asyncio.timeout(collector.timeout):
                sample = await collector.async_collect()
        except TimeoutError:
            error = f"no answer within {collector.timeout:g} s"
        except Exception as err:  # noqa: BLE001 - a failing source must never take down the others
            error = f"{type(err).__name__}: {err}"
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        self._log_transition(collector.key, error)
        return SourceResult(sample=sample, error=error, duration_ms=duration_ms)

    def _log_transition(self, key: str, error: str | None) -> None:
        """Log when a source starts failing and when it recovers, never on every tick."""
        if error is not None and key not in self._failing:
            self._failing.add(key)
            LOGGER.info("Source %s is unavailable: %s", key, error)
        elif error is None and key in self._failing:
            self._failing.discard(key)
            LOGGER.info("Source %s is available again", key)

    @override
    async def async_shutdown(self) -> None:
        """Stop polling, then stop every collector that was started (newest first)."""
        await super().async_shutdown()
        while self._started:
            collector = self._started.pop()
            try:
                await collector.async_stop()
            except Exception:  # noqa: BLE001 - one collector's bad stop must not leak the others
                LOGGER.exception("Error stopping source %s", collector.key)
