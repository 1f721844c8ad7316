"""Benchmark results: what a run of requests to one target measured, and targets compared.

Latency is the whole request (percentiles over the measured requests, warm-ups left out), the
time to the first token where the target reports it, and output tokens per second of generation
(after the first token), as the request sensors compute them.
"""

from collections.abc import Sequence
from typing import Any, Final

from .requests import RequestRecord, records_stats

# Questions without side effects: nothing in the home is switched. The first two are intents
# Home Assistant's own agent answers; the others need an LLM.
LOCAL_AGENT_PROMPTS: Final = ("What time is it?", "What is the date today?")
DEFAULT_PROMPTS: Final = (
    *LOCAL_AGENT_PROMPTS,
    "In one sentence, what does a heat pump do?",
    "Name three vegetables that grow well in autumn.",
)


def summarize(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """Return what ``records`` (one target's measured requests) show."""
    # A benchmark prompt left unanswered measured nothing: every error code is a failure.
    stats = records_stats(records, answers=frozenset())
    return {
        "requests": stats.count,
        "errors": sum(stats.errors_by_code.values()),
        "error_rate_percent": stats.error_rate,
        "errors_by_code": dict(stats.errors_by_code),
        "latency_p50_ms": stats.latency_p50,
        "latency_p95_ms": stats.latency_p95,
        "latency_p99_ms": stats.latency_p99,
        "ttft_p50_ms": stats.ttft_p50,
        "output_tokens_per_s": stats.output_tokens_per_s,
    }


def compare(summaries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return each target's median latency and speed relative to the first target's."""
    items = list(summaries.items())
    if len(items) < 2:
        return {}
    _, base = items[0]
    return {
        name: {
            "latency_p50_ratio": _ratio(
                summary["latency_p50_ms"], base["latency_p50_ms"]
            ),
            "output_tokens_per_s_ratio": _ratio(
                summary["output_tokens_per_s"], base["output_tokens_per_s"]
            ),
        }
        for name, summary in items[1:]
    }


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 3)
