"""The coordinator: concurrent, isolated, timed collection; failures logged once; clean shutdown."""

import asyncio
from collections.abc import Sequence
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors.base import Collector
from custom_components.ai_performance.coordinator import AIPerformanceCoordinator
from custom_components.ai_performance.metering import async_run_blocking

from .fakes import ScriptedCollector, hang_forever


async def _started_coordinator(
    hass: HomeAssistant, entry: MockConfigEntry, collectors: Sequence[Collector[Any]]
) -> AIPerformanceCoordinator:
    entry.add_to_hass(hass)
    entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
    coordinator = AIPerformanceCoordinator(hass, entry, collectors)
    await coordinator.async_config_entry_first_refresh()
    return coordinator


async def test_collectors_run_concurrently(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    # "waiter" can only finish once "releaser" has run: one after the other, waiter would time out.
    released = asyncio.Event()

    async def wait_for_release() -> object:
        await released.wait()
        return "waited"

    async def release() -> object:
        released.set()
        return "released"

    coordinator = await _started_coordinator(
        hass,
        mock_config_entry,
        [
            ScriptedCollector("waiter", timeout=2, collect=wait_for_release),
            ScriptedCollector("releaser", collect=release),
        ],
    )

    sources = coordinator.data.sources
    assert sources["waiter"].sample == "waited"
    assert sources["releaser"].sample == "released"


async def test_a_hanging_source_times_out_alone(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    coordinator = await _started_coordinator(
        hass,
        mock_config_entry,
        [
            ScriptedCollector("stuck", timeout=0.05, collect=hang_forever),
            ScriptedCollector("healthy"),
        ],
    )

    snapshot = coordinator.data
    assert coordinator.last_update_success
    assert not snapshot.source_ok("stuck")
    assert snapshot.sources["stuck"].error == "no answer within 0.05 s"
    assert snapshot.sources["stuck"].sample is None
    assert snapshot.source_ok("healthy")
    assert snapshot.sources["healthy"].sample == {"value": 1}


async def test_a_raising_source_fails_alone(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    async def explode() -> object:
        msg = "sensor fell off"
        raise RuntimeError(msg)

    coordinator = await _started_coordinator(
        hass,
        mock_config_entry,
        [ScriptedCollector("broken", collect=explode), ScriptedCollector("healthy")],
    )

    assert coordinator.data.sources["broken"].error == "RuntimeError: sensor fell off"
    assert coordinator.data.source_ok("healthy")


async def test_every_collection_and_every_source_is_timed(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    async def take_20_ms() -> object:
        await asyncio.sleep(0.02)
        return "slow"

    coordinator = await _started_coordinator(
        hass, mock_config_entry, [ScriptedCollector("slow", collect=take_20_ms)]
    )

    snapshot = coordinator.data
    assert snapshot.sources["slow"].duration_ms >= 20
    assert snapshot.collection_ms >= snapshot.sources["slow"].duration_ms


async def test_a_failing_source_is_logged_once_and_its_recovery_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = True

    async def flaky() -> object:
        if failing:
            msg = "connection refused"
            raise OSError(msg)
        return "back"

    caplog.set_level(logging.INFO)
    coordinator = await _started_coordinator(
        hass, mock_config_entry, [ScriptedCollector("flaky", collect=flaky)]
    )
    for _ in range(3):
        await coordinator.async_refresh()

    failures = [r for r in caplog.records if "Source flaky is unavailable" in r.message]
    assert len(failures) == 1
    assert failures[0].levelno == logging.INFO
    assert "connection refused" in failures[0].message

    failing = False
    for _ in range(3):
        await coordinator.async_refresh()

    recoveries = [
        r for r in caplog.records if "Source flaky is available again" in r.message
    ]
    assert len(recoveries) == 1
    assert coordinator.data.sources["flaky"].sample == "back"


async def test_shutdown_stops_every_started_collector_newest_first(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    coordinator = await _started_coordinator(
        hass,
        mock_config_entry,
        [
            ScriptedCollector("first", events=events),
            ScriptedCollector(
                "second", events=events, stop_error=RuntimeError("stuck")
            ),
            ScriptedCollector("third", events=events),
        ],
    )

    await coordinator.async_shutdown()
    await coordinator.async_shutdown()  # a second shutdown stops nothing twice

    assert events == [
        "start first",
        "start second",
        "start third",
        "stop third",
        "stop second",
        "stop first",
    ]
    assert "Error stopping source second" in caplog.text


async def test_a_source_not_ready_fails_the_first_refresh(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    events: list[str] = []

    with pytest.raises(ConfigEntryNotReady):
        await _started_coordinator(
            hass,
            mock_config_entry,
            [
                ScriptedCollector("ready", events=events),
                ScriptedCollector("not_ready", not_ready=True, events=events),
            ],
        )

    assert events == ["start ready"]


async def test_executor_and_loop_time_are_measured_apart(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    async def block_a_thread() -> object:
        # 50 ms in an executor thread, and waiting 30 ms on a timer: neither is loop time.
        await async_run_blocking(hass, lambda: time.sleep(0.05))
        await asyncio.sleep(0.03)
        return "threaded"

    async def busy_on_the_loop() -> object:
        deadline = time.perf_counter() + 0.02
        while time.perf_counter() < deadline:  # 20 ms of loop time, on purpose
            pass
        return "busy"

    coordinator = await _started_coordinator(
        hass,
        mock_config_entry,
        [
            ScriptedCollector("threaded", collect=block_a_thread),
            ScriptedCollector("busy", collect=busy_on_the_loop),
        ],
    )

    threaded, busy = (coordinator.data.sources[k] for k in ("threaded", "busy"))
    assert threaded.executor_ms >= 50
    assert threaded.loop_ms < 10
    assert threaded.duration_ms >= 80
    assert busy.loop_ms >= 20
    assert busy.executor_ms == 0
    snapshot = coordinator.data
    assert snapshot.executor_ms == pytest.approx(threaded.executor_ms)
    # Both sides rounded to the microsecond: 0.684 + 20.021 is 20.705000000000002 in floats.
    assert snapshot.loop_ms >= round(threaded.loop_ms + busy.loop_ms, 3)
    # 30 s interval: 50 ms of executor time is 0.1667 % of it.
    assert snapshot.executor_overhead_percent == pytest.approx(
        snapshot.executor_ms / 30_000 * 100, abs=1e-4
    )


async def test_listener_updates_are_charged_to_the_next_snapshot(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    coordinator = await _started_coordinator(
        hass, mock_config_entry, [ScriptedCollector("quiet")]
    )

    def slow_listener() -> None:
        time.sleep(0.01)  # an entity taking 10 ms to write its state

    unsubscribe = coordinator.async_add_listener(slow_listener)
    await coordinator.async_refresh()  # runs the listener after building its snapshot
    await coordinator.async_refresh()
    unsubscribe()

    assert coordinator.data.loop_ms >= 10


async def test_a_slow_source_is_collected_every_tick_and_shown_one_tick_late(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    # Every collection of "slow" takes longer than a tick waits (0.25 s), less than a tick lasts.
    async def slowly() -> object:
        await asyncio.sleep(1.0)
        return f"answer {slow.collect_calls}"

    slow = ScriptedCollector("slow", collect=slowly)
    fast = ScriptedCollector("fast")
    coordinator = await _started_coordinator(hass, mock_config_entry, [slow, fast])
    assert coordinator.data.sources["slow"].sample == "answer 1"  # the first tick waits

    shown = []
    for _ in range(4):
        started = time.monotonic()
        await coordinator.async_refresh()
        # The fast source publishes on time, every tick (well before "slow" could answer).
        assert time.monotonic() - started < 0.7
        assert coordinator.data.sources["fast"].late is False
        shown.append(
            (
                coordinator.data.sources["slow"].sample,
                coordinator.data.sources["slow"].late,
            )
        )
        await asyncio.sleep(1.2)  # the rest of the tick

    # Polled at every tick, each answer shown at the next one.
    assert slow.collect_calls == 5
    assert fast.collect_calls == 5
    assert shown == [
        ("answer 1", True),
        ("answer 2", False),
        ("answer 3", False),
        ("answer 4", False),
    ]


async def test_an_unload_during_a_tick_leaves_nothing_running(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    coordinator = await _started_coordinator(
        hass,
        mock_config_entry,
        [ScriptedCollector("slow", timeout=0.5, collect=hang_forever)],
    )
    # The first tick waited for the source's own timeout; this one is still waiting for it.
    refresh = hass.async_create_task(coordinator.async_refresh())
    await asyncio.sleep(0.05)

    await coordinator.async_shutdown()
    await refresh

    assert coordinator.last_update_success
    assert coordinator.data.sources["slow"].late
