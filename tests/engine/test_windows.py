"""Incremental window figures: equal to recomputing the window from its rows, at every tick."""

# ruff: noqa: S311 - seeded generators give reproducible request streams, not secrets

import math
import random
from typing import Any

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from custom_components.ai_performance.engine.requests import (
    BULK_ROWS,
    WINDOWS_S,
    CombinedWindows,
    RequestLog,
    RequestRecord,
    RequestSource,
    combined_stats,
)
from custom_components.ai_performance.engine.stats import sorted_percentile
from custom_components.ai_performance.engine.windows import (
    COLUMNS,
    WindowAggregate,
    contribution,
    window_stats,
)

NOW = 1_800_000_000.0
ERRORS = (None, None, None, "timeout", "intent-failed", "no_intent_match")


def random_record(rng: random.Random, end: float, n: int) -> RequestRecord:
    """A request with every kind of column, each sometimes unknown."""

    def maybe(value: Any) -> Any:
        return value if rng.random() < 0.7 else None

    duration = rng.lognormvariate(0, 1.2)
    return RequestRecord(
        id=f"r{n}",
        source=RequestSource.AGENT,
        subject="conversation.llm",
        start=end - duration,
        end=end,
        ttft_ms=maybe(rng.uniform(1, duration * 1000)),
        stt_ms=maybe(rng.uniform(50, 900)),
        perceived_ms=maybe(rng.uniform(100, 9000)),
        input_tokens=maybe(rng.randint(0, 4000)),
        output_tokens=maybe(rng.randint(0, 400)),
        cached_input_tokens=maybe(rng.randint(0, 2000)),
        tool_calls=rng.choice((0, 0, 1, 3)),
        tool_failures=rng.choice((0, 0, 1)),
        processed_locally=maybe(rng.random() < 0.3),
        error=rng.choice(ERRORS),
        cost=maybe(rng.uniform(0, 0.01)),
        energy_wh=maybe(rng.uniform(0, 2)),
    )


def recomputed(log: RequestLog, now: float, window_s: float) -> Any:
    """Today's figures of the window, built from scratch from its rows."""
    return window_stats(
        log.rows_within(now, window_s),
        window_s,
        log.error_codes,
        complete=log.complete_within(now, window_s),
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([8, 64, 20_000]))
def test_incremental_figures_equal_a_full_recompute_at_every_tick(
    seed: int, capacity: int
) -> None:
    # Requests arrive, age out, get amended and are pushed out by the count bound; after
    # every tick each window's figures equal those recomputed from its rows, to the last bit.
    rng = random.Random(seed)
    log = RequestLog(capacity=capacity)
    now = NOW
    seqs: list[int] = []
    for tick in range(60):
        now += rng.choice((1.0, 30.0, 400.0, 4000.0))
        for n in range(rng.randint(0, 6)):
            end = now - rng.uniform(0, 90_000) if rng.random() < 0.2 else now
            seqs.append(log.append(random_record(rng, end, tick * 10 + n)))
        if seqs and rng.random() < 0.3:
            log.amend(rng.choice(seqs), ttft_ms=rng.uniform(1, 500), energy_wh=0.5)
        for window in WINDOWS_S:
            assert log.stats(now, window) == recomputed(log, now, window)


def test_the_overall_figures_are_the_subjects_figures_together() -> None:
    rng = random.Random(7)
    logs = [RequestLog(capacity=50) for _ in range(3)]
    overall = CombinedWindows()
    for log in logs:
        overall.attach(log)
    now = NOW
    for tick in range(80):
        now += rng.choice((5.0, 120.0, 2000.0))
        for n in range(rng.randint(0, 4)):
            rng.choice(logs).append(random_record(rng, now, tick * 10 + n))
        for window in WINDOWS_S:
            assert overall.stats(now, window) == combined_stats(logs, now, window)
    # A subject reset: its requests leave the overall figures.
    overall.detach(logs[0])
    assert overall.stats(now, 86400) == combined_stats(logs[1:], now, 86400)


def test_a_clock_that_goes_back_counts_aged_requests_again() -> None:
    log = RequestLog()
    log.append(random_record(random.Random(1), NOW, 1))
    assert log.stats(NOW + 400, 300).count == 0
    assert log.stats(NOW + 10, 300).count == 1


def test_a_tick_without_changes_reuses_the_figures() -> None:
    log = RequestLog()
    log.append(random_record(random.Random(2), NOW, 1))
    first = log.stats(NOW, 3600)
    assert log.stats(NOW + 1, 3600) is first


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32))
def test_every_figure_is_equal_after_a_save_and_restore(seed: int) -> None:
    rng = random.Random(seed)
    log = RequestLog(capacity=rng.choice((16, 20_000)))
    now = NOW
    for tick in range(rng.randint(1, 40)):
        now += rng.choice((2.0, 200.0, 3000.0))
        for n in range(rng.randint(0, 5)):
            log.append(random_record(rng, now, tick * 10 + n))
        log.stats(now, 300)
    before = [log.stats(now, window) for window in WINDOWS_S]

    restored = RequestLog.restored(log.as_saved(now), capacity=log.capacity)

    assert [restored.stats(now, window) for window in WINDOWS_S] == before
    assert list(restored.recent) == list(log.recent)


def test_a_restore_reads_columns_by_name_and_drops_broken_rows() -> None:
    log = RequestLog()
    log.append(random_record(random.Random(3), NOW, 1))
    saved = log.as_saved(NOW)
    rows = np.frombuffer(__import__("base64").b64decode(saved["rows"]), "<f8")
    rows = rows.reshape(1, -1)
    # An older version without the last column, and a row with no end.
    older = np.vstack([rows[:, :-1], np.full((1, rows.shape[1] - 1), math.nan)])
    saved |= {
        "columns": saved["columns"][:-1],
        "rows": __import__("base64").b64encode(older.tobytes()).decode(),
    }
    restored = RequestLog.restored(saved)
    assert len(restored) == 1
    assert (
        restored.rows_within(NOW, 300)[0, -1] != restored.rows_within(NOW, 300)[0, -1]
    )


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"columns": ["end"], "rows": "not base64!", "error_codes": [], "recent": []},
        {"columns": ["end", "x"], "rows": "AAAA", "error_codes": [], "recent": []},
        {"columns": ["end"], "rows": "", "error_codes": [], "recent": [{"id": 1}]},
    ],
)
def test_a_malformed_saved_log_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="malformed"):
        RequestLog.restored(broken)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 3))
def test_rows_taken_in_at_once_give_the_figures_of_rows_taken_one_by_one(
    seed: int, subjects: int
) -> None:
    # A restore takes the whole history in at once, vectorised; a tick takes a few rows.
    rng = random.Random(seed)
    records = [
        random_record(rng, NOW - rng.uniform(0, 90_000), n)
        for n in range(rng.randint(BULK_ROWS + 1, 3 * BULK_ROWS))
    ]
    one_by_one, at_once = RequestLog(), RequestLog()
    overall = CombinedWindows()
    overall.attach(at_once)
    for other in range(subjects):  # other subjects already in the overall figures
        log = RequestLog()
        log.append(random_record(rng, NOW - other, 10_000 + other))
        overall.attach(log)
    for n, record in enumerate(records):
        one_by_one.append(record)
        if n % 7 == 0:
            one_by_one.refresh(NOW)
    for record in records:
        at_once.append(record)

    for window in WINDOWS_S:
        assert at_once.stats(NOW, window) == one_by_one.stats(NOW, window)
        assert overall.stats(NOW, window) == combined_stats(overall.logs, NOW, window)
    # Taking them all out at once (a reset) leaves the others' figures.
    overall.detach(at_once)
    for window in WINDOWS_S:
        assert overall.stats(NOW, window) == combined_stats(overall.logs, NOW, window)


def test_sums_are_whole_numbers_that_never_drift() -> None:
    aggregate = WindowAggregate()
    rows = []
    for n in range(1, 50):
        row = dict.fromkeys(COLUMNS, math.nan) | {
            "end": NOW,
            "duration_ms": 1.0,
            "error": 0.0,
            "tool_calls": 0.0,
            "tool_failures": 0.0,
            "decode_tokens": 3.0,
            "decode_ms": 0.1 * n,
        }
        rows.append(list(row.values()))
    for row in rows:
        aggregate.update(contribution(row, []), 1)
    for row in rows[1:]:
        aggregate.update(contribution(row, []), -1)
    # 0.1 added 49 times and taken away 48 times in floats leaves 0.1 plus an error.
    assert aggregate.stats(300).output_tokens_per_s == 3 / (0.1 / 1000)


@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=50),
    st.floats(0, 100),
)
def test_sorted_percentile_equals_numpy_to_the_last_bit(
    values: list[float], q: float
) -> None:
    assert sorted_percentile(sorted(values), q) == float(np.percentile(values, q))


def test_requests_pushed_out_by_the_count_bound_are_counted_and_restored() -> None:
    rng = random.Random(4)
    log = RequestLog(capacity=3)
    for n in range(5):
        log.append(random_record(rng, NOW - n, n))
    assert log.evicted == 2
    assert RequestLog.restored(log.as_saved(NOW), capacity=3).evicted == 2
