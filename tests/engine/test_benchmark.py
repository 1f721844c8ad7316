"""Benchmark figures: percentiles over the measured requests, speed after the first token."""

import pytest

from custom_components.ai_performance.engine.benchmark import compare, summarize
from custom_components.ai_performance.engine.requests import (
    RequestRecord,
    RequestSource,
)


def _record(index: int, duration_s: float, **values: object) -> RequestRecord:
    start = 1_800_000_000.0 + index * 60
    return RequestRecord(
        id=str(index),
        source=RequestSource.BENCHMARK,
        subject="benchmark_x",
        start=start,
        end=start + duration_s,
        **values,
    )


def test_summary_of_a_run() -> None:
    records = [
        _record(i, s, ttft_ms=200.0, output_tokens=90)
        for i, s in enumerate((1.0, 2.0, 3.0, 4.0))
    ]
    records.append(_record(4, 10.0, error="timeout"))

    figures = summarize(records)

    assert figures["requests"] == 5
    assert figures["errors"] == 1
    assert figures["errors_by_code"] == {"timeout": 1}
    assert figures["error_rate_percent"] == 20
    assert figures["latency_p50_ms"] == 3000
    assert figures["latency_p95_ms"] == pytest.approx(8800)  # between 4 s and 10 s
    assert figures["ttft_p50_ms"] == 200
    # The tokens after the first (4 x 89) over (1+2+3+4 s) less four 0.2 s first tokens.
    assert figures["output_tokens_per_s"] == pytest.approx(356 / 9.2, abs=1e-3)


def test_an_empty_run() -> None:
    figures = summarize([])
    assert figures["requests"] == 0
    assert figures["latency_p50_ms"] is None


def test_compare_relative_to_the_first_target() -> None:
    summaries = {
        "local": {"latency_p50_ms": 2000.0, "output_tokens_per_s": 40.0},
        "cloud": {"latency_p50_ms": 500.0, "output_tokens_per_s": 120.0},
        "broken": {"latency_p50_ms": None, "output_tokens_per_s": None},
    }
    assert compare(summaries) == {
        "cloud": {"latency_p50_ratio": 0.25, "output_tokens_per_s_ratio": 3.0},
        "broken": {"latency_p50_ratio": None, "output_tokens_per_s_ratio": None},
    }
    assert compare({"only": summaries["local"]}) == {}
