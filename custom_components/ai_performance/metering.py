"""Our own cost: how long each source keeps the event loop and the executor busy.

Two measurements, kept apart because they hurt Home Assistant differently:
- executor time, measured inside the worker thread by ``async_run_blocking``;
- event-loop time, the sum of the steps a collection coroutine runs on the loop, measured by
  ``LoopTimedCall`` without counting the time the coroutine spends waiting.
"""

from collections.abc import Callable, Coroutine, Generator
from contextvars import ContextVar
from dataclasses import dataclass
import time
from typing import Any

from homeassistant.core import HomeAssistant


@dataclass(slots=True)
class SourceMeter:
    """The time one source's collection has cost so far, in seconds."""

    loop_s: float = 0.0
    executor_s: float = 0.0


# The meter of the collection running in the current task; the coordinator sets it per source.
current_meter: ContextVar[SourceMeter | None] = ContextVar(
    "ai_performance_meter", default=None
)


def _timed[T](func: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started


async def async_run_blocking[T](hass: HomeAssistant, func: Callable[[], T]) -> T:
    """Run blocking ``func`` in the executor and charge its thread time to the current source."""
    result, seconds = await hass.async_add_executor_job(_timed, func)
    if (meter := current_meter.get()) is not None:
        meter.executor_s += seconds
    return result


class LoopTimedCall[T]:
    """Await a coroutine while adding up the time its own steps run on the event loop.

    A coroutine runs on the loop in steps, from one suspension to the next; the time it waits
    in between (for the executor, the network, a timer) is other code's time. This awaitable
    drives the coroutine step by step, as the task running it would, and times only the steps.
    """

    __slots__ = ("_coro", "_meter")

    def __init__(self, coro: Coroutine[Any, Any, T], meter: SourceMeter) -> None:
        """Wrap ``coro``; its loop time is added to ``meter.loop_s``."""
        self._coro = coro
        self._meter = meter

    def __await__(self) -> Generator[Any, Any, T]:
        """Drive the coroutine: forward what it yields and what the task sends or throws in."""
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            started = time.perf_counter()
            try:
                if to_throw is None:
                    yielded = self._coro.send(to_send)
                else:
                    yielded = self._coro.throw(to_throw)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            finally:
                self._meter.loop_s += time.perf_counter() - started
            try:
                to_send, to_throw = (yield yielded), None
            except BaseException as err:  # noqa: BLE001 - cancellation must reach the coroutine
                to_send, to_throw = None, err
