"""Where a request's time went: its stages, and the slowest recent request of a subject.

A request is split into the stages a user can act on: speech-to-text, waiting for the model to
load (a cold start), reading the prompt (until the first token), writing the answer, and the
start of speech after it (text-to-speech). An agent that gives no first-token time (the
built-in intents) is one stage, "the agent". Stages never overlap; a stage not measured is left
out rather than guessed.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from .requests import RequestRecord, RequestSource


class Stage(StrEnum):
    """A stage of a request, in the order it runs."""

    SPEECH_TO_TEXT = "speech_to_text"
    MODEL_LOAD = "model_load"
    PROMPT = "prompt_processing"
    GENERATION = "generation"
    AGENT = "agent"
    SPEECH_START = "speech_start"


@dataclass(frozen=True, slots=True)
class SlowestRequest:
    """The slowest recent request of a subject and where its time went."""

    record: RequestRecord
    # How long the user waited: from the end of speech where a pipeline says, else the request.
    waited_ms: float
    stages: dict[Stage, float]

    @property
    def stage(self) -> Stage | None:
        """Return the stage that took longest (None when nothing was broken down)."""
        return max(self.stages, key=self.stages.__getitem__) if self.stages else None


def _agent_stages(record: RequestRecord, agent_ms: float) -> dict[Stage, float]:
    """Split the agent's time at its first token; the whole agent where there is none."""
    ttft = record.ttft_ms
    if ttft is None or not 0 <= ttft <= agent_ms:
        return {Stage.AGENT: agent_ms}
    stages: dict[Stage, float] = {}
    load = record.load_ms
    if load is not None and 0 < load <= ttft:
        stages[Stage.MODEL_LOAD] = load
        stages[Stage.PROMPT] = ttft - load
    elif record.cold:
        # The server said the model was not loaded: the wait for the first token was mostly
        # the load, and it cannot be split further.
        stages[Stage.MODEL_LOAD] = ttft
    else:
        stages[Stage.PROMPT] = ttft
    stages[Stage.GENERATION] = agent_ms - ttft
    return stages


def request_stages(record: RequestRecord) -> dict[Stage, float]:
    """Return the time of each measured stage of ``record``, in ms (rounded to 0.1 ms)."""
    pipeline = record.source is RequestSource.ASSIST
    stages: dict[Stage, float] = {}
    if record.stt_ms is not None:
        stages[Stage.SPEECH_TO_TEXT] = record.stt_ms
    agent_ms = record.agent_ms if pipeline else record.duration_ms
    if agent_ms is not None:
        stages |= _agent_stages(record, agent_ms)
    if pipeline and record.perceived_ms is not None:
        # End of speech to the first sound: what speech-to-text and the agent did not take.
        rest = record.perceived_ms - (record.stt_ms or 0.0) - (agent_ms or 0.0)
        if rest > 0:
            stages[Stage.SPEECH_START] = rest
    return {stage: round(ms, 1) for stage, ms in stages.items() if ms > 0}


def slowest_request(
    records: Iterable[RequestRecord], since: float
) -> SlowestRequest | None:
    """Return the request that kept its user waiting longest among those ended after ``since``."""
    slowest: SlowestRequest | None = None
    for record in records:
        if record.end <= since:
            continue
        waited = (
            record.perceived_ms
            if record.perceived_ms is not None
            else record.duration_ms
        )
        if slowest is None or waited > slowest.waited_ms:
            slowest = SlowestRequest(record, waited, {})
    if slowest is None:
        return None
    return SlowestRequest(
        slowest.record, slowest.waited_ms, request_stages(slowest.record)
    )
