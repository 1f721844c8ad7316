"""The request log: bounds, windows and aggregates, against a brute-force reference."""

import math
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ai_performance.engine.requests import (
    Complexity,
    RequestLog,
    RequestRecord,
    RequestSource,
    Totals,
    combined_stats,
)
from custom_components.ai_performance.engine.stats import percentile
from custom_components.ai_performance.engine.windows import BYTES_PER_ROW

NOW = 1_800_000_000.0


def record(
    end_ago: float,
    duration_s: float = 1.0,
    subject: str = "conversation.llm",
    **kw: Any,
) -> RequestRecord:
    end = NOW - end_ago
    return RequestRecord(
        id=f"r{end_ago}",
        source=RequestSource.AGENT,
        subject=subject,
        start=end - duration_s,
        end=end,
        **kw,
    )


requests = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=90_000),  # ended this many seconds ago
        st.floats(min_value=0.001, max_value=60),  # duration in seconds
        st.one_of(st.none(), st.sampled_from(["intent-failed", "timeout"])),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(requests, st.sampled_from([300.0, 3600.0, 86400.0]))
def test_window_aggregates_equal_brute_force(
    rows: list[tuple[float, float, str | None]], window_s: float
) -> None:
    log = RequestLog()
    records = [record(ago, d, error=e) for ago, d, e in rows]
    for r in records:
        log.append(r)
    inside = [r for r in records if r.end > NOW - window_s]
    stats = log.stats(NOW, window_s)

    assert stats.count == len(inside)
    assert stats.requests_per_minute == pytest.approx(
        len(inside) / (window_s / 60), abs=1e-3
    )
    durations = [r.duration_ms for r in inside]
    for q, value in (
        (50, stats.latency_p50),
        (95, stats.latency_p95),
        (99, stats.latency_p99),
    ):
        expected = percentile(durations, q)
        assert value == (
            None if expected is None else pytest.approx(expected, abs=1e-3)
        )
    if inside:
        assert stats.latency_max == pytest.approx(max(durations))
        errors = [r.error for r in inside if r.error]
        assert stats.error_rate == pytest.approx(
            len(errors) / len(inside) * 100, abs=1e-3
        )
        assert stats.errors_by_code == {c: errors.count(c) for c in set(errors)}
    assert stats.complete


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=50), st.integers(min_value=0, max_value=200))
def test_the_log_keeps_only_the_newest_capacity_records(capacity: int, n: int) -> None:
    log = RequestLog(capacity=capacity)
    for i in range(n):
        log.append(record(end_ago=n - i))  # one a second, oldest first
    assert len(log) == min(n, capacity)
    assert log.nbytes <= max(capacity, 64) * BYTES_PER_ROW
    stats = log.stats(NOW, 86400)
    assert stats.count == min(n, capacity)
    # Records of the window were pushed out exactly when more came than the log holds.
    assert stats.complete == (n <= capacity)


def test_records_older_than_the_age_bound_are_left_out() -> None:
    log = RequestLog(max_age_s=600)
    log.append(record(end_ago=900))
    log.append(record(end_ago=60))
    assert log.stats(NOW, 3600).count == 1


def test_tokens_cache_tools_and_local_share() -> None:
    log = RequestLog()
    # 2 s requests with 0.5 s to the first token, each with two tool calls.
    for _ in range(2):
        log.append(
            record(
                10,
                2.0,
                input_tokens=1000,
                cached_input_tokens=250,
                output_tokens=30,
                ttft_ms=500,
                tool_calls=2,
                tool_failures=1,
                processed_locally=False,
            )
        )
    log.append(record(5, 0.2, processed_locally=True))
    stats = log.stats(NOW, 300)
    # Turns with tool calls have no generation speed (see the next tests).
    assert stats.output_tokens_per_s is None
    assert stats.cache_hit_percent == pytest.approx(25.0)
    assert stats.tool_failure_rate == pytest.approx(50.0)
    assert stats.local_percent == pytest.approx(100 / 3, abs=1e-3)
    assert stats.ttft_p50 == 500
    assert stats.error_rate == 0


def test_unknown_values_give_none_not_zero() -> None:
    log = RequestLog()
    log.append(record(10))
    stats = log.stats(NOW, 300)
    assert stats.ttft_p95 is None
    assert stats.output_tokens_per_s is None
    assert stats.cache_hit_percent is None
    assert stats.tool_failure_rate is None
    assert stats.cost_p50 is None
    assert RequestLog().stats(NOW, 300).latency_p95 is None


def test_amend_sets_late_values_until_the_record_is_pushed_out() -> None:
    log = RequestLog(capacity=2)
    first = log.append(record(30))
    assert log.amend(first, ttft_ms=120, output_tokens=40)
    assert log.stats(NOW, 300).ttft_p50 == 120
    log.append(record(20))
    log.append(record(10))
    assert not log.amend(first, ttft_ms=1)
    assert not log.amend(99, ttft_ms=1)


def test_combined_stats_merge_subjects_and_their_error_codes() -> None:
    a, b = RequestLog(), RequestLog()
    a.append(record(10, 1.0, error="timeout"))
    b.append(record(10, 3.0, error="intent-failed"))
    b.append(record(10, 2.0, error="timeout"))
    stats = combined_stats([a, b], NOW, 300)
    assert stats.count == 3
    assert stats.errors_by_code == {"timeout": 2, "intent-failed": 1}
    assert stats.latency_max == 3000
    assert combined_stats([], NOW, 300).count == 0


def test_answer_codes_count_as_unanswered_not_as_errors() -> None:
    # "Could not understand" and "no such device" are answers; a timeout is a failure.
    log = RequestLog()
    for error in ("no_intent_match", "no_valid_targets", "no_intent_match", "timeout"):
        log.append(record(10, error=error))
    log.append(record(10))

    stats = log.stats(NOW, 300)

    assert stats.error_rate == 20.0
    assert stats.errors_by_code == {"timeout": 1}
    assert stats.unanswered_rate == 60.0
    assert stats.unanswered_by_code == {"no_intent_match": 2, "no_valid_targets": 1}


def test_the_answer_codes_apply_to_the_requests_already_in_the_windows() -> None:
    log = RequestLog()
    log.append(record(10, error="no_intent_match"))
    log.append(record(10))
    assert log.stats(NOW, 300).error_rate == 0.0

    # Every code a failure: the same windows, read again, count it as one.
    strict = log.stats(NOW, 300, answers=frozenset())

    assert strict.error_rate == 50.0
    assert strict.unanswered_rate == 0.0
    assert log.stats(NOW, 300).error_rate == 0.0


def test_complexity_classes() -> None:
    assert record(1, processed_locally=True).complexity is Complexity.SIMPLE
    assert record(1, processed_locally=False).complexity is Complexity.MODERATE
    assert record(1, tool_calls=1).complexity is Complexity.COMPLEX


def test_totals_count_and_round_trip() -> None:
    totals = Totals()
    totals.add(record(1, input_tokens=10, output_tokens=5, error="x", cost=0.25))
    totals.add(record(1, tool_calls=3, tool_failures=1))
    assert (totals.requests, totals.errors, totals.input_tokens, totals.tool_calls) == (
        2,
        1,
        10,
        3,
    )
    assert totals.satisfaction_percent is None
    totals.ratings_up, totals.ratings_down = 3, 1
    assert totals.satisfaction_percent == 75.0
    assert Totals.from_dict({**totals.as_dict(), "unknown": 1}) == totals


def test_log_line_carries_the_id_and_leaves_unknowns_out() -> None:
    line = record(1, 0.5, output_tokens=7).as_log_dict()
    assert line["ai_performance_id"] == "r1"
    assert line["duration_ms"] == 500
    assert line["source"] == "agent"
    assert "ttft_ms" not in line
    assert not any(isinstance(v, float) and math.isnan(v) for v in line.values())


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestLog(capacity=0)


def test_output_speed_is_the_tokens_after_the_first_over_the_time_after_it() -> None:
    log = RequestLog()
    # 2 s requests with 0.5 s to the first token: 1.5 s generating the 29 tokens after it.
    for _ in range(2):
        log.append(record(10, 2.0, output_tokens=30, ttft_ms=500))
    # Without a time to first token: no speed, rather than 30 tokens over the whole 2 s.
    log.append(record(10, 2.0, output_tokens=30))
    assert log.stats(NOW, 300).output_tokens_per_s == pytest.approx(29 / 1.5, abs=1e-3)


def test_no_output_speed_for_a_turn_with_tool_calls() -> None:
    # Its tokens span several model calls and its time after the first token a tool round.
    log = RequestLog()
    log.append(record(10, 2.0, output_tokens=30, ttft_ms=500, tool_calls=1))
    assert log.stats(NOW, 300).output_tokens_per_s is None
    # Nor when the time to first token comes later, from its pipeline.
    seq = log.append(record(10, 2.0, output_tokens=30, tool_calls=1))
    log.amend(seq, ttft_ms=500)
    assert log.stats(NOW, 300).output_tokens_per_s is None
