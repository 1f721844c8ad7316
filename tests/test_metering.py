"""Our own cost: loop time counts only a coroutine's own steps; cancellation still works."""

import asyncio
import time

from homeassistant.core import HomeAssistant
import pytest

from custom_components.ai_performance.metering import (
    LoopTimedCall,
    SourceMeter,
    async_run_blocking,
    current_meter,
)


async def test_waiting_is_not_loop_time() -> None:
    meter = SourceMeter()

    async def mostly_waiting() -> str:
        await asyncio.sleep(0.05)
        return "done"

    assert await LoopTimedCall(mostly_waiting(), meter) == "done"
    assert meter.loop_s < 0.01


async def test_running_is_loop_time() -> None:
    meter = SourceMeter()

    async def busy() -> None:
        await asyncio.sleep(0)
        deadline = time.perf_counter() + 0.02
        while time.perf_counter() < deadline:
            pass

    await LoopTimedCall(busy(), meter)

    assert meter.loop_s >= 0.02


async def test_exceptions_and_cancellation_reach_the_coroutine() -> None:
    meter = SourceMeter()
    cleaned_up = asyncio.Event()

    async def waits_forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await LoopTimedCall(waits_forever(), meter)
    assert cleaned_up.is_set()

    async def fails() -> None:
        msg = "bad source"
        raise ValueError(msg)

    with pytest.raises(ValueError, match="bad source"):
        await LoopTimedCall(fails(), meter)


async def test_executor_time_is_charged_to_the_current_meter(
    hass: HomeAssistant,
) -> None:
    meter = SourceMeter()
    current_meter.set(meter)

    assert await async_run_blocking(hass, lambda: time.sleep(0.02) or 7) == 7

    assert meter.executor_s >= 0.02
    current_meter.set(None)
    await async_run_blocking(
        hass, lambda: None
    )  # no meter: nothing to charge, no error
