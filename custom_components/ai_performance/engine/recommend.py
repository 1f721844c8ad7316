"""Recommendations: what to change so that the AI answers sooner, from the evidence of now.

``recommend`` looks at one moment's evidence (each agent's last day of requests, the models the
watched Ollama servers hold, each GPU) and returns what to change, each with the numbers that
justify it and the effect to expect. Where a change is safe to make automatically (loading a
model, unloading an idle one, keeping a model loaded longer) it carries that action; everything
else is advice for a person. The same evidence always gives the same recommendations.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Any, Final

import numpy as np

from .gpu import bytes_to_gib
from .requests import column
from .usage import HOURS, UsageProfile, usage_blocks
from .windows import DEFAULT_ANSWER_CODES

# Cold starts: enough of them, often enough, and clearly slower than a warm answer.
MIN_COLD_REQUESTS: Final = 3
COLD_SHARE_WARNING: Final = 0.1
COLD_SHARE_CRITICAL: Final = 0.3
COLD_SLOWDOWN: Final = 2.0
COLD_EXTRA_MS: Final = 1000.0
# The keep-alive suggested covers 90 % of the gaps between requests, within these bounds.
KEEP_ALIVE_MIN_S: Final = 1800
KEEP_ALIVE_MAX_S: Final = 4 * 3600
KEEP_ALIVE_STEP_S: Final = 300
DEFAULT_KEEP_ALIVE_S: Final = 3600
# Predictive preloading: load this long before a usual hour starts.
PRELOAD_LEAD_S: Final = 600
# VRAM pressure: memory in use on a GPU, and how long a model must be unused to count as idle.
VRAM_WARNING_PERCENT: Final = 90.0
VRAM_CRITICAL_PERCENT: Final = 97.0
IDLE_S: Final = 900.0
# Large prompts: mean input tokens, and enough entities exposed to Assist to matter. Each
# exposed entity adds roughly this many tokens to the prompt (name, area, state, aliases).
LARGE_PROMPT_TOKENS: Final = 4000
MIN_EXPOSED_ENTITIES: Final = 50
TOKENS_PER_ENTITY: Final = 25
# Prompt cache: a low hit share on prompts long enough to be worth caching.
LOW_CACHE_HIT_PERCENT: Final = 20.0
CACHEABLE_PROMPT_TOKENS: Final = 1024
# Error rates (%) on enough requests.
MIN_REQUESTS: Final = 10
ERROR_RATE_WARNING: Final = 5.0
ERROR_RATE_CRITICAL: Final = 20.0

THERMAL_REASONS: Final = frozenset({"hw_thermal_slowdown", "sw_thermal_slowdown"})
POWER_REASONS: Final = frozenset({"sw_power_cap", "hw_power_brake_slowdown"})


class Severity(StrEnum):
    """How much a recommendation matters."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_SEVERITY_ORDER: Final = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Kind(StrEnum):
    """What a recommendation is about; each kind is one rule below."""

    COLD_STARTS = "cold_starts"
    PREDICTIVE_PRELOAD = "predictive_preload"
    VRAM_PRESSURE = "vram_pressure"
    CPU_OFFLOAD = "cpu_offload"
    LARGE_PROMPTS = "large_prompts"
    LOW_CACHE_HIT = "low_cache_hit"
    HIGH_ERROR_RATE = "high_error_rate"
    GPU_THROTTLING = "gpu_throttling"


class ActionKind(StrEnum):
    """What an action does to a model on an Ollama server."""

    PRELOAD = "preload"
    UNLOAD = "unload"
    KEEP_ALIVE = "keep_alive"


@dataclass(frozen=True, slots=True)
class ModelAction:
    """A safe change to one model on one server; keep_alive_s -1 keeps it loaded for good."""

    kind: ActionKind
    server_id: str
    model: str
    keep_alive_s: int | None = None

    def describe(self) -> str:
        """Return the action in words."""
        if self.kind is ActionKind.UNLOAD:
            return f"unload {self.model}"
        verb = "load" if self.kind is ActionKind.PRELOAD else "keep"
        return f"{verb} {self.model} loaded {keep_alive_text(self.keep_alive_s)}"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One thing to change, why (with the numbers), what it should bring, and how if safe."""

    kind: Kind
    severity: Severity
    subject: str
    name: str
    rationale: str
    expected_effect: str
    action: ModelAction | None = None

    @property
    def id(self) -> str:
        """Return the id: one recommendation per kind and subject."""
        return f"{self.kind}:{self.subject}"

    def as_dict(self) -> dict[str, Any]:
        """Return the recommendation as an action's response (plain JSON types)."""
        action = self.action
        return {
            "id": self.id,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "subject": self.subject,
            "name": self.name,
            "rationale": self.rationale,
            "expected_effect": self.expected_effect,
            "action": None
            if action is None
            else {
                "kind": action.kind.value,
                "server_id": action.server_id,
                "model": action.model,
                "keep_alive_s": action.keep_alive_s,
                "description": action.describe(),
            },
        }


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A model on a watched Ollama server: loaded now or seen loaded before."""

    server_id: str
    server_name: str
    model: str
    loaded: bool
    size_bytes: int = 0
    vram_bytes: int = 0
    # Wall-clock seconds; None: kept loaded for good (or not loaded).
    expires_at: float | None = None
    # When a request last used it; None when none was seen.
    last_used: float | None = None
    quantization: str | None = None

    @property
    def gpu_offload_percent(self) -> float | None:
        """Return the share of the model held in VRAM, in %."""
        if self.size_bytes <= 0:
            return None
        return min(self.vram_bytes / self.size_bytes, 1.0) * 100


@dataclass(frozen=True, slots=True)
class AgentEvidence:
    """One agent's (or AI Task's) last day of requests."""

    subject: str
    name: str
    requests: int
    errors: int = 0
    # Requests that found their model not loaded, and latency medians of cold and warm ones.
    cold_requests: int = 0
    cold_latency_p50_ms: float | None = None
    warm_latency_p50_ms: float | None = None
    # 90 % of the gaps between consecutive requests are shorter than this.
    gap_p90_s: float | None = None
    input_tokens_mean: float | None = None
    prompt_requests: int = 0
    cache_hit_percent: float | None = None
    # The model the agent runs, where a watched Ollama server holds it.
    served: ServedModel | None = None
    usage: UsageProfile | None = None


@dataclass(frozen=True, slots=True)
class GpuEvidence:
    """One GPU now."""

    key: str
    name: str
    memory_used_percent: float | None = None
    throttle_reasons: tuple[str, ...] = ()
    temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the recommendations are made from, at one moment.

    ``now`` is wall-clock seconds; ``today`` (a date ordinal) and ``seconds_into_day`` are local.
    """

    now: float
    today: int
    seconds_into_day: float
    agents: Sequence[AgentEvidence] = ()
    models: Sequence[ServedModel] = ()
    gpus: Sequence[GpuEvidence] = ()
    # Entities exposed to Assist; None where not counted.
    exposed_entities: int | None = None


def agent_evidence(  # noqa: PLR0913 - rows, their codes, and evidence from elsewhere
    subject: str,
    name: str,
    rows: np.ndarray,
    *,
    served: ServedModel | None = None,
    usage: UsageProfile | None = None,
    error_codes: Sequence[str] = (),
    answers: frozenset[str] = DEFAULT_ANSWER_CODES,
) -> AgentEvidence:
    """Return an agent's evidence from the rows of its request log (see requests.COLUMNS).

    ``error_codes`` names the log's error indexes: an error coded with one of ``answers``
    (not understood, no such device) is an answer, not a failure.
    """
    error = column(rows, "error")
    failed = np.array(
        [False, *(code not in answers for code in error_codes)], dtype=bool
    )
    coded = (error > 0) & (error <= len(error_codes))
    duration = column(rows, "duration_ms")
    cold = column(rows, "cold")
    input_tokens = column(rows, "input_tokens")
    cached = column(rows, "cached_input_tokens")
    ends = np.sort(column(rows, "end"))
    gaps = np.diff(ends)
    with_cache = ~np.isnan(input_tokens) & ~np.isnan(cached)
    cache_total = float(input_tokens[with_cache].sum())
    return AgentEvidence(
        subject=subject,
        name=name,
        requests=len(rows),
        # An error whose code is not named (no codes given) is a failure all the same.
        errors=int(failed[error[coded].astype(int)].sum())
        + int((error > len(error_codes)).sum()),
        cold_requests=int((cold == 1).sum()),
        cold_latency_p50_ms=_median(duration[cold == 1]),
        warm_latency_p50_ms=_median(duration[cold == 0]),
        gap_p90_s=float(np.percentile(gaps, 90)) if len(gaps) else None,
        input_tokens_mean=_mean(input_tokens[~np.isnan(input_tokens)]),
        prompt_requests=int((~np.isnan(input_tokens)).sum()),
        cache_hit_percent=float(cached[with_cache].sum()) / cache_total * 100
        if cache_total > 0
        else None,
        served=served,
        usage=usage,
    )


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def recommend(evidence: Evidence) -> list[Recommendation]:
    """Return every recommendation the evidence supports, most severe first."""
    found: list[Recommendation] = []
    for agent in evidence.agents:
        found.extend(
            item
            for item in (
                _cold_starts(agent),
                _predictive_preload(agent, evidence),
                _large_prompts(agent, evidence.exposed_entities),
                _low_cache_hit(agent),
                _high_error_rate(agent),
            )
            if item is not None
        )
    for gpu in evidence.gpus:
        found.extend(
            item
            for item in (
                _vram_pressure(gpu, evidence.models, evidence.now),
                _gpu_throttling(gpu),
            )
            if item is not None
        )
    found.extend(
        item
        for model in evidence.models
        if (item := _cpu_offload(model, evidence.models, evidence.now)) is not None
    )
    return sorted(found, key=lambda r: (_SEVERITY_ORDER[r.severity], r.id))


# --- Rules ------------------------------------------------------------------------------------


def _cold_starts(agent: AgentEvidence) -> Recommendation | None:
    """Cold starts dominate: keep the model loaded long enough to cover the usual gaps."""
    cold, warm = agent.cold_latency_p50_ms, agent.warm_latency_p50_ms
    if agent.cold_requests < MIN_COLD_REQUESTS or cold is None or warm is None:
        return None
    share = agent.cold_requests / agent.requests
    if share < COLD_SHARE_WARNING or cold < max(
        warm * COLD_SLOWDOWN, warm + COLD_EXTRA_MS
    ):
        return None
    keep_alive = suggested_keep_alive(agent.gap_p90_s)
    action = None
    served = agent.served
    if served is not None:
        if not served.loaded:
            action = ModelAction(
                ActionKind.PRELOAD, served.server_id, served.model, keep_alive
            )
        elif served.expires_at is not None:
            action = ModelAction(
                ActionKind.KEEP_ALIVE, served.server_id, served.model, keep_alive
            )
    gap = (
        ""
        if agent.gap_p90_s is None
        else f" 90 % of the gaps between its requests are under "
        f"{duration_text(round(agent.gap_p90_s))}."
    )
    return Recommendation(
        kind=Kind.COLD_STARTS,
        severity=Severity.CRITICAL
        if share >= COLD_SHARE_CRITICAL
        else Severity.WARNING,
        subject=agent.subject,
        name=agent.name,
        rationale=(
            f"{agent.cold_requests} of {agent.requests} requests to {agent.name} in the last "
            f"day found the model unloaded and took {_ms(cold)} (median) instead of "
            f"{_ms(warm)}.{gap}"
        ),
        expected_effect=(
            f"Keeping the model loaded {keep_alive_text(keep_alive)} after each request would "
            f"spare most of these requests about {_ms(cold - warm)} each."
        ),
        action=action,
    )


def suggested_keep_alive(gap_p90_s: float | None) -> int:
    """Return a keep-alive covering 90 % of the gaps, in 5-minute steps, within bounds."""
    if gap_p90_s is None or not math.isfinite(gap_p90_s):
        return DEFAULT_KEEP_ALIVE_S
    steps = math.ceil(gap_p90_s / KEEP_ALIVE_STEP_S) * KEEP_ALIVE_STEP_S
    return int(min(max(steps, KEEP_ALIVE_MIN_S), KEEP_ALIVE_MAX_S))


def _predictive_preload(
    agent: AgentEvidence, evidence: Evidence
) -> Recommendation | None:
    """Preload the agent's model shortly before the hours it is usually used in."""
    served, usage = agent.served, agent.usage
    if served is None or usage is None or agent.cold_requests == 0:
        return None
    blocks = [
        block
        for block in usage_blocks(usage.usual_hours(evidence.today))
        if block[1] < HOURS
    ]
    if not blocks:
        return None
    # The next block to start, and how long until then (within a day).
    starts = [
        ((first * 3600 - evidence.seconds_into_day) % (HOURS * 3600), first, length)
        for first, length in blocks
    ]
    wait_s, first, length = min(starts)
    action = None
    if wait_s <= PRELOAD_LEAD_S and not served.loaded:
        action = ModelAction(
            ActionKind.PRELOAD,
            served.server_id,
            served.model,
            round(wait_s) + length * 3600,
        )
    hours = ", ".join(f"{f:02d}:00-{(f + n) % HOURS:02d}:00" for f, n in sorted(blocks))
    days = usage.days_observed(evidence.today)
    used_days = min(usage.days_by_hour[f] for f, _ in blocks)
    return Recommendation(
        kind=Kind.PREDICTIVE_PRELOAD,
        severity=Severity.INFO,
        subject=agent.subject,
        name=agent.name,
        rationale=(
            f"{agent.name} is used {hours} on at least {used_days} of the last {days} days, "
            f"and {agent.cold_requests} of its requests in the last day waited for "
            f"{served.model} to load."
        ),
        expected_effect=(
            f"Loading {served.model} {PRELOAD_LEAD_S // 60} minutes before "
            f"{first:02d}:00 makes the first request of that block a warm one."
        ),
        action=action,
    )


def _idle_models(
    models: Iterable[ServedModel], now: float, exclude: str | None = None
) -> list[ServedModel]:
    """Return the loaded models unused for IDLE_S, least recently used first."""
    idle = [
        m
        for m in models
        if m.loaded
        and m.vram_bytes > 0
        and f"{m.server_id}/{m.model}" != exclude
        and (m.last_used is None or now - m.last_used >= IDLE_S)
    ]
    return sorted(idle, key=lambda m: (m.last_used or -math.inf, m.model))


def _vram_pressure(
    gpu: GpuEvidence, models: Sequence[ServedModel], now: float
) -> Recommendation | None:
    """Nearly full VRAM: unload the least recently used idle model."""
    used = gpu.memory_used_percent
    if used is None or used < VRAM_WARNING_PERCENT:
        return None
    idle = _idle_models(models, now)
    if not idle:
        return None
    victim = idle[0]
    since = (
        "never used since it was seen"
        if victim.last_used is None
        else f"unused for {duration_text(round(now - victim.last_used))}"
    )
    return Recommendation(
        kind=Kind.VRAM_PRESSURE,
        severity=Severity.CRITICAL
        if used >= VRAM_CRITICAL_PERCENT
        else Severity.WARNING,
        subject=gpu.key,
        name=gpu.name,
        rationale=(
            f"{gpu.name} has {used:.1f} % of its memory in use while {len(idle)} loaded "
            f"model(s) sit idle; {victim.model} on {victim.server_name} is the least "
            f"recently used ({since})."
        ),
        expected_effect=(
            f"Unloading {victim.model} frees about {bytes_to_gib(victim.vram_bytes):.1f} GiB "
            "of VRAM, so the models in use are not pushed out to the CPU."
        ),
        action=ModelAction(ActionKind.UNLOAD, victim.server_id, victim.model),
    )


def _cpu_offload(
    model: ServedModel, models: Sequence[ServedModel], now: float
) -> Recommendation | None:
    """Recommend room in VRAM (or a smaller quantization) for a model partly on the CPU."""
    offload = model.gpu_offload_percent
    if not model.loaded or model.vram_bytes <= 0 or offload is None or offload >= 100:
        return None
    idle = _idle_models(models, now, exclude=f"{model.server_id}/{model.model}")
    quantization = f" ({model.quantization})" if model.quantization else ""
    advice = (
        f"unloading the idle {idle[0].model} makes room for it"
        if idle
        else "a smaller quantization, or fewer models loaded at once, fits it in VRAM"
    )
    return Recommendation(
        kind=Kind.CPU_OFFLOAD,
        severity=Severity.WARNING,
        subject=f"{model.server_id}/{model.model}",
        name=model.model,
        rationale=(
            f"Only {offload:.0f} % of {model.model}{quantization} on {model.server_name} "
            f"is in VRAM; the rest runs on the CPU, many times slower."
        ),
        expected_effect=(
            f"With the whole model in VRAM it generates several times faster: {advice}."
        ),
        action=None
        if not idle
        else ModelAction(ActionKind.UNLOAD, idle[0].server_id, idle[0].model),
    )


def _large_prompts(agent: AgentEvidence, exposed: int | None) -> Recommendation | None:
    """Large prompts that grow with the entities exposed to Assist: expose fewer."""
    tokens = agent.input_tokens_mean
    if (
        tokens is None
        or agent.prompt_requests < MIN_REQUESTS
        or tokens < LARGE_PROMPT_TOKENS
        or exposed is None
        or exposed < MIN_EXPOSED_ENTITIES
    ):
        return None
    from_entities = min(tokens, exposed * TOKENS_PER_ENTITY)
    return Recommendation(
        kind=Kind.LARGE_PROMPTS,
        severity=Severity.WARNING,
        subject=agent.subject,
        name=agent.name,
        rationale=(
            f"Prompts to {agent.name} average {tokens:,.0f} input tokens, and {exposed} "
            f"entities are exposed to Assist: their list takes an estimated "
            f"{from_entities:,.0f} tokens of each prompt."
        ),
        expected_effect=(
            "Exposing half as many entities shortens each prompt by about "
            f"{from_entities / 2:,.0f} tokens, so the model reads it faster and "
            "cloud requests cost less."
        ),
    )


def _low_cache_hit(agent: AgentEvidence) -> Recommendation | None:
    """Long prompts that miss the prompt cache: keep the system prompt stable."""
    hit, tokens = agent.cache_hit_percent, agent.input_tokens_mean
    if (
        hit is None
        or tokens is None
        or agent.prompt_requests < MIN_REQUESTS
        or tokens < CACHEABLE_PROMPT_TOKENS
        or hit >= LOW_CACHE_HIT_PERCENT
    ):
        return None
    return Recommendation(
        kind=Kind.LOW_CACHE_HIT,
        severity=Severity.INFO,
        subject=agent.subject,
        name=agent.name,
        rationale=(
            f"Only {hit:.1f} % of {agent.name}'s input tokens came from the prompt cache, "
            f"with prompts of {tokens:,.0f} tokens on average."
        ),
        expected_effect=(
            "A system prompt that stays the same from request to request (no time or "
            "changing states at its start) lets the provider reuse it: faster first tokens "
            "and cheaper cached input."
        ),
    )


def _high_error_rate(agent: AgentEvidence) -> Recommendation | None:
    """Many failed requests: add a fallback agent."""
    if agent.requests < MIN_REQUESTS:
        return None
    rate = agent.errors / agent.requests * 100
    if rate < ERROR_RATE_WARNING:
        return None
    return Recommendation(
        kind=Kind.HIGH_ERROR_RATE,
        severity=Severity.CRITICAL if rate >= ERROR_RATE_CRITICAL else Severity.WARNING,
        subject=agent.subject,
        name=agent.name,
        rationale=(
            f"{agent.errors} of {agent.requests} requests to {agent.name} in the last day "
            f"failed ({rate:.1f} %)."
        ),
        expected_effect=(
            "A fallback agent (or Assist's local handling of commands first) answers "
            "when this one fails, so those requests still get an answer."
        ),
    )


def _gpu_throttling(gpu: GpuEvidence) -> Recommendation | None:
    """Recommend cooling or a power limit for a GPU slowed down by heat or power."""
    reasons = set(gpu.throttle_reasons)
    if thermal := sorted(reasons & THERMAL_REASONS):
        temperature = (
            "" if gpu.temperature_c is None else f" at {gpu.temperature_c:.0f} °C"
        )
        rationale = (
            f"{gpu.name} is slowing itself down because it is too hot{temperature} "
            f"({', '.join(thermal)})."
        )
        effect = (
            "Better cooling (airflow, fan curve, dust) keeps its clocks up, so "
            "generation is not slowed down."
        )
    elif power := sorted(reasons & POWER_REASONS):
        limit = "" if gpu.power_limit_w is None else f" of {gpu.power_limit_w:.0f} W"
        rationale = (
            f"{gpu.name} is held back by its power limit{limit} ({', '.join(power)})."
        )
        effect = (
            "Raising the power limit (if the power supply and cooling allow) lets it run "
            "at full clocks; lowering it on purpose trades speed for energy."
        )
    else:
        return None
    return Recommendation(
        kind=Kind.GPU_THROTTLING,
        severity=Severity.WARNING,
        subject=gpu.key,
        name=gpu.name,
        rationale=rationale,
        expected_effect=effect,
    )


# --- Words ------------------------------------------------------------------------------------


def keep_alive_text(seconds: int | None) -> str:
    """Return "for good" (a keep-alive of -1) or "for 45 min"."""
    if seconds is None or seconds < 0:
        return "for good"
    return f"for {duration_text(seconds)}"


def duration_text(seconds: int) -> str:
    """Return "40 s", "45 min" or "2 h 30 min"."""
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"
