"""Turns of a conversation, assembled from chat-log content, and token stats from traces.

Content comes either as the dictionaries of chat-log events (``content.as_dict()``) or as the
content objects of a live chat log, so every field is read through ``_field``. A turn starts at
the user's message and ends at the last assistant or tool-result message after it.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

# The trace events that carry provider token counts, and the keys we sum from them.
AGENT_DETAIL: Final = "agent_detail"
TOKEN_KEYS: Final = ("input_tokens", "output_tokens", "cached_input_tokens")
# Home Assistant 2026.11 ends a turn that raised with an assistant message starting so.
ERROR_PREFIX: Final = "Error: "
ERROR_EXCEPTION: Final = "exception"


def _field(content: Any, name: str) -> Any:
    if isinstance(content, Mapping):
        return content.get(name)
    return getattr(content, name, None)


def _timestamp(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


@dataclass(slots=True)
class Turn:
    """One user request to an agent, as far as the chat log has shown it."""

    conversation_id: str
    start: float
    # When the turn was opened and last changed (monotonic): to settle it, or give up on it.
    opened_at: float = 0.0
    seen_at: float = 0.0
    agent_id: str | None = None
    end: float | None = None
    # True when the newest message is an assistant answer with no tool calls left to run.
    answered: bool = False
    tool_calls: int = 0
    tool_failures: int = 0
    error: str | None = None
    # The conversation trace the turn runs in, where there is one (token stats, result).
    trace: Any = None

    def add(self, content: Any) -> None:
        """Take in one assistant or tool-result message of this turn."""
        role = _field(content, "role")
        if role not in ("assistant", "tool_result"):
            return
        self.agent_id = self.agent_id or _field(content, "agent_id")
        self.end = _timestamp(_field(content, "created")) or self.end
        if role == "tool_result":
            self.answered = False
            if _field(_field(content, "result"), "error"):
                self.tool_failures += 1
            return
        # External tool calls were already run by the agent (the built-in agent reports its
        # intent so): they are neither LLM tool calls nor anything left to wait for.
        to_run = [
            c for c in _field(content, "tool_calls") or () if not _field(c, "external")
        ]
        self.tool_calls += len(to_run)
        self.answered = not to_run
        text = _field(content, "content")
        if isinstance(text, str) and text.startswith(ERROR_PREFIX):
            self.error = ERROR_EXCEPTION


def user_start(content: Any) -> float | None:
    """Return when a user message was written, or None when ``content`` is not one."""
    if _field(content, "role") != "user":
        return None
    return _timestamp(_field(content, "created"))


def replay_turn(
    conversation_id: str, start: float, contents: Sequence[Any]
) -> Turn | None:
    """Rebuild the turn that started with the user message written at ``start``.

    Return None when ``contents`` (a whole chat log) does not hold that message.
    """
    for index in range(len(contents) - 1, -1, -1):
        if user_start(contents[index]) == start:
            turn = Turn(conversation_id, start)
            for content in contents[index + 1 :]:
                if _field(content, "role") == "user":
                    break
                turn.add(content)
            return turn
    return None


def token_stats(events: Iterable[tuple[str, Any]]) -> dict[str, int]:
    """Sum the token counts of a trace's agent-detail events (one per LLM call of a turn).

    ``events`` are (event type, data) pairs. Only the counts a provider reported are returned.
    """
    totals: dict[str, int] = {}
    for event_type, data in events:
        if event_type != AGENT_DETAIL or not isinstance(data, Mapping):
            continue
        stats = data.get("stats")
        if not isinstance(stats, Mapping):
            continue
        for key in TOKEN_KEYS:
            value = stats.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                totals[key] = totals.get(key, 0) + value
    return totals


def result_error(result: Mapping[str, Any] | None) -> str | None:
    """Return the error code of a conversation result, or None when it succeeded."""
    if not result:
        return None
    response = result.get("response") or {}
    if response.get("response_type") != "error":
        return None
    return str((response.get("data") or {}).get("code") or "unknown")
