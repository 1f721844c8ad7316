"""The chat-log watcher: every turn counted exactly once, whichever events report it."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.components.conversation import chat_log as ha_chat_log
from homeassistant.components.conversation.const import ChatLogEventType
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.collectors import chat_logs

from ..conftest import setup_integration, tick
from .conftest import SETTLE_S
from .test_agents import requests_collector

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def user(at: float) -> dict[str, Any]:
    return {"role": "user", "content": "hi", "created": T0 + timedelta(seconds=at)}


def assistant(at: float, agent: str = "conversation.llm") -> dict[str, Any]:
    return {
        "role": "assistant",
        "agent_id": agent,
        "content": "ok",
        "created": T0 + timedelta(seconds=at),
    }


async def test_overlapping_events_and_polls_count_each_turn_once(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    watcher = requests_collector(mock_config_entry).chat_logs
    send = watcher._on_chat_log_event
    expected: dict[str, list[float]] = {}
    # Ten conversations, three turns each, interleaved; each turn's end is reported by a
    # content_added (2026.11), then again by updated (end of turn), then settled by the timer;
    # the log is deleted at the end.
    history: dict[str, list[dict[str, Any]]] = {}
    for turn in range(3):
        for conv in range(10):
            cid = f"c{conv}"
            start = turn * 100 + conv
            log = history.setdefault(cid, [])
            log.append(user(start))
            send(cid, "content_added", {"content": log[-1]})
            log.append(assistant(start + 1.5 + conv / 10))
            send(cid, "content_added", {"content": log[-1]})
            send(cid, "updated", {"chat_log": {"content": list(log)}})
            expected.setdefault("conversation.llm", []).append(1500 + conv * 100)
        await asyncio.sleep(SETTLE_S * 3)
        await hass.async_block_till_done()
    for cid in history:
        send(cid, "deleted", {})
    await asyncio.sleep(SETTLE_S * 3)

    subject = mock_config_entry.runtime_data.ledger.subjects["conversation.llm"]
    assert subject.totals.requests == 30
    durations = sorted(r.duration_ms for r in subject.log.recent)
    assert durations == pytest.approx(sorted(expected["conversation.llm"][-20:]))
    assert watcher.open_turns == 0


async def test_a_turn_that_never_ends_is_given_up_not_counted(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    watcher = requests_collector(mock_config_entry).chat_logs
    watcher._on_chat_log_event("c", "content_added", {"content": user(0)})
    watcher._on_chat_log_event("c", "deleted", {})
    assert watcher.abandoned == 1
    assert mock_config_entry.runtime_data.ledger.subjects == {}


async def test_a_broken_event_never_reaches_the_conversation(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_integration(hass, mock_config_entry)
    watcher = requests_collector(mock_config_entry).chat_logs
    for _ in range(3):
        watcher._on_chat_log_event("c", "content_added", {"no": "content"})
    assert watcher.callback_errors == 3
    assert caplog.text.count("Could not read a chat log event") == 1
    # It keeps measuring afterwards.
    watcher._on_chat_log_event("c", "content_added", {"content": user(0)})
    watcher._on_chat_log_event("c", "content_added", {"content": assistant(2)})
    await asyncio.sleep(SETTLE_S * 5)
    assert (
        mock_config_entry.runtime_data.ledger.subjects[
            "conversation.llm"
        ].totals.requests
        == 1
    )


async def test_every_turn_counts_however_many_are_open_at_once(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    # 1 000 conversations ask before any is answered, through Home Assistant's own notify
    # path (257 open at once counted 256 when the bound was 256).
    await setup_integration(hass, mock_config_entry)
    notify = ha_chat_log._async_notify_subscribers
    added = ChatLogEventType.CONTENT_ADDED
    for n in range(1000):
        notify(hass, f"c{n}", added, {"content": user(n / 100)})
    for n in range(1000):
        notify(hass, f"c{n}", added, {"content": assistant(n / 100 + 2)})
    watcher = requests_collector(mock_config_entry).chat_logs
    for _ in range(100):  # the settle timer finishes them, SETTLE_S after their answers
        await asyncio.sleep(SETTLE_S)
        if not watcher.open_turns:
            break
    await hass.async_block_till_done()

    subject = mock_config_entry.runtime_data.ledger.subjects["conversation.llm"]
    assert subject.totals.requests == 1000
    await tick(hass)
    dropped = hass.states.get("sensor.ai_performance_turns_dropped")
    assert dropped is not None
    assert dropped.state == "0"


async def test_turns_past_the_bound_are_counted_as_dropped(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    watcher = requests_collector(mock_config_entry).chat_logs
    with patch.object(chat_logs, "MAX_OPEN_TURNS", 5):
        for n in range(7):
            watcher._on_chat_log_event(f"c{n}", "content_added", {"content": user(n)})
    await tick(hass)

    dropped = hass.states.get("sensor.ai_performance_turns_dropped")
    assert dropped is not None
    assert dropped.state == "2"
    assert dropped.attributes["open_turns"] == 5
    assert dropped.attributes["limit"] == chat_logs.MAX_OPEN_TURNS
