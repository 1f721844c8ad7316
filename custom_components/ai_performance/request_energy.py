"""GPU energy per request: reads the GPUs' energy counters around agent requests.

Readings are taken only while requests run: when a turn opens, when a request is recorded,
and every SAMPLE_S in between, in the executor. A finished request gets its energy once a
reading after its end exists and no turn that could overlap it is still open; then every
request of its overlapping group is settled at once (see engine/energy.py). Nothing is read
while no request runs, and nothing at all without a GPU that counts energy.
"""

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
import time
from typing import Final

from homeassistant.core import HomeAssistant, callback

from .const import LOGGER
from .engine.energy import (
    JOULES_PER_WH,
    EnergyCounter,
    EnergyReading,
    Span,
    overlapping_groups,
    share_energy,
)
from .engine.requests import RequestRecord

# How often the counters are read while requests run.
SAMPLE_S: Final = 1.0
# Requests waiting for their energy; beyond this (or this age) the oldest get none.
MAX_PENDING: Final = 1024
PENDING_MAX_AGE_S: Final = 600.0


@dataclass(slots=True)
class _Pending:
    subject: str
    seq: int
    record: RequestRecord

    @property
    def span(self) -> Span:
        return Span(self.record.start, self.record.end)


class RequestEnergy:
    """Measures the GPU energy of each agent request and writes it into the ledger."""

    def __init__(
        self,
        hass: HomeAssistant,
        read: Callable[[], EnergyReading | None],
        settle: Callable[[str, int, RequestRecord, float], None],
        open_since: Callable[[], float | None],
        *,
        expected: bool = False,
    ) -> None:
        """Read counters with blocking ``read``; hand each share (Wh) to ``settle``.

        ``open_since`` returns when the oldest turn still open started (None when none is):
        requests ending after that may still share their time with it. ``expected``: a
        source of counters is configured that has no reading yet (an AI host's GPUs, read
        at the first tick), so requests are metered from the start.
        """
        self.expected = expected
        self.hass = hass
        self.available = False
        self.counter = EnergyCounter()
        self._read = read
        self._settle_share = settle
        self._open_since = open_since
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def async_start(self) -> None:
        """Take a first reading; without one there is nothing to measure."""
        reading = await self.hass.async_add_executor_job(self._read)
        self.available = reading is not None or self.expected
        if reading is not None:
            self.counter.add(reading)

    async def async_stop(self) -> None:
        """Stop reading; requests still waiting get no energy."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._pending.clear()

    @property
    def pending(self) -> int:
        """Return how many requests wait for their energy."""
        return len(self._pending)

    # The two hooks below are attached only when ``available``.

    @callback
    def request_started(self) -> None:
        """Read now: a turn opened."""
        self._read_soon()

    @callback
    def request_finished(self, subject: str, seq: int, record: RequestRecord) -> None:
        """Measure ``record``'s energy once readings cover it."""
        self._pending.append(_Pending(subject, seq, record))
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]
        self._read_soon()

    @callback
    def _read_soon(self) -> None:
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = self.hass.async_create_background_task(
                self._run(), "ai_performance GPU energy readings"
            )

    async def _run(self) -> None:
        """Read every SAMPLE_S (or at once when woken) while requests run or wait."""
        while True:
            self._wake.clear()
            reading = await self.hass.async_add_executor_job(self._read)
            if reading is not None:
                self.counter.add(reading)
            self._settle()
            if not self._pending and self._open_since() is None:
                return
            with suppress(TimeoutError):
                async with asyncio.timeout(SAMPLE_S):
                    await self._wake.wait()

    def _settle(self) -> None:
        """Share the energy of every group of requests that can no longer change."""
        last = self.counter.last_time
        if last is None or not self._pending:
            return
        horizon = last
        if (oldest_open := self._open_since()) is not None:
            horizon = min(horizon, oldest_open)
        spans = [pending.span for pending in self._pending]
        done: set[int] = set()
        for group in overlapping_groups(spans):
            if max(spans[i].end for i in group) > horizon:
                continue
            done.update(group)
            self._share([self._pending[i] for i in group])
        too_old = time.time() - PENDING_MAX_AGE_S
        self._pending = [
            pending
            for i, pending in enumerate(self._pending)
            if i not in done and pending.record.end > too_old
        ]

    def _share(self, group: list[_Pending]) -> None:
        spans = [pending.span for pending in group]
        if self.counter.at(min(s.start for s in spans)) is None:
            # Started before the readings kept (or across a counter reset): unknown.
            LOGGER.debug("No GPU energy readings cover %s requests", len(group))
            return
        shares = share_energy(spans, lambda a, b: self.counter.between(a, b) or 0.0)
        for pending, joules in zip(group, shares, strict=True):
            self._settle_share(
                pending.subject, pending.seq, pending.record, joules / JOULES_PER_WH
            )
