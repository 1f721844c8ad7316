"""Where a request's time went: its stages, and the slowest recent request."""

import pytest

from custom_components.ai_performance.engine.requests import (
    RequestRecord,
    RequestSource,
)
from custom_components.ai_performance.engine.stages import (
    Stage,
    request_stages,
    slowest_request,
)


def _record(
    source: RequestSource = RequestSource.AGENT, **kwargs: float
) -> RequestRecord:
    start = float(kwargs.pop("start", 1000.0))
    duration_s = float(kwargs.pop("duration_s", 2.0))
    return RequestRecord(
        id="r",
        source=source,
        subject="s",
        start=start,
        end=start + duration_s,
        **kwargs,  # type: ignore[arg-type]
    )


def test_an_agent_request_splits_at_its_first_token() -> None:
    stages = request_stages(_record(ttft_ms=500.0, duration_s=2.0))
    assert stages == {Stage.PROMPT: 500.0, Stage.GENERATION: 1500.0}


def test_a_reported_model_load_is_taken_out_of_the_prompt() -> None:
    stages = request_stages(_record(ttft_ms=1500.0, load_ms=1200.0, duration_s=2.0))
    assert stages == {
        Stage.MODEL_LOAD: 1200.0,
        Stage.PROMPT: 300.0,
        Stage.GENERATION: 500.0,
    }


def test_a_request_that_found_its_model_unloaded_waited_for_the_load() -> None:
    stages = request_stages(_record(ttft_ms=1500.0, model_loaded=False))
    assert stages == {Stage.MODEL_LOAD: 1500.0, Stage.GENERATION: 500.0}


def test_an_agent_without_a_first_token_is_one_stage() -> None:
    assert request_stages(_record(duration_s=0.25)) == {Stage.AGENT: 250.0}


def test_a_voice_run_adds_speech_to_text_and_the_start_of_speech() -> None:
    record = _record(
        RequestSource.ASSIST,
        stt_ms=400.0,
        agent_ms=1000.0,
        ttft_ms=300.0,
        perceived_ms=1900.0,
        duration_s=3.0,
    )
    assert request_stages(record) == {
        Stage.SPEECH_TO_TEXT: 400.0,
        Stage.PROMPT: 300.0,
        Stage.GENERATION: 700.0,
        Stage.SPEECH_START: 500.0,
    }


def test_a_first_token_after_the_agent_ended_is_not_trusted() -> None:
    record = _record(RequestSource.ASSIST, agent_ms=200.0, ttft_ms=900.0)
    assert request_stages(record) == {Stage.AGENT: 200.0}


def test_the_slowest_request_is_the_longest_wait_within_the_window() -> None:
    old = _record(start=0.0, duration_s=60.0)
    quick = _record(start=1000.0, duration_s=0.5)
    slow = _record(start=1010.0, duration_s=3.0, ttft_ms=2500.0)
    # A voice run is judged by its wait after speech, not by how long its audio played.
    voice = _record(
        RequestSource.ASSIST, start=1020.0, duration_s=9.0, perceived_ms=1000.0
    )

    slowest = slowest_request([old, quick, slow, voice], since=100.0)

    assert slowest is not None
    assert slowest.record is slow
    assert slowest.waited_ms == pytest.approx(3000.0)
    assert slowest.stage is Stage.PROMPT
    assert slowest_request([old], since=100.0) is None
