"""What the optimiser costs per tick, and what predictive preloading saves in a simulated home.

Writes benchmarks/results/optimizer.json (see docs/performance.md):
- optimizer_tick_ms_p50 / _p95: one auto-optimisation tick's engine work: the evidence of 10
  agents with 2 000 requests each in their last day, 4 models, 1 GPU, and the recommendations.
- request_stats_ms_p50: the peer, measured in the same run: the same 10 logs' three windows each
  recomputed from their rows (what the requests source did per tick before it kept its figures
  incrementally: a fixed amount of numpy work over a day of rows). optimizer_vs_request_stats_ratio is
  the tick's cost as a multiple of it.
- recommend_ms_p50: the rules alone, on evidence already gathered.
- preload_*: four simulated weeks of one household using a local-model agent in the morning
  (07:00-09:00) and evening (18:00-19:00) on 85 % of days, plus two stray requests a day at
  other times, with Ollama's default 5-minute keep-alive. The first two weeks teach the hours of
  use; over the last two, a tick every 30 s asks the engine what to do and carries out its
  predictive preloads. cold_share_without / _with
  are the shares of requests that found the model unloaded; cold_starts_avoided_share is the
  share of the cold starts preloading removed; preload_loaded_hours_per_day is what it costs.
"""

# ruff: noqa: E402 - the path is fixed before the integration is imported
from pathlib import Path
import sys

# The repository root replaces the script's own folder on the path: the integration, the tests'
# helpers and benchmarks.smoke are imported from there.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from collections.abc import Callable
from dataclasses import replace
import json
import statistics
import time

import numpy as np

from benchmarks.smoke import output, size
from custom_components.ai_performance.engine.recommend import (
    ActionKind,
    Evidence,
    GpuEvidence,
    Kind,
    ServedModel,
    agent_evidence,
    recommend,
)
from custom_components.ai_performance.engine.requests import (
    WINDOWS_S,
    RequestLog,
    RequestRecord,
    RequestSource,
)
from custom_components.ai_performance.engine.usage import UsageProfile
from custom_components.ai_performance.engine.windows import window_stats

RESULTS = output(Path(__file__).parent / "results" / "optimizer.json")
SEED = 20261121
DAY_S = 86_400.0
AGENTS = 10
REQUESTS_PER_AGENT = size(2000, 200)
NOW = 1_800_000_000.0
GIB = 1024**3
# The simulated household.
BLOCKS = ((7, 2, 6), (18, 1, 3))  # (first hour, hours, mean requests)
ACTIVE_DAY_SHARE = 0.85
# Requests at other times (06:00-23:00), which no habit predicts.
STRAY_PER_DAY = 2
DAYS = size(28, 6)
KEEP_ALIVE_S = 300.0
TICK_S = 30.0
DAY0 = 739_000


def _timed(run: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _logs(rng: np.random.Generator) -> list[RequestLog]:
    logs = []
    for agent in range(AGENTS):
        log = RequestLog()
        ends = np.sort(rng.uniform(NOW - DAY_S, NOW, REQUESTS_PER_AGENT))
        for index, end in enumerate(ends):
            cold = bool(rng.random() < 0.05)
            log.append(
                RequestRecord(
                    id=f"{agent}-{index}",
                    source=RequestSource.AGENT,
                    subject=f"conversation.agent_{agent}",
                    start=end - (30 if cold else 1.5),
                    end=end,
                    model_loaded=not cold,
                    input_tokens=int(rng.integers(500, 6000)),
                    cached_input_tokens=int(rng.integers(0, 500)),
                    output_tokens=int(rng.integers(10, 200)),
                    error=None if rng.random() > 0.02 else "timeout",
                )
            )
        logs.append(log)
    return logs


def tick_cost(rng: np.random.Generator) -> dict[str, float]:
    """Return the per-tick cost of the optimiser's engine work, and of its peer."""
    logs = _logs(rng)
    models = [
        ServedModel("s", "Ollama", f"m{i}:8b", loaded=True, size_bytes=6 * GIB,
                    vram_bytes=6 * GIB, last_used=NOW - 3600 * i)
        for i in range(4)
    ]  # fmt: skip
    gpus = [GpuEvidence("gpu", "GPU", memory_used_percent=93.0)]

    def gather() -> Evidence:
        agents = [
            agent_evidence(
                f"conversation.agent_{i}",
                f"Agent {i}",
                log.rows_within(NOW, DAY_S),
                served=models[i % 4],
            )
            for i, log in enumerate(logs)
        ]
        return Evidence(NOW, DAY0, 43_200.0, agents, models, gpus, exposed_entities=120)

    def tick() -> None:
        recommend(gather())

    def request_stats() -> None:
        # Recomputed from the rows, as the requests source did before it kept its figures
        # incrementally (it now reuses them, which is no peer for work over a day of rows).
        for log in logs:
            for window in WINDOWS_S:
                window_stats(log.rows_within(NOW, window), window, log.error_codes)

    evidence = gather()
    optimizer = _timed(tick, size(200, 3))
    peer = _timed(request_stats, size(200, 3))
    rules = _timed(lambda: recommend(evidence), size(2000, 10))
    p50 = statistics.median(optimizer)
    peer_p50 = statistics.median(peer)
    return {
        "optimizer_tick_ms_p50": round(p50, 3),
        "optimizer_tick_ms_p95": round(float(np.percentile(optimizer, 95)), 3),
        "request_stats_ms_p50": round(peer_p50, 3),
        "optimizer_vs_request_stats_ratio": round(p50 / peer_p50, 3),
        "recommend_ms_p50": round(statistics.median(rules), 4),
    }


def _household(rng: np.random.Generator, days: int) -> list[float]:
    """Return the request times of a household's fortnight (seconds from day 0, local)."""
    times: list[float] = []
    for day in range(days):
        if rng.random() > ACTIVE_DAY_SHARE:
            continue
        for first, hours, mean in BLOCKS:
            count = max(1, int(rng.poisson(mean)))
            start = day * DAY_S + first * 3600
            times.extend(rng.uniform(start, start + hours * 3600, count))
        strays = int(rng.poisson(STRAY_PER_DAY))
        times.extend(
            rng.uniform(day * DAY_S + 6 * 3600, day * DAY_S + 23 * 3600, strays)
        )
    return sorted(times)


def preload_savings(rng: np.random.Generator) -> dict[str, float]:
    """Simulate the household without and with the engine's predictive preloads."""
    requests = _household(rng, DAYS)
    half = DAYS // 2 * DAY_S
    learning = [t for t in requests if t < half]
    judged = [t for t in requests if t >= half]
    profile = UsageProfile()
    for t in learning:
        profile.add(DAY0 + int(t // DAY_S), int(t % DAY_S // 3600))

    def cold_share(preloads: list[tuple[float, float]]) -> float:
        """Return the share of judged requests that found the model unloaded."""
        loaded_until = -1.0
        events = sorted(
            [(t, "request", 0.0) for t in judged]
            + [(at, "preload", until) for at, until in preloads]
        )
        cold = 0
        for at, kind, until in events:
            if kind == "preload":
                loaded_until = max(loaded_until, until)
                continue
            cold += at > loaded_until
            loaded_until = max(loaded_until, at + KEEP_ALIVE_S)
        return cold / len(judged)

    # Ticks over the judged week: the engine decides, the preload loads the model.
    preloads: list[tuple[float, float]] = []
    loaded_until = -1.0
    upcoming = iter(judged)
    next_request = next(upcoming, None)
    for tick in np.arange(half, DAYS * DAY_S, TICK_S):
        while next_request is not None and next_request <= tick:
            loaded_until = max(loaded_until, next_request + KEEP_ALIVE_S)
            next_request = next(upcoming, None)
        served = ServedModel("s", "Ollama", "m:8b", loaded=tick < loaded_until)
        agent = agent_evidence(
            "conversation.local", "Local", np.empty((0, 16)), served=served,
            usage=profile,
        )  # fmt: skip
        # The engine only preloads for an agent that has had cold starts.
        agent = replace(agent, requests=10, cold_requests=1)
        evidence = Evidence(
            float(tick), DAY0 + int(tick // DAY_S), float(tick % DAY_S), [agent]
        )
        for item in recommend(evidence):
            action = item.action
            if item.kind is Kind.PREDICTIVE_PRELOAD and action is not None:
                assert action.kind is ActionKind.PRELOAD
                until = float(tick) + (action.keep_alive_s or 0)
                preloads.append((float(tick), until))
                loaded_until = max(loaded_until, until)
    without, with_preloads = cold_share([]), cold_share(preloads)
    loaded_s = sum(until - at for at, until in preloads)
    return {
        "preload_cold_share_without": round(without, 4),
        "preload_cold_share_with": round(with_preloads, 4),
        "preload_cold_starts_avoided_share": round(1 - with_preloads / without, 4)
        if without
        else 0.0,
        "preload_loaded_hours_per_day": round(loaded_s / 3600 / (DAYS // 2), 2),
        "preload_requests_judged": len(judged),
    }


def main() -> None:
    """Measure and write the results."""
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    results: dict[str, float | str] = {**tick_cost(rng), **preload_savings(rng)}
    results["optimizer_tick_note"] = (
        f"{AGENTS} agents x {REQUESTS_PER_AGENT} requests in the last day, 4 models, 1 GPU"
    )
    results["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
