"""A scriptable collector that implements the Collector protocol, for coordinator tests."""

import asyncio
from collections.abc import Awaitable, Callable

from custom_components.ai_performance.collectors.base import CollectorNotReady


class ScriptedCollector:
    """A source whose behaviour each test sets: what it returns, raises, or waits for."""

    def __init__(
        self,
        key: str,
        *,
        timeout: float = 5.0,
        collect: Callable[[], Awaitable[object]] | None = None,
        not_ready: bool = False,
        stop_error: Exception | None = None,
        events: list[str] | None = None,
    ) -> None:
        self.key = key
        self.timeout = timeout
        self.collect_calls = 0
        self._collect = collect
        self._not_ready = not_ready
        self._stop_error = stop_error
        # Shared between collectors so that a test can see the order of starts and stops.
        self.events = events if events is not None else []

    async def async_start(self) -> None:
        if self._not_ready:
            raise CollectorNotReady
        self.events.append(f"start {self.key}")

    async def async_collect(self) -> object:
        self.collect_calls += 1
        if self._collect is None:
            return {"value": self.collect_calls}
        return await self._collect()

    async def async_stop(self) -> None:
        self.events.append(f"stop {self.key}")
        if self._stop_error is not None:
            raise self._stop_error


async def hang_forever() -> object:
    """Collect that never answers."""
    await asyncio.Event().wait()
    raise AssertionError  # pragma: no cover - unreachable
