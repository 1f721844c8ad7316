"""The benchmark: the same prompts sent to one or more targets, measured and compared.

A target is a conversation agent (through Home Assistant's public ``conversation.async_converse``,
in a chat log of our own that streams its deltas to us, as an Assist pipeline does: a streaming
agent's first and last token are timed here) or a model on a watched Ollama server (its generate
API, which reports the time to the first token and the generation speed). One run at a time goes in a background task: the Benchmark
sensor shows its progress, and it can be cancelled. Each measured request is recorded as source
``benchmark``: it is never counted as use or in a service level, and its target gets no device of
its own (the results are in the Benchmark sensor and the action's response).

An agent's benchmark conversations get ids of our own; the chat-log watcher hands their turns to
the benchmark (for their token counts) instead of counting them.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import inspect
import time
from typing import Any, Final

from homeassistant.components import conversation, persistent_notification
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import chat_session, intent
from homeassistant.util import dt as dt_util, slugify, ulid as ulid_util

from .collectors.servers.client import ServerError
from .collectors.servers.ollama import OllamaCollector
from .const import DOMAIN, LOGGER
from .engine.benchmark import DEFAULT_PROMPTS, LOCAL_AGENT_PROMPTS, compare, summarize
from .engine.ollama import PayloadError, canonical_model, parse_generation
from .engine.requests import RequestRecord, RequestSource
from .ledger import BENCHMARK_CONVERSATION_PREFIX, RequestLedger
from .model_control import async_check_installed
from .validation import shorten

# Home Assistant 2026.11 makes the first caller's user the owner of a conversation: the
# benchmark acts for nobody (as a satellite does). 2026.10 knows no owners.
_NO_OWNER: Final[dict[str, None]] = (
    {"context": None}
    if "context" in inspect.signature(chat_session.async_get_chat_session).parameters
    else {}
)
# How long a finished agent turn may take to show up in the chat logs (its tokens).
CLAIM_WAIT_S: Final = 8.0
# Answers of a model target are cut short: the speed is measured, not the prose.
MODEL_MAX_TOKENS: Final = 128
MODEL_TIMEOUT_S: Final = 300.0
# What one run sends unless told otherwise: per target, a warm-up and then five requests.
DEFAULT_COUNT: Final = 5
DEFAULT_WARM_UP: Final = 1
NOTIFICATION_ID: Final = f"{DOMAIN}_benchmark"


class BenchmarkStatus(StrEnum):
    """Where the benchmark stands; the Benchmark sensor's states."""

    IDLE = "idle"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Target:
    """What is measured: an agent, or a model on an Ollama server."""

    name: str
    agent_id: str | None = None
    server: OllamaCollector | None = None
    model: str | None = None

    @property
    def subject(self) -> str:
        """Return the ledger subject its requests are recorded under."""
        return f"benchmark_{slugify(self.name)}"


@dataclass(frozen=True, slots=True)
class BenchmarkPlan:
    """What one run sends: every prompt in turn, ``count`` times per target."""

    targets: Sequence[Target]
    prompts: Sequence[str]
    count: int
    concurrency: int
    warm_up: int


@dataclass(slots=True)
class BenchmarkRun:
    """One run, as far as it got."""

    id: str
    plan: BenchmarkPlan
    status: BenchmarkStatus = BenchmarkStatus.RUNNING
    completed: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    records: dict[str, list[RequestRecord]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Return how many requests the run sends, warm-ups included."""
        plan = self.plan
        return len(plan.targets) * (plan.count + plan.warm_up)

    @property
    def progress_percent(self) -> float:
        """Return the share of the requests sent and answered, in %."""
        return round(self.completed / self.total * 100, 1) if self.total else 100.0

    def results(self) -> dict[str, dict[str, Any]]:
        """Return each target's measured figures, in the order of the targets."""
        return {
            target.name: summarize(self.records.get(target.name, []))
            for target in self.plan.targets
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the run as the action's response and the sensor's attributes."""
        results = self.results()
        return {
            "benchmark_id": self.id,
            "status": self.status.value,
            "progress": self.progress_percent,
            "completed": self.completed,
            "total": self.total,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "error": self.error,
            "prompts": list(self.plan.prompts),
            "results": results,
            "comparison": compare(results),
        }


def _iso(timestamp: float | None) -> str | None:
    return (
        None if timestamp is None else dt_util.utc_from_timestamp(timestamp).isoformat()
    )


class BenchmarkRunner:
    """Runs one benchmark at a time in the background; tells listeners of every step."""

    def __init__(self, hass: HomeAssistant, ledger: RequestLedger) -> None:
        """Prepare; nothing runs until ``async_start``."""
        self._hass = hass
        self._ledger = ledger
        self.run: BenchmarkRun | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[CALLBACK_TYPE] = []

    @property
    def running(self) -> bool:
        """Return True while a run is under way."""
        return self._task is not None and not self._task.done()

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``listener`` on every step of every run."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    @callback
    def async_start(self, plan: BenchmarkPlan, *, notify: bool) -> BenchmarkRun:
        """Start a run in the background; ``notify``: tell its results in a notification."""
        if self.running:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="benchmark_running"
            )
        run = self.run = BenchmarkRun(id=ulid_util.ulid_now(), plan=plan)
        self._task = self._hass.async_create_background_task(
            self._async_run(run, notify=notify), f"{DOMAIN} benchmark {run.id}"
        )
        self._changed()
        return run

    async def async_wait(self) -> None:
        """Wait for the run under way to end (its own cancellation included)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @callback
    def async_cancel(self) -> bool:
        """Cancel the run under way; False when none is."""
        if not self.running or self._task is None:
            return False
        self._task.cancel()
        return True

    async def async_stop(self) -> None:
        """Cancel the run under way and wait for it (on unload)."""
        if self.async_cancel():
            await self.async_wait()

    async def _async_run(self, run: BenchmarkRun, *, notify: bool) -> None:
        try:
            for target in run.plan.targets:
                await self._async_run_target(run, target)
        except asyncio.CancelledError:
            run.status = BenchmarkStatus.CANCELLED
            if (task := asyncio.current_task()) is not None:
                task.uncancel()
        except Exception as err:  # noqa: BLE001 - a failed run reports why
            LOGGER.exception("The benchmark failed")
            run.status = BenchmarkStatus.FAILED
            run.error = f"{type(err).__name__}: {err}"
        else:
            run.status = BenchmarkStatus.FINISHED
        run.finished = time.time()
        self._changed()
        if notify:
            persistent_notification.async_create(
                self._hass,
                notification_text(run),
                title="AI benchmark",
                notification_id=NOTIFICATION_ID,
            )

    async def _async_run_target(self, run: BenchmarkRun, target: Target) -> None:
        plan = run.plan
        slots = asyncio.Semaphore(plan.concurrency)
        prompts = plan.prompts

        async def one(index: int) -> None:
            measured = index >= plan.warm_up
            async with slots:
                record, claim = await self._async_measure(
                    target, prompts[index % len(prompts)]
                )
            if claim is not None:
                try:
                    if measured:
                        await self._async_add_tokens(record, claim)
                finally:
                    self._ledger.release(record.conversation_id or "")
            if measured:
                run.records.setdefault(target.name, []).append(record)
                self._ledger.add(record)
            run.completed += 1
            self._changed()

        # Warm-ups first, so that the measured requests find the target ready.
        for index in range(plan.warm_up):
            await one(index)
        async with asyncio.TaskGroup() as group:
            for index in range(plan.warm_up, plan.warm_up + plan.count):
                group.create_task(one(index))

    async def _async_measure(
        self, target: Target, prompt: str
    ) -> tuple[RequestRecord, asyncio.Future[RequestRecord] | None]:
        """Send one prompt; return its record, and the claim on an agent turn's tokens."""
        record = RequestRecord(
            id=ulid_util.ulid_now(),
            source=RequestSource.BENCHMARK,
            subject=target.subject,
            start=time.time(),
            end=0.0,
            model=target.model,
            agent_id=target.agent_id,
        )
        if target.agent_id is not None:
            return record, await self._async_converse(record, target.agent_id, prompt)
        if target.server is not None and target.model is not None:
            await _async_generate(record, target.server, target.model, prompt)
        return record, None

    async def _async_converse(
        self, record: RequestRecord, agent_id: str, prompt: str
    ) -> asyncio.Future[RequestRecord]:
        conversation_id = f"{BENCHMARK_CONVERSATION_PREFIX}{ulid_util.ulid_now()}"
        record.conversation_id = conversation_id
        claim = self._ledger.claim(conversation_id)
        streamed = _StreamTimes()
        try:
            with (
                chat_session.async_get_chat_session(
                    self._hass, conversation_id, **_NO_OWNER
                ) as session,
                conversation.async_get_chat_log(
                    self._hass, session, chat_log_delta_listener=streamed.on_delta
                ),
            ):
                result = await conversation.async_converse(
                    self._hass, prompt, conversation_id, Context(), agent_id=agent_id
                )
        except (HomeAssistantError, ValueError) as err:
            record.error = type(err).__name__
        except asyncio.CancelledError:
            self._ledger.release(conversation_id)
            raise
        else:
            response = result.response
            if response.response_type is intent.IntentResponseType.ERROR:
                code = response.error_code
                record.error = "error" if code is None else str(code.value)
        record.end = time.time()
        if streamed.first is not None and streamed.last is not None:
            record.ttft_ms = round((streamed.first - record.start) * 1000, 3)
            # The tokens are known once the chat log's record comes (_async_add_tokens).
            record.decode_ms = round((streamed.last - streamed.first) * 1000, 3)
        return claim

    async def _async_add_tokens(
        self, record: RequestRecord, claim: asyncio.Future[RequestRecord]
    ) -> None:
        """Take the tokens of an agent's turn from the chat logs, if they show it in time."""
        try:
            async with asyncio.timeout(CLAIM_WAIT_S):
                seen = await claim
        except TimeoutError:
            return
        record.input_tokens = seen.input_tokens
        record.output_tokens = seen.output_tokens
        # Streamed answers without tool calls: the tokens after the first were timed.
        if (
            record.decode_ms is not None
            and seen.output_tokens is not None
            and seen.output_tokens > 1
            and not seen.tool_calls
        ):
            record.decode_tokens = seen.output_tokens - 1
        record.cached_input_tokens = seen.cached_input_tokens
        record.tool_calls = seen.tool_calls
        record.tool_failures = seen.tool_failures
        record.processed_locally = seen.processed_locally
        record.model = record.model or seen.model


class _StreamTimes:
    """When a streaming agent wrote its first and its last piece of answer text."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None

    @callback
    def on_delta(self, _chat_log: Any, delta: dict[str, Any]) -> None:
        if delta.get("content"):
            now = time.time()
            self.first = self.first or now
            self.last = now


async def _async_generate(
    record: RequestRecord, server: OllamaCollector, model: str, prompt: str
) -> None:
    """Send one prompt to an Ollama model and take its own timings."""
    request = {
        "model": model,
        "prompt": prompt,
        "stream": False,
        "options": {"num_predict": MODEL_MAX_TOKENS, "temperature": 0, "seed": 0},
    }
    try:
        answer = await server.client.post_json(
            "/api/generate", request, MODEL_TIMEOUT_S
        )
        timings = parse_generation(answer)
    except ServerError as err:
        record.error = err.problem.value
        record.end = time.time()
        return
    except PayloadError:
        record.error = "malformed"
        record.end = time.time()
        return
    timings.fill(record)


def notification_text(run: BenchmarkRun) -> str:
    """Return the run's results as a Markdown table."""
    lines = [
        f"Benchmark {run.status.value}: {run.completed} of {run.total} requests.",
        "",
        "| Target | Requests | Errors | p50 | p95 | p99 | TTFT p50 | tokens/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, figures in run.results().items():
        cells = [
            _cell(figures[key], unit)
            for key, unit in (
                ("latency_p50_ms", " ms"),
                ("latency_p95_ms", " ms"),
                ("latency_p99_ms", " ms"),
                ("ttft_p50_ms", " ms"),
                ("output_tokens_per_s", ""),
            )
        ]
        lines.append(
            f"| {name} | {figures['requests']} | {figures['errors']} | "
            + " | ".join(cells)
            + " |"
        )
    if run.error:
        lines += ["", f"Error: {run.error}"]
    return "\n".join(lines)


def _cell(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:,.0f}{unit}"


def default_agent(hass: HomeAssistant) -> str:
    """Return the agent of the preferred Assist pipeline (Home Assistant's own without one)."""
    if "assist_pipeline" in hass.config.components:
        from homeassistant.components.assist_pipeline import async_get_pipeline  # noqa: PLC0415 - only when loaded

        engine = async_get_pipeline(hass).conversation_engine
        if engine:
            return engine
    return conversation.HOME_ASSISTANT_AGENT


def default_prompts(targets: Sequence[Target]) -> tuple[str, ...]:
    """Return prompts every target can answer: intents only for Home Assistant's own agent."""
    if all(t.agent_id == conversation.HOME_ASSISTANT_AGENT for t in targets):
        return LOCAL_AGENT_PROMPTS
    return DEFAULT_PROMPTS


def agent_target(hass: HomeAssistant, agent_id: str) -> Target:
    """Return the target of agent ``agent_id``; raise a translated error for an unknown one."""
    if conversation.async_get_agent_info(hass, agent_id) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_agent",
            translation_placeholders={"agent": shorten(agent_id)},
        )
    return Target(name=agent_id, agent_id=agent_id)


async def async_model_target(server: OllamaCollector, model: str) -> Target:
    """Return the target of ``model`` on ``server``; raise when it is not installed there."""
    model = canonical_model(model)
    await async_check_installed(server, model)
    return Target(
        name=f"{model} on {server.settings.title}", server=server, model=model
    )


async def async_benchmark_plan(  # noqa: PLR0913 - the action's fields
    hass: HomeAssistant,
    *,
    agents: Sequence[str] = (),
    server: OllamaCollector | None = None,
    models: Sequence[str] = (),
    prompts: Sequence[str] | None = None,
    count: int = DEFAULT_COUNT,
    concurrency: int = 1,
    warm_up: int = DEFAULT_WARM_UP,
) -> BenchmarkPlan:
    """Return a checked plan; without targets, the agent of the preferred Assist pipeline."""
    targets = [agent_target(hass, agent) for agent in agents]
    if server is not None:
        targets += [await async_model_target(server, model) for model in models]
    if not targets:
        targets = [agent_target(hass, default_agent(hass))]
    return BenchmarkPlan(
        targets=targets,
        prompts=prompts or default_prompts(targets),
        count=count,
        concurrency=concurrency,
        warm_up=warm_up,
    )
