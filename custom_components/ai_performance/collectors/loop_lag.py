"""Event-loop lag: how late the loop runs a callback scheduled for a known time.

When anything blocks Home Assistant's event loop (a slow integration, file I/O done on the loop,
a CPU-starved host) every callback and every automation runs late by the same amount, so this
is the best single signal of "Home Assistant feels slow".
"""

import asyncio
from collections import deque
from dataclasses import dataclass

from ..engine.stats import percentile

# One probe every half second: 60 lags per 30 s tick, for a meaningful p95 at a cost of a few
# microseconds per second.
PROBE_PERIOD = 0.5
# Bound on the lags kept between two collections: 10 minutes of probes (a stalled coordinator).
MAX_LAGS = 1200


@dataclass(frozen=True, slots=True)
class LoopLag:
    """How late the loop ran the probe's callbacks since the previous collection."""

    p95_ms: float
    max_ms: float
    probes: int


class LoopLagProbe:
    """Schedules a callback every PROBE_PERIOD and records how late each one ran."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Prepare the probe; it runs between start() and stop()."""
        self._loop = loop
        self._lags: deque[float] = deque(maxlen=MAX_LAGS)
        self._last: LoopLag | None = None
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start probing; call on the event loop."""
        self._schedule()

    def stop(self) -> None:
        """Stop probing."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def take(self) -> LoopLag | None:
        """Return the lag since the previous take; None only until the first probe has run.

        A collection less than PROBE_PERIOD after the previous one (a refresh asked for by an
        action or by `homeassistant.update_entity`) finds no new probe: it keeps the previous
        figure, as nothing new was measured, rather than turn the sensors unknown.
        """
        lags = list(self._lags)
        self._lags.clear()
        if (p95 := percentile(lags, 95)) is not None:
            self._last = LoopLag(
                p95_ms=round(p95 * 1000, 3),
                max_ms=round(max(lags) * 1000, 3),
                probes=len(lags),
            )
        return self._last

    def _schedule(self) -> None:
        self._due = self._loop.time() + PROBE_PERIOD
        self._handle = self._loop.call_at(self._due, self._run)

    def _run(self) -> None:
        # The loop may run a timer up to its clock resolution early: that is no lag.
        self._lags.append(max(0.0, self._loop.time() - self._due))
        self._schedule()
