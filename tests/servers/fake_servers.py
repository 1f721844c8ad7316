"""Model servers for the tests: real aiohttp servers on 127.0.0.1 speaking each API's shape.

Only for what cannot run on these machines (Ollama, vLLM); llama.cpp and Prometheus run for real
in tests/real. Payload shapes follow the servers' documentation: Ollama's /api/ps, /api/version,
/api/tags and /api/generate (durations in nanoseconds); vLLM's Prometheus text. Each server can
be told to fail: refuse the token, answer 5xx, answer slowly, truncate or inflate its payload, or
go away altogether.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fixture_text(name: str) -> str:
    """Return a fixture file's text."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    """Return a fixture file's JSON."""
    return json.loads(fixture_text(name))


@dataclass
class Behaviour:
    """How a fake server misbehaves; all off by default."""

    token: str | None = None
    status: int | None = None
    delay_s: float = 0.0
    # Replace every answer's body with this (a truncated or garbled payload).
    body: bytes | None = None


@dataclass
class FakeServer:
    """One running server: its URL, its request log and its misbehaviour."""

    url: str
    behaviour: Behaviour
    requests: list[tuple[str, str, Any]] = field(default_factory=list)


type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(routes: dict[tuple[str, str], Handler]) -> AsyncIterator[FakeServer]:
    """Run a server with ``routes`` ((method, path) -> handler) on a free local port."""
    behaviour = Behaviour()
    server = FakeServer(url="", behaviour=behaviour)

    @web.middleware
    async def misbehave(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        server.requests.append((request.method, request.path_qs, body))
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        if behaviour.token is not None and (
            request.headers.get("Authorization") != f"Bearer {behaviour.token}"
        ):
            return web.json_response({"error": "unauthorized"}, status=401)
        if behaviour.status is not None:
            return web.Response(text="internal error", status=behaviour.status)
        if behaviour.body is not None:
            return web.Response(body=behaviour.body, content_type="application/json")
        return await handler(request)

    app = web.Application(middlewares=[misbehave])
    for (method, path), handler in routes.items():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


# --- Ollama -----------------------------------------------------------------------------------


# The fake Ollama follows ollama/ollama at fb30760 (v0.33.0-rc2; v0.12.6 answers the same):
# routes in server/routes.go (version 1880, GenerateHandler 245 with unload 403-415 and load
# 476-486, PsHandler 2271), answer types in api/types.go (ProcessModelResponse 835,
# GenerateResponse and Metrics 891-930: durations in nanoseconds, every metric omitempty) and
# docs/api.md ("List Running Models", "Load a model", "Unload a model"). Where it is simpler:
# a prompted generation answers the fixture's timings whatever the model's state, and does not
# load the model it names.


@dataclass
class OllamaState:
    """What the fake Ollama holds: its loaded models (``/api/ps`` items) and installed ones."""

    version: str = "0.12.6"
    loaded: list[dict[str, Any]] = field(
        default_factory=lambda: fixture_json("ollama_ps.json")["models"]
    )
    installed: list[str] = field(default_factory=lambda: ["llama3.2:3b", "qwen3:8b"])
    generate: dict[str, Any] = field(
        default_factory=lambda: fixture_json("ollama_generate.json")
    )
    # Set: generations fail with this status, as when a model does not fit in memory.
    generate_status: int | None = None


# Ollama writes this expiry for a model kept loaded for good (keep_alive -1).
FOREVER = "2318-08-23T01:33:27.873373227+01:00"


def load_or_unload(state: OllamaState, body: dict[str, Any]) -> web.Response:
    """Answer a generate request with an empty prompt as Ollama does: load or unload the model.

    A model already loaded keeps its entry (the same runner): only its expiry moves.
    """
    name = body["model"]
    if name not in state.installed:
        return web.json_response({"error": f"model '{name}' not found"}, status=404)
    keep_alive = body.get("keep_alive", 300)
    known = next((m for m in state.loaded if m["name"] == name), None)
    state.loaded = [m for m in state.loaded if m["name"] != name]
    reason = "unload"
    if keep_alive != 0:
        expires = (
            FOREVER
            if keep_alive < 0
            else (datetime.now(UTC) + timedelta(seconds=keep_alive)).isoformat()
        )
        size = 2 * 1024**3
        state.loaded.append(
            {**known, "expires_at": expires}
            if known is not None
            else {
                "name": name,
                "model": name,
                "size": size,
                "digest": "0" * 64,
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "3B",
                    "quantization_level": "Q4_K_M",
                },
                "expires_at": expires,
                "size_vram": size,
                "context_length": 4096,
            }
        )
        reason = "load"
    return web.json_response(
        {
            "model": name,
            "created_at": datetime.now(UTC).isoformat(),
            "response": "",
            "done": True,
            "done_reason": reason,
        }
    )


@asynccontextmanager
async def ollama_server(state: OllamaState) -> AsyncIterator[FakeServer]:
    """Run a fake Ollama serving ``state``."""

    async def version(_request: web.Request) -> web.Response:
        return web.json_response({"version": state.version})

    async def ps(_request: web.Request) -> web.Response:
        # Longest time left first, as PsHandler sorts them.
        by_expiry = sorted(
            state.loaded,
            key=lambda m: datetime.fromisoformat(m["expires_at"]),
            reverse=True,
        )
        return web.json_response({"models": by_expiry})

    async def tags(_request: web.Request) -> web.Response:
        return web.json_response(
            {"models": [{"name": name, "model": name} for name in state.installed]}
        )

    async def generate(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("prompt"):
            if state.generate_status is not None:
                return web.json_response(
                    {"error": "model requires more system memory"},
                    status=state.generate_status,
                )
            return web.json_response(state.generate)
        return load_or_unload(state, body)

    async with serve(
        {
            ("GET", "/api/version"): version,
            ("GET", "/api/ps"): ps,
            ("GET", "/api/tags"): tags,
            ("POST", "/api/generate"): generate,
        }
    ) as server:
        yield server


# --- vLLM -----------------------------------------------------------------------

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                   2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)  # fmt: skip


@dataclass
class VllmState:
    """Cumulative counters of a fake vLLM; tests move them on between scrapes."""

    model: str = "Qwen/Qwen3-8B"
    running: int = 2
    waiting: int = 1
    kv_cache: float = 0.42
    prompt_tokens: int = 1000
    generation_tokens: int = 5000
    requests: int = 10
    prefix_queries: int = 800
    prefix_hits: int = 200
    cached_prompt_tokens: int = 250
    preemptions: int = 0
    # Observations of each histogram (seconds); rendered as cumulative buckets.
    ttft: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    inter_token: list[float] = field(default_factory=list)
    queue: list[float] = field(default_factory=list)
    # Older builds: gpu_cache_usage_perc and time_per_output_token_seconds.
    legacy_names: bool = False


def _histogram(name: str, labels: str, observations: list[float]) -> list[str]:
    lines = [f"# HELP {name} Histogram of {name}.", f"# TYPE {name} histogram"]
    lines.append(f"{name}_sum{{{labels}}} {sum(observations)}")
    for bound in LATENCY_BUCKETS:
        count = sum(1 for value in observations if value <= bound)
        lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {float(count)}')
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {float(len(observations))}')
    lines.append(f"{name}_count{{{labels}}} {float(len(observations))}")
    return lines


def _sample(kind: str, name: str, labels: str, value: float) -> list[str]:
    return [
        f"# HELP {name} {name}.",
        f"# TYPE {name} {kind}",
        f"{name}{{{labels}}} {value}",
    ]


def vllm_exposition(state: VllmState) -> str:
    """Render ``state`` as vLLM's /metrics does (prometheus_client text format 0.0.4).

    Names, labels and HELP texts follow vllm-project/vllm ``vllm/v1/metrics/loggers.py``
    (commit ea5790cc); prometheus_client adds ``_total`` to the counters.
    """
    labels = f'engine="0",model_name="{state.model}"'
    kv = (
        "vllm:gpu_cache_usage_perc"
        if state.legacy_names
        else "vllm:kv_cache_usage_perc"
    )
    itl = (
        "vllm:time_per_output_token_seconds"
        if state.legacy_names
        else "vllm:inter_token_latency_seconds"
    )
    lines = [
        *fixture_text("python_process_metrics.txt").splitlines(),
        *_sample("gauge", "vllm:num_requests_running", labels, state.running),
        *_sample("gauge", "vllm:num_requests_waiting", labels, state.waiting),
        *_sample("gauge", kv, labels, state.kv_cache),
        *_sample(
            "counter", "vllm:prefix_cache_queries_total", labels, state.prefix_queries
        ),
        *_sample("counter", "vllm:prefix_cache_hits_total", labels, state.prefix_hits),
        *_sample("counter", "vllm:prompt_tokens_total", labels, state.prompt_tokens),
        "# HELP vllm:prompt_tokens_by_source_total Number of prompt tokens by source.",
        "# TYPE vllm:prompt_tokens_by_source_total counter",
        (
            f'vllm:prompt_tokens_by_source_total{{{labels},source="local_compute"}} '
            f"{state.prompt_tokens - state.cached_prompt_tokens}"
        ),
        (
            f'vllm:prompt_tokens_by_source_total{{{labels},source="local_cache_hit"}} '
            f"{state.cached_prompt_tokens}"
        ),
        f'vllm:prompt_tokens_by_source_total{{{labels},source="external_kv_transfer"}} 0.0',
        *_sample(
            "counter",
            "vllm:prompt_tokens_cached_total",
            labels,
            state.cached_prompt_tokens,
        ),
        *_sample("counter", "vllm:num_preemptions_total", labels, state.preemptions),
        *_sample(
            "counter", "vllm:generation_tokens_total", labels, state.generation_tokens
        ),
        "# HELP vllm:request_success_total Count of successfully processed requests.",
        "# TYPE vllm:request_success_total counter",
        f'vllm:request_success_total{{{labels},finished_reason="stop"}} {state.requests - 1}',
        f'vllm:request_success_total{{{labels},finished_reason="length"}} 1.0',
        f'vllm:request_success_total{{{labels},finished_reason="abort"}} 0.0',
        *_histogram("vllm:time_to_first_token_seconds", labels, state.ttft),
        *_histogram("vllm:e2e_request_latency_seconds", labels, state.e2e),
        *_histogram(itl, labels, state.inter_token),
        *_histogram("vllm:request_queue_time_seconds", labels, state.queue),
        *_histogram("vllm:request_prefill_time_seconds", labels, state.ttft),
        *_histogram("vllm:request_decode_time_seconds", labels, state.e2e),
        *_histogram("vllm:request_inference_time_seconds", labels, state.e2e),
        *_histogram("vllm:request_prompt_tokens", labels, []),
        *_histogram("vllm:request_generation_tokens", labels, []),
        *_histogram("vllm:iteration_tokens_total", labels, []),
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig",
        "# TYPE vllm:cache_config_info gauge",
        f'vllm:cache_config_info{{block_size="16",{labels}}} 1.0',
    ]
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def vllm_server(
    state: VllmState, render: Callable[[VllmState], str] = vllm_exposition
) -> AsyncIterator[FakeServer]:
    """Run a fake vLLM (or, with another ``render``, another server) serving ``state``."""

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            text=render(state), content_type="text/plain", charset="utf-8"
        )

    async def models(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": state.model,
                        "object": "model",
                        "created": 1763700000,
                        "owned_by": "vllm",
                        "max_model_len": 32768,
                    }
                ],
            }
        )

    async with serve(
        {("GET", "/metrics"): metrics, ("GET", "/v1/models"): models}
    ) as server:
        yield server
