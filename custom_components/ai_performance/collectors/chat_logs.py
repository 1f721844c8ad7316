"""Conversation agents and AI Tasks: one request per chat-log turn, with tokens from traces.

Home Assistant tells chat-log subscribers about every message (``content_added``) and about
whole logs (``updated``, ``deleted``), but not reliably about the end of a turn: 2026.11 reports
streamed assistant messages as they are added, 2026.10 only when a turn of an existing
conversation ends, and neither says when the first turn of a new conversation ends. So a turn
is finished in one of three ways, whichever comes first, and each turn is counted exactly once:

- its answer was seen (an assistant message without tool calls) and nothing followed for
  ``SETTLE_S``;
- an ``updated`` log, or the live chat log, shows assistant messages after the user's;
- the log is deleted, or the next user message arrives.

Times come from the messages' own ``created`` stamps, so finishing a turn late never changes
its latency.

Token counts come from the turn's conversation trace. A direct ``async_converse`` opens the
trace before the user's message is added, so the trace is current then; an Assist pipeline adds
the user's message first and only then calls the agent, so its turn finds its trace later: in a
message added while the agent runs, or among Home Assistant's recent traces (the newest trace
of the same conversation that began after the user's message, and that no other turn took).

The subscription API is semi-private, so it is imported guardedly: without it this part turns
itself off and everything else keeps running.
"""

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
import time
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import ulid as ulid_util

from ..const import LOGGER
from ..costs import agent_model
from ..engine.chat_turns import Turn, replay_turn, result_error, token_stats, user_start
from ..engine.requests import LOCAL_AGENT, RequestRecord, RequestSource
from ..ledger import RequestLedger

# Quiet time after an answer before its turn counts as finished.
SETTLE_S: Final = 0.5
# How long a finished turn waits for its conversation trace to get its result (error code).
TRACE_WAIT_S: Final = 5.0
# A turn with no end after this long is given up (and counted as abandoned).
TURN_TIMEOUT_S: Final = 600.0
# At most this many turns followed at once (a few MB): past it the oldest unanswered turn is
# dropped and counted in ``dropped`` (the "Turns dropped" diagnostic sensor). Far above what a
# home does at once; it only bounds memory against a flood of questions never answered.
MAX_OPEN_TURNS: Final = 10_000
# A pipeline's trace begins after its user message; allow for the two clocks' rounding.
TRACE_CLOCK_SLACK_S: Final = 0.001
# Traces already taken by a turn, remembered so that no trace is counted for two turns.
MAX_TAKEN_TRACES: Final = 1024

AI_TASK_PREFIX: Final = "ai_task."


class ChatLogWatcher:
    """Turns chat-log events into finished agent requests in the ledger."""

    def __init__(self, hass: HomeAssistant, ledger: RequestLedger) -> None:
        """Watch nothing yet; ``start`` subscribes."""
        self.hass = hass
        self.ledger = ledger
        self.available = False
        self.abandoned = 0
        # Turns given up because MAX_OPEN_TURNS were open.
        self.dropped = 0
        self.callback_errors = 0
        self._turns: dict[str, Turn] = {}
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._cancel_settle: CALLBACK_TYPE | None = None
        self._live_logs: Callable[[], dict[str, Any] | None] = lambda: None
        self._current_trace: Callable[[], Any] = lambda: None
        self._recent_traces: Callable[[], list[Any]] = list
        self._taken_traces: OrderedDict[object, None] = OrderedDict()
        # Called when a turn opens (the GPU energy meter reads its counters then).
        self.on_turn_open: Callable[[], None] = lambda: None

    @callback
    def start(self) -> None:
        """Subscribe to every chat log, if this Home Assistant offers the subscription."""
        try:
            from homeassistant.components.conversation import chat_log, trace  # noqa: PLC0415

            subscribe = chat_log.async_subscribe_chat_logs
        except ImportError, AttributeError:
            LOGGER.warning(
                "Chat log subscriptions are not available: agent requests are not measured"
            )
            return
        # Private helpers, used only where present: the live logs (to see turns end that no
        # event reports) and the running trace (for provider token counts).
        if (logs_key := getattr(chat_log, "DATA_CHAT_LOGS", None)) is not None:
            self._live_logs = lambda: self.hass.data.get(logs_key)
        if (current := getattr(trace, "_current_trace", None)) is not None:
            self._current_trace = current.get
        if (recent := getattr(trace, "async_get_traces", None)) is not None:
            self._recent_traces = recent
        self._unsubscribe = subscribe(self.hass, self._on_chat_log_event)
        self.available = True

    @callback
    def stop(self) -> None:
        """Unsubscribe and stop timers; turns still open are dropped."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._cancel_settle is not None:
            self._cancel_settle()
            self._cancel_settle = None
        self._turns.clear()

    @property
    def open_turns(self) -> int:
        """Return how many turns are being followed now."""
        return len(self._turns)

    def oldest_open_start(self) -> float | None:
        """Return when the oldest turn still open started, or None when none is."""
        return min((turn.start for turn in self._turns.values()), default=None)

    @callback
    def _on_chat_log_event(
        self, conversation_id: str, event_type: str, data: dict[str, Any]
    ) -> None:
        # Called inside the user's conversation: an exception here would break it.
        try:
            self._handle(conversation_id, event_type, data)
        except Exception:  # noqa: BLE001 - never break the conversation we measure
            self.callback_errors += 1
            if self.callback_errors == 1:
                LOGGER.exception("Could not read a chat log event; measuring goes on")

    def _handle(
        self, conversation_id: str, event_type: str, data: dict[str, Any]
    ) -> None:
        turn = self._turns.get(conversation_id)
        if event_type == "content_added":
            content = data["content"]
            if (start := user_start(content)) is not None:
                if turn is not None:  # the previous turn is over: see how it ended
                    self._finish(self._read_live_log(turn, previous_turn=True))
                self._open(conversation_id, start)
            elif turn is not None:
                turn.add(content)
                turn.seen_at = time.monotonic()
                if turn.trace is None:  # an agent adding messages runs in its trace
                    turn.trace = self._take_trace(self._current_trace())
                if turn.answered:
                    self._arm()
        elif event_type == "updated" and turn is not None:
            self._adopt(turn, data["chat_log"]["content"])
        elif event_type == "deleted" and turn is not None:
            self._finish(turn)

    def _open(self, conversation_id: str, start: float) -> None:
        if len(self._turns) >= MAX_OPEN_TURNS:
            oldest = next(iter(self._turns.values()))
            if oldest.end is None:
                del self._turns[oldest.conversation_id]
                self.dropped += 1
            else:
                self._finish(oldest)
        self._turns[conversation_id] = Turn(
            conversation_id,
            start,
            seen_at=time.monotonic(),
            opened_at=time.monotonic(),
            trace=self._take_trace(self._current_trace()),
        )
        self._arm()
        self.on_turn_open()

    def _adopt(self, turn: Turn, contents: Any) -> Turn:
        """Take the turn's messages from a whole log, when it shows them answered."""
        replayed = replay_turn(turn.conversation_id, turn.start, contents)
        if replayed is None or replayed.end is None:
            return turn
        replayed.trace = turn.trace
        replayed.opened_at = turn.opened_at
        replayed.seen_at = turn.seen_at
        replayed.answered = True
        self._turns[turn.conversation_id] = replayed
        self._arm()
        return replayed

    def _read_live_log(self, turn: Turn, *, previous_turn: bool = False) -> Turn:
        """Read the turn from its live chat log, where no event told how it ended.

        A log in the middle of a turn (2026.11 marks it active) is left alone, unless the turn
        asked about is the previous one of that log.
        """
        log = (self._live_logs() or {}).get(turn.conversation_id)
        if log is None or (getattr(log, "turn_active", False) and not previous_turn):
            return turn
        return self._adopt(turn, log.content)

    @callback
    def _arm(self) -> None:
        if self._cancel_settle is None and self._turns:
            self._cancel_settle = async_call_later(self.hass, SETTLE_S, self._settle)

    @callback
    def _settle(self, _now: Any) -> None:
        """Finish the turns that are over; keep checking while any is open."""
        self._cancel_settle = None
        now = time.monotonic()
        for open_turn in list(self._turns.values()):
            turn = open_turn if open_turn.answered else self._read_live_log(open_turn)
            if turn.trace is None:
                turn.trace = self._find_trace(turn)
            quiet = now - turn.seen_at >= SETTLE_S
            trace_done = (
                turn.trace is None
                or getattr(turn.trace, "_result", None)
                or now - turn.seen_at >= TRACE_WAIT_S
            )
            if turn.answered and quiet and trace_done:
                self._finish(turn)
            elif now - turn.opened_at >= TURN_TIMEOUT_S:
                self._give_up(turn)
        self._arm()

    def _give_up(self, turn: Turn) -> None:
        if turn.end is not None:
            self._finish(turn)
            return
        del self._turns[turn.conversation_id]
        self.abandoned += 1

    def _finish(self, turn: Turn) -> None:
        """Record the turn as one request, exactly once."""
        del self._turns[turn.conversation_id]
        if turn.agent_id is None or turn.end is None:
            self.abandoned += 1
            return
        tokens: dict[str, int] = {}
        error = turn.error
        if turn.trace is None:
            turn.trace = self._find_trace(turn)
        if turn.trace is not None:
            tokens = token_stats(_trace_events(turn.trace))
            error = result_error(getattr(turn.trace, "_result", None)) or error
        is_ai_task = turn.agent_id.startswith(AI_TASK_PREFIX)
        model = agent_model(self.hass, turn.agent_id)
        self.ledger.add(
            RequestRecord(
                id=ulid_util.ulid_now(),
                source=RequestSource.AI_TASK if is_ai_task else RequestSource.AGENT,
                subject=turn.agent_id,
                agent_id=turn.agent_id,
                model=model,
                conversation_id=turn.conversation_id,
                start=turn.start,
                end=max(turn.end, turn.start),
                tool_calls=turn.tool_calls,
                tool_failures=turn.tool_failures,
                processed_locally=turn.agent_id == LOCAL_AGENT,
                error=error,
                input_tokens=tokens.get("input_tokens"),
                output_tokens=tokens.get("output_tokens"),
                cached_input_tokens=tokens.get("cached_input_tokens"),
            ),
            name=_friendly_name(self.hass, turn.agent_id),
        )

    def _take_trace(self, trace: Any) -> Any:
        """Return ``trace`` for a turn, unless another turn took it already."""
        if trace is None or _trace_key(trace) in self._taken_traces:
            return None
        self._taken_traces[_trace_key(trace)] = None
        while len(self._taken_traces) > MAX_TAKEN_TRACES:
            self._taken_traces.popitem(last=False)
        return trace

    def _find_trace(self, turn: Turn) -> Any:
        """Return the recent trace of the turn's agent call, where a pipeline made one.

        Never the trace running now (the next turn's, when this one is finished by its
        successor's message) nor one that began after this turn's answer.
        """
        running = self._current_trace()
        for trace in reversed(self._recent_traces()):
            if trace is running or _trace_key(trace) in self._taken_traces:
                continue
            events = _trace_events(trace)
            if not events or events[0][0] != "async_process":
                continue
            data = events[0][1] or {}
            began = _trace_start(trace)
            if (
                data.get("conversation_id") == turn.conversation_id
                and began is not None
                and began >= turn.start - TRACE_CLOCK_SLACK_S
                and (turn.end is None or began <= turn.end)
            ):
                return self._take_trace(trace)
        return None


def _trace_key(trace: Any) -> object:
    """Return what tells a trace from every other."""
    return getattr(trace, "trace_id", None) or id(trace)


def _trace_start(trace: Any) -> float | None:
    """Return when a trace's first event was written (seconds since the epoch)."""
    stamp: Any = None
    if (events := getattr(trace, "_events", None)) is not None:
        stamp = getattr(events[0], "timestamp", None) if events else None
    elif events := trace.as_dict()["events"]:
        stamp = events[0].get("timestamp")
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except TypeError, ValueError:
        return None


def _trace_events(trace: Any) -> list[tuple[str, Any]]:
    """Return a conversation trace's events as (type, data) pairs, without copying them."""
    if (events := getattr(trace, "_events", None)) is not None:
        return [(str(event.event_type), event.data) for event in events]
    return [(str(e["event_type"]), e["data"]) for e in trace.as_dict()["events"]]


def _friendly_name(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.name
