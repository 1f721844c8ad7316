"""Assist pipeline runs: stage timings of one finished run, from its recorded events.

Events are read duck-typed (``.type``, ``.data``, ``.timestamp``: a UTC ISO string), as Home
Assistant's pipeline debug store keeps them. Home Assistant does not record text-to-speech
synthesis: tts-start to tts-end is about 0 ms, because synthesis starts when a player fetches the
audio. So the pipeline's latency stops at the start of the answer, and TTS time is not measured.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from .requests import RequestRecord, RequestSource

RUN_START: Final = "run-start"
RUN_END: Final = "run-end"
STT_VAD_END: Final = "stt-vad-end"
STT_END: Final = "stt-end"
INTENT_START: Final = "intent-start"
INTENT_PROGRESS: Final = "intent-progress"
INTENT_END: Final = "intent-end"
TTS_START: Final = "tts-start"
ERROR: Final = "error"


class RunShapeError(ValueError):
    """The recorded events do not have the shape this version understands."""


def is_finished(events: Sequence[Any]) -> bool:
    """Return True when a run's events end with run-end."""
    return bool(events) and str(events[-1].type) == RUN_END


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start) * 1000, 3)


@dataclass(slots=True)
class _RunFacts:
    """What the events of one run say, gathered event by event."""

    first: dict[str, float] = field(default_factory=dict)
    ttft_at: float | None = None
    answer_at: float | None = None
    processed_locally: bool | None = None
    error: str | None = None
    agent_id: str | None = None
    conversation_id: str | None = None
    tool_calls: int = 0

    def take(self, kind: str, at: float, data: dict[str, Any]) -> None:
        self.first.setdefault(kind, at)
        if kind == RUN_START:
            self.conversation_id = data.get("conversation_id")
        elif kind == INTENT_START:
            self.agent_id = data.get("engine")
            self.conversation_id = data.get("conversation_id") or self.conversation_id
        elif kind == INTENT_PROGRESS:
            self._take_progress(at, data)
        elif kind == INTENT_END:
            self.processed_locally = data.get("processed_locally")
            response = (data.get("intent_output") or {}).get("response") or {}
            if response.get("response_type") == "error" and self.error is None:
                self.error = str((response.get("data") or {}).get("code") or "unknown")
        elif kind == ERROR:
            self.error = str(data.get("code") or "unknown")

    def _take_progress(self, at: float, data: dict[str, Any]) -> None:
        delta = data.get("chat_log_delta") or {}
        if self.ttft_at is None and delta.get("content"):
            self.ttft_at = at
        self.tool_calls += len(delta.get("tool_calls") or ())
        if self.answer_at is None and data.get("tts_start_streaming"):
            self.answer_at = at


def pipeline_record(
    record_id: str, pipeline_id: str, events: Sequence[Any]
) -> RequestRecord:
    """Return the request record of one finished pipeline run.

    Raise RunShapeError when the events are not shaped as expected (the internals changed).
    """
    facts = _RunFacts()
    try:
        for event in events:
            at = datetime.fromisoformat(event.timestamp).timestamp()
            facts.take(str(event.type), at, event.data or {})
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        msg = f"unexpected pipeline event: {err}"
        raise RunShapeError(msg) from err
    first = facts.first
    if RUN_START not in first or RUN_END not in first:
        msg = "a finished run needs run-start and run-end"
        raise RunShapeError(msg)

    intent_start = first.get(INTENT_START)
    # Speech ends when voice activity detection says so; without it, at the transcript.
    speech_end = first.get(STT_VAD_END) or first.get(STT_END)
    answer_at = facts.answer_at or first.get(TTS_START)
    return RequestRecord(
        id=record_id,
        source=RequestSource.ASSIST,
        subject=pipeline_id,
        start=first[RUN_START],
        end=first[RUN_END],
        agent_id=facts.agent_id,
        conversation_id=facts.conversation_id,
        ttft_ms=_ms(intent_start, facts.ttft_at),
        stt_ms=_ms(first.get(STT_VAD_END), first.get(STT_END)),
        agent_ms=_ms(intent_start, first.get(INTENT_END)),
        perceived_ms=_ms(speech_end, answer_at),
        tool_calls=facts.tool_calls,
        processed_locally=facts.processed_locally,
        error=facts.error,
    )
