"""Recommendations: each rule with the numbers it quotes, its action, and properties of all."""

from dataclasses import replace

from hypothesis import given, strategies as st
import numpy as np
import pytest

from custom_components.ai_performance.engine.recommend import (
    IDLE_S,
    KEEP_ALIVE_MAX_S,
    KEEP_ALIVE_MIN_S,
    ActionKind,
    AgentEvidence,
    Evidence,
    GpuEvidence,
    Kind,
    ModelAction,
    ServedModel,
    Severity,
    agent_evidence,
    recommend,
    suggested_keep_alive,
)
from custom_components.ai_performance.engine.requests import (
    RequestLog,
    RequestRecord,
    RequestSource,
)
from custom_components.ai_performance.engine.usage import UsageProfile

NOW = 1_800_000_000.0
TODAY = 739_000
GIB = 1024**3
SERVER = "01JSERVER"


def _model(name: str = "qwen3:8b", **changes: object) -> ServedModel:
    model = ServedModel(
        server_id=SERVER,
        server_name="Ollama",
        model=name,
        loaded=True,
        size_bytes=6 * GIB,
        vram_bytes=6 * GIB,
        expires_at=NOW + 300,
        last_used=NOW - 60,
    )
    return replace(model, **changes)


def _agent(**changes: object) -> AgentEvidence:
    agent = AgentEvidence(
        subject="conversation.ollama",
        name="Ollama",
        requests=40,
        cold_requests=0,
        warm_latency_p50_ms=1200.0,
    )
    return replace(agent, **changes)


def _evidence(**changes: object) -> Evidence:
    return replace(
        Evidence(now=NOW, today=TODAY, seconds_into_day=12 * 3600), **changes
    )


def _only(evidence: Evidence) -> object:
    found = recommend(evidence)
    assert len(found) == 1, found
    return found[0]


def test_nothing_to_recommend_on_healthy_evidence() -> None:
    evidence = _evidence(
        agents=[_agent()],
        models=[_model()],
        gpus=[GpuEvidence("gpu-1", "RTX 4090", memory_used_percent=60.0)],
        exposed_entities=20,
    )
    assert recommend(evidence) == []


def test_cold_starts_raise_keep_alive_of_a_loaded_model() -> None:
    agent = _agent(
        cold_requests=8,
        cold_latency_p50_ms=31_000.0,
        gap_p90_s=2500.0,
        served=_model(),
    )
    item = _only(_evidence(agents=[agent]))

    assert item.kind is Kind.COLD_STARTS
    assert item.id == "cold_starts:conversation.ollama"
    assert item.severity is Severity.WARNING  # 8 of 40 = 20 %
    assert item.rationale == (
        "8 of 40 requests to Ollama in the last day found the model unloaded and took "
        "31.0 s (median) instead of 1.2 s. 90 % of the gaps between its requests are "
        "under 42 min."
    )
    # 2500 s rounded up to 5-minute steps: 45 min.
    assert item.action == ModelAction(ActionKind.KEEP_ALIVE, SERVER, "qwen3:8b", 2700)
    assert "for 45 min" in item.expected_effect
    assert "29.8 s each" in item.expected_effect


def test_cold_starts_preload_an_unloaded_model_and_turn_critical() -> None:
    agent = _agent(
        cold_requests=15,
        cold_latency_p50_ms=31_000.0,
        served=_model(loaded=False, expires_at=None),
    )
    item = _only(_evidence(agents=[agent]))

    assert item.severity is Severity.CRITICAL  # 15 of 40
    assert item.action == ModelAction(ActionKind.PRELOAD, SERVER, "qwen3:8b", 3600)


def test_cold_starts_of_a_model_kept_for_good_or_on_an_unwatched_server_need_no_action() -> (
    None
):
    agent = _agent(cold_requests=15, cold_latency_p50_ms=31_000.0)
    assert _only(_evidence(agents=[agent])).action is None
    kept = replace(agent, served=_model(expires_at=None))
    assert _only(_evidence(agents=[kept])).action is None


@pytest.mark.parametrize(
    ("cold_requests", "cold_ms"),
    [(2, 31_000.0), (3, 31_000.0), (8, 2000.0)],
    ids=["too_few", "too_rare", "not_slower"],
)
def test_cold_starts_that_do_not_dominate_are_left_alone(
    cold_requests: int, cold_ms: float
) -> None:
    agent = _agent(
        requests=40 if cold_requests != 3 else 100,
        cold_requests=cold_requests,
        cold_latency_p50_ms=cold_ms,
    )
    assert recommend(_evidence(agents=[agent])) == []


def _habit(*hours: int, days: int = 7) -> UsageProfile:
    profile = UsageProfile()
    for day in range(TODAY - days + 1, TODAY + 1):
        for hour in hours:
            profile.add(day, hour)
    return profile


def test_predictive_preload_acts_only_just_before_the_usual_hours() -> None:
    agent = _agent(
        cold_requests=1,
        served=_model(loaded=False, expires_at=None),
        usage=_habit(7, 8, 18),
    )
    # 06:52: the 07:00-09:00 block starts in 8 minutes.
    early = _only(_evidence(agents=[agent], seconds_into_day=6 * 3600 + 52 * 60))
    assert early.kind is Kind.PREDICTIVE_PRELOAD
    assert early.severity is Severity.INFO
    assert early.rationale == (
        "Ollama is used 07:00-09:00, 18:00-19:00 on at least 7 of the last 7 days, and 1 "
        "of its requests in the last day waited for qwen3:8b to load."
    )
    # Loaded until the end of the block: 8 minutes plus 2 hours.
    assert early.action == ModelAction(
        ActionKind.PRELOAD, SERVER, "qwen3:8b", 8 * 60 + 2 * 3600
    )
    # 12:00: the next block (18:00) is far off; advice only.
    noon = _only(_evidence(agents=[agent]))
    assert noon.action is None
    assert "before 18:00" in noon.expected_effect
    # Already loaded: nothing to do.
    loaded = replace(agent, served=_model())
    evidence = _evidence(agents=[loaded], seconds_into_day=6 * 3600 + 52 * 60)
    assert _only(evidence).action is None


def test_predictive_preload_needs_a_habit_and_cold_starts() -> None:
    served = _model(loaded=False, expires_at=None)
    no_habit = _agent(cold_requests=2, served=served, usage=_habit(7, days=2))
    never_cold = _agent(cold_requests=0, served=served, usage=_habit(7))
    always = _agent(cold_requests=2, served=served, usage=_habit(*range(24)))
    assert recommend(_evidence(agents=[no_habit, never_cold, always])) == []


def test_vram_pressure_unloads_the_least_recently_used_idle_model() -> None:
    models = [
        _model("qwen3:8b", last_used=NOW - 60),  # in use
        _model(
            "llama3.2:3b", last_used=NOW - 7200, vram_bytes=3 * GIB, size_bytes=3 * GIB
        ),
        _model("gemma3:4b", last_used=NOW - 3600),
        _model("phi4:14b", loaded=False, last_used=NOW - 90_000),
    ]
    gpu = GpuEvidence("gpu-1", "RTX 4090", memory_used_percent=98.5)
    item = _only(_evidence(models=models, gpus=[gpu]))

    assert item.kind is Kind.VRAM_PRESSURE
    assert item.severity is Severity.CRITICAL
    assert item.subject == "gpu-1"
    assert item.action == ModelAction(ActionKind.UNLOAD, SERVER, "llama3.2:3b")
    assert item.rationale == (
        "RTX 4090 has 98.5 % of its memory in use while 2 loaded model(s) sit idle; "
        "llama3.2:3b on Ollama is the least recently used (unused for 2 h)."
    )
    assert "about 3.0 GiB" in item.expected_effect


def test_vram_pressure_without_idle_models_recommends_nothing() -> None:
    gpu = GpuEvidence("gpu-1", "RTX 4090", memory_used_percent=95.0)
    busy = _model(last_used=NOW - IDLE_S + 1)
    assert recommend(_evidence(models=[busy], gpus=[gpu])) == []


def test_a_model_partly_on_the_cpu() -> None:
    partial = _model("qwen3:32b", vram_bytes=15 * GIB, size_bytes=20 * GIB)
    partial = replace(partial, quantization="Q4_K_M")
    item = _only(_evidence(models=[partial]))
    assert item.kind is Kind.CPU_OFFLOAD
    assert item.rationale.startswith("Only 75 % of qwen3:32b (Q4_K_M) on Ollama")
    assert "smaller quantization" in item.expected_effect
    assert item.action is None

    idle = _model("llama3.2:3b", last_used=None, vram_bytes=2 * GIB, size_bytes=2 * GIB)
    with_idle = recommend(_evidence(models=[partial, idle]))
    assert [r.kind for r in with_idle] == [Kind.CPU_OFFLOAD]
    assert with_idle[0].action == ModelAction(ActionKind.UNLOAD, SERVER, "llama3.2:3b")
    # A CPU-only server (no VRAM at all) is not a problem to fix.
    assert recommend(_evidence(models=[_model(vram_bytes=0)])) == []


def test_large_prompts_quote_the_exposed_entities() -> None:
    agent = _agent(input_tokens_mean=9000.0, prompt_requests=40)
    item = _only(_evidence(agents=[agent], exposed_entities=240))
    assert item.kind is Kind.LARGE_PROMPTS
    assert item.rationale == (
        "Prompts to Ollama average 9,000 input tokens, and 240 entities are exposed to "
        "Assist: their list takes an estimated 6,000 tokens of each prompt."
    )
    assert "about 3,000 tokens" in item.expected_effect
    assert recommend(_evidence(agents=[agent], exposed_entities=30)) == []
    assert recommend(_evidence(agents=[agent])) == []


def test_low_prompt_cache_hit() -> None:
    agent = _agent(input_tokens_mean=3000.0, prompt_requests=40, cache_hit_percent=5.0)
    item = _only(_evidence(agents=[agent]))
    assert item.kind is Kind.LOW_CACHE_HIT
    assert item.rationale == (
        "Only 5.0 % of Ollama's input tokens came from the prompt cache, with prompts of "
        "3,000 tokens on average."
    )
    short = replace(agent, input_tokens_mean=500.0)
    assert recommend(_evidence(agents=[short])) == []


@pytest.mark.parametrize(
    ("errors", "severity"), [(4, Severity.WARNING), (10, Severity.CRITICAL)]
)
def test_high_error_rate_suggests_a_fallback(errors: int, severity: Severity) -> None:
    item = _only(_evidence(agents=[_agent(errors=errors)]))
    assert item.kind is Kind.HIGH_ERROR_RATE
    assert item.severity is severity
    assert f"{errors} of 40 requests" in item.rationale
    assert "fallback agent" in item.expected_effect
    assert recommend(_evidence(agents=[_agent(requests=5, errors=5)])) == []


def test_gpu_throttling_by_heat_or_power() -> None:
    hot = GpuEvidence(
        "gpu-1", "RTX 4090", throttle_reasons=("hw_thermal_slowdown",), temperature_c=91
    )
    item = _only(_evidence(gpus=[hot]))
    assert item.kind is Kind.GPU_THROTTLING
    assert "too hot at 91 °C" in item.rationale
    assert "cooling" in item.expected_effect

    capped = GpuEvidence(
        "gpu-1", "RTX 4090", throttle_reasons=("sw_power_cap",), power_limit_w=450
    )
    assert "power limit of 450 W" in _only(_evidence(gpus=[capped])).rationale
    idle = GpuEvidence("gpu-1", "RTX 4090", throttle_reasons=("gpu_idle",))
    assert recommend(_evidence(gpus=[idle])) == []


def test_most_severe_first() -> None:
    evidence = _evidence(
        agents=[
            _agent(subject="conversation.a", errors=4),  # warning
            _agent(subject="conversation.b", errors=12),  # critical
        ],
        gpus=[GpuEvidence("gpu-1", "GPU", throttle_reasons=("sw_power_cap",))],
    )
    found = recommend(evidence)
    assert [r.severity for r in found] == [
        Severity.CRITICAL,
        Severity.WARNING,
        Severity.WARNING,
    ]
    assert found[0].as_dict()["id"] == "high_error_rate:conversation.b"
    assert found[0].as_dict()["action"] is None


def test_as_dict_describes_the_action() -> None:
    agent = _agent(
        cold_requests=15, cold_latency_p50_ms=31_000.0, served=_model(loaded=False)
    )
    action = _only(_evidence(agents=[agent])).as_dict()["action"]
    assert action == {
        "kind": "preload",
        "server_id": SERVER,
        "model": "qwen3:8b",
        "keep_alive_s": 3600,
        "description": "load qwen3:8b loaded for 1 h",
    }
    assert ModelAction(ActionKind.KEEP_ALIVE, SERVER, "m", -1).describe() == (
        "keep m loaded for good"
    )
    assert ModelAction(ActionKind.UNLOAD, SERVER, "m").describe() == "unload m"


@given(st.one_of(st.none(), st.floats(0, 1e7)))
def test_suggested_keep_alive_is_bounded_and_in_steps(gap: float | None) -> None:
    keep_alive = suggested_keep_alive(gap)
    assert KEEP_ALIVE_MIN_S <= keep_alive <= KEEP_ALIVE_MAX_S
    assert keep_alive % 300 == 0
    if gap is not None and KEEP_ALIVE_MIN_S <= gap <= KEEP_ALIVE_MAX_S:
        assert keep_alive >= gap


_models = st.builds(
    ServedModel,
    server_id=st.just(SERVER),
    server_name=st.just("Ollama"),
    model=st.sampled_from(["a:1b", "b:3b", "c:8b", "d:14b"]),
    loaded=st.booleans(),
    size_bytes=st.integers(0, 40 * GIB),
    vram_bytes=st.integers(0, 40 * GIB),
    expires_at=st.one_of(st.none(), st.floats(NOW - 10, NOW + 10_000)),
    last_used=st.one_of(st.none(), st.floats(NOW - 100_000, NOW)),
)
_agents = st.builds(
    AgentEvidence,
    subject=st.sampled_from(["conversation.a", "conversation.b", "ai_task.c"]),
    name=st.just("Agent"),
    requests=st.integers(1, 500),
    errors=st.integers(0, 50),
    cold_requests=st.integers(0, 50),
    cold_latency_p50_ms=st.one_of(st.none(), st.floats(0, 120_000)),
    warm_latency_p50_ms=st.one_of(st.none(), st.floats(0, 20_000)),
    gap_p90_s=st.one_of(st.none(), st.floats(0, 86_400)),
    input_tokens_mean=st.one_of(st.none(), st.floats(0, 50_000)),
    prompt_requests=st.integers(0, 500),
    cache_hit_percent=st.one_of(st.none(), st.floats(0, 100)),
    served=st.one_of(st.none(), _models),
)
_gpus = st.builds(
    GpuEvidence,
    key=st.just("gpu-1"),
    name=st.just("GPU"),
    memory_used_percent=st.one_of(st.none(), st.floats(0, 100)),
    throttle_reasons=st.lists(
        st.sampled_from(["gpu_idle", "sw_power_cap", "hw_thermal_slowdown"]), max_size=2
    ).map(tuple),
)


@given(
    st.lists(_agents, max_size=3),
    st.lists(_models, max_size=4, unique_by=lambda m: m.model),
    st.lists(_gpus, max_size=1),
    st.one_of(st.none(), st.integers(0, 1000)),
    st.floats(0, 86_399),
)
def test_recommendations_are_ordered_deterministic_and_act_only_on_served_models(
    agents: list[AgentEvidence],
    models: list[ServedModel],
    gpus: list[GpuEvidence],
    exposed: int | None,
    seconds: float,
) -> None:
    evidence = _evidence(
        agents=[
            replace(
                a,
                errors=min(a.errors, a.requests),
                cold_requests=min(a.cold_requests, a.requests),
            )
            for a in agents
        ],
        models=models,
        gpus=gpus,
        exposed_entities=exposed,
        seconds_into_day=seconds,
    )
    found = recommend(evidence)

    assert found == recommend(evidence)
    order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
    assert [order[r.severity] for r in found] == sorted(
        order[r.severity] for r in found
    )
    known = {(m.server_id, m.model) for m in models} | {
        (a.served.server_id, a.served.model) for a in agents if a.served
    }
    for item in found:
        assert item.rationale
        assert item.expected_effect
        if item.action is not None:
            assert (item.action.server_id, item.action.model) in known
            if item.action.kind is ActionKind.UNLOAD:
                # Only an idle, loaded model is ever unloaded.
                victim = next(m for m in models if m.model == item.action.model)
                assert victim.loaded
                assert victim.last_used is None or NOW - victim.last_used >= IDLE_S


def _record(end: float, duration_s: float, **values: object) -> RequestRecord:
    return RequestRecord(
        id=str(end),
        source=RequestSource.AGENT,
        subject="conversation.ollama",
        start=end - duration_s,
        end=end,
        **values,
    )


def test_agent_evidence_from_the_request_log() -> None:
    log = RequestLog()
    log.append(_record(NOW - 3000, 30, model_loaded=False, input_tokens=1000))
    log.append(
        _record(
            NOW - 2000,
            2,
            model_loaded=True,
            input_tokens=3000,
            cached_input_tokens=1500,
        )
    )
    log.append(_record(NOW - 1900, 1, model_loaded=True, error="timeout"))
    log.append(_record(NOW - 100, 40, load_ms=35_000.0))  # measured cold start
    log.append(_record(NOW - 50, 3))  # nobody knows

    evidence = agent_evidence(
        "conversation.ollama", "Ollama", log.rows_within(NOW, 86_400)
    )

    assert evidence.requests == 5
    assert evidence.errors == 1
    assert evidence.cold_requests == 2
    assert evidence.cold_latency_p50_ms == pytest.approx(35_000)
    assert evidence.warm_latency_p50_ms == pytest.approx(1500)
    # Gaps 1000, 100, 1800, 50 s: the 90th percentile interpolates to 1560 s.
    assert evidence.gap_p90_s == pytest.approx(1560)
    assert evidence.input_tokens_mean == pytest.approx(2000)
    assert evidence.prompt_requests == 2
    assert evidence.cache_hit_percent == pytest.approx(50.0)


def test_an_answer_such_as_not_understood_is_no_failed_request() -> None:
    log = RequestLog()
    for error in ("no_intent_match", "no_valid_targets", "timeout", None):
        log.append(_record(NOW - 100, 1, error=error))

    evidence = agent_evidence(
        "conversation.ollama",
        "Ollama",
        log.rows_within(NOW, 86_400),
        error_codes=log.error_codes,
        answers=frozenset({"no_intent_match", "no_valid_targets"}),
    )

    assert (evidence.requests, evidence.errors) == (4, 1)


def test_agent_evidence_of_an_empty_log() -> None:
    evidence = agent_evidence("a", "A", np.empty((0, 16)))
    assert evidence.requests == 0
    assert evidence.cold_latency_p50_ms is None
    assert evidence.gap_p90_s is None
    assert evidence.cache_hit_percent is None
