"""Window aggregates of AI requests: the row layout, and figures kept up to date as rows come and go.

A request log stores one row of floats per request (see COLUMNS). The figures of a window (the
last 5 minutes, hour, day) are kept by a ``WindowAggregate``: adding a row or taking one away
costs a few binary searches and exact integer additions, and reading the figures costs a
handful of lookups, so a tick's cost grows with the requests that arrived or aged out since
the last one, never with the history. Percentiles stay exact (sorted values, numpy's own
interpolation) and sums never drift (exact integer arithmetic), so the figures equal those of
``window_stats``, which recomputes a window from its rows.

A window counts its errors by code, and which codes are failures is decided only when its
figures are read: an answer such as "no such device" is counted apart (unanswered), never as a
failure, and changing which codes are answers changes every window's figures at once, with no
row read again.
"""

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import isnan
from operator import add, sub
from typing import Final

import numpy as np

from .stats import sorted_percentile

# The row layout of a log: one float64 per column, NaN where a value is unknown.
COLUMNS: Final = (
    "end",
    "duration_ms",
    "ttft_ms",
    "stt_ms",
    "agent_ms",
    "perceived_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "tool_calls",
    "tool_failures",
    "error",  # 0 without error, else 1 + the index of the error code in the log's code list
    "local",
    "cost",
    "energy_wh",
    "cold",
    "decode_tokens",
    "decode_ms",
)
COL: Final = {name: index for index, name in enumerate(COLUMNS)}
BYTES_PER_ROW: Final = len(COLUMNS) * 8
# The columns whose percentiles the figures show.
_RANKED: Final = (
    "duration_ms",
    "ttft_ms",
    "stt_ms",
    "agent_ms",
    "perceived_ms",
    "cost",
)

_END, _DURATION, _TOOL_CALLS, _TOOL_FAILURES, _ERROR, _LOCAL = (
    COL["end"],
    COL["duration_ms"],
    COL["tool_calls"],
    COL["tool_failures"],
    COL["error"],
    COL["local"],
)
_INPUT, _CACHED, _ENERGY = (
    COL["input_tokens"],
    COL["cached_input_tokens"],
    COL["energy_wh"],
)
_DECODE_TOKENS, _DECODE_MS = COL["decode_tokens"], COL["decode_ms"]
_RANKED_INDEXES: Final = tuple(COL[name] for name in _RANKED)

# Error codes that are the assistant answering, not failing (Home Assistant's intent error
# codes for a sentence it could not understand and for a device it does not know): counted as
# unanswered, not against the error rate, availability or error budget, unless set otherwise.
DEFAULT_ANSWER_CODES: Final = frozenset({"no_intent_match", "no_valid_targets"})


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Aggregates of the requests that ended within one window (times in ms, shares in %)."""

    window_s: float
    count: int
    requests_per_minute: float
    # Requests that failed (any error code but the answer codes), and those answered without
    # doing what was asked (the answer codes: not understood, no such device).
    error_rate: float | None = None
    errors_by_code: Mapping[str, int] = field(default_factory=dict)
    unanswered_rate: float | None = None
    unanswered_by_code: Mapping[str, int] = field(default_factory=dict)
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    stt_p95: float | None = None
    agent_p95: float | None = None
    perceived_p95: float | None = None
    output_tokens_per_s: float | None = None
    cache_hit_percent: float | None = None
    local_percent: float | None = None
    tool_failure_rate: float | None = None
    cost_p50: float | None = None
    energy_wh_mean: float | None = None
    # False when records of this window were pushed out by the count bound: the aggregates then
    # cover only the newest DEFAULT_CAPACITY requests of the window.
    complete: bool = True


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _figures(  # noqa: PLR0913 - every figure family has its own input
    window_s: float,
    count: int,
    *,
    complete: bool,
    errors: Mapping[str, int],
    answers: frozenset[str],
    percentiles: Sequence[float | None],
    latency_max: float,
    sums: Sequence[int],
) -> WindowStats:
    """Build the figures from the counts, the percentiles of _SHOWN and the SUMS: one way.

    ``errors`` counts every error code; those in ``answers`` are unanswered, not failures.
    """
    p50, p95, p99, ttft_p50, ttft_p95, stt_p95, agent_p95, perceived_p95, cost_p50 = (
        percentiles
    )
    (
        tool_calls,
        tool_failures,
        timed,
        decode_tokens,
        decode_steps,
        cache_rows,
        input_tokens,
        cached,
        local_known,
        local,
        energy_known,
        energy_steps,
    ) = sums
    decode_s = decode_steps / MS_STEPS / 1000
    failures: dict[str, int] = {}
    unanswered: dict[str, int] = {}
    for code, n in errors.items():
        (unanswered if code in answers else failures)[code] = n
    return WindowStats(
        window_s=window_s,
        count=count,
        requests_per_minute=round(count / (window_s / 60), 3),
        error_rate=round(sum(failures.values()) / count * 100, 3),
        errors_by_code=failures,
        unanswered_rate=round(sum(unanswered.values()) / count * 100, 3),
        unanswered_by_code=unanswered,
        latency_p50=_round(p50),
        latency_p95=_round(p95),
        latency_p99=_round(p99),
        latency_max=round(latency_max, 3),
        ttft_p50=_round(ttft_p50),
        ttft_p95=_round(ttft_p95),
        stt_p95=_round(stt_p95),
        agent_p95=_round(agent_p95),
        perceived_p95=_round(perceived_p95),
        # Tokens after the first over the time after the first, where generation was timed
        # (see RequestRecord.decoding); never tokens over the whole latency.
        output_tokens_per_s=(
            round(decode_tokens / decode_s, 3) if timed and decode_s > 0 else None
        ),
        cache_hit_percent=(
            round(cached / input_tokens * 100, 3)
            if cache_rows and input_tokens > 0
            else None
        ),
        local_percent=round(local / local_known * 100, 3) if local_known else None,
        tool_failure_rate=(
            round(tool_failures / tool_calls * 100, 3) if tool_calls else None
        ),
        # A request can cost a hundredth of a cent: keep the digits that show it.
        cost_p50=_round(cost_p50, 8),
        energy_wh_mean=(
            round(energy_steps / WH_STEPS / energy_known, 6) if energy_known else None
        ),
        complete=complete,
    )


# The sums a window keeps, as whole numbers: token and tool counts, flags counted, and times
# and energy in whole steps of a nanosecond and a microwatt-hour. Integers add and take away
# exactly, so a window's figures never drift and are the same however they were reached.
SUMS: Final = (
    "tool_calls",
    "tool_failures",
    "timed",
    "decode_tokens",
    "decode_ms",
    "cache_rows",
    "input",
    "cached",
    "local_known",
    "local",
    "energy_known",
    "energy",
)
MS_STEPS: Final = 1_000_000
WH_STEPS: Final = 1_000_000


def row_sums(row: Sequence[float]) -> tuple[int, ...]:
    """Return one row's share of every sum in SUMS."""
    tokens, decode_ms = row[_DECODE_TOKENS], row[_DECODE_MS]
    timed = not (isnan(tokens) or isnan(decode_ms))
    input_tokens, cached = row[_INPUT], row[_CACHED]
    both = not (isnan(input_tokens) or isnan(cached))
    local, energy = row[_LOCAL], row[_ENERGY]
    return (
        int(row[_TOOL_CALLS]),
        int(row[_TOOL_FAILURES]),
        int(timed),
        int(tokens) if timed else 0,
        round(decode_ms * MS_STEPS) if timed else 0,
        int(both),
        int(input_tokens) if both else 0,
        int(cached) if both else 0,
        int(not isnan(local)),
        0 if isnan(local) else int(local),
        int(not isnan(energy)),
        0 if isnan(energy) else round(energy * WH_STEPS),
    )


def rows_sums(rows: np.ndarray) -> list[int]:
    """Return the sums in SUMS over ``rows``: equal to adding ``row_sums`` of each row."""

    def whole(values: np.ndarray, where: np.ndarray, steps: int = 1) -> int:
        picked = values[where]
        scaled = np.rint(picked * steps) if steps != 1 else np.trunc(picked)
        # Python integers: a sum of many large int64 values must not wrap around.
        return sum(scaled.astype(np.int64).tolist())

    everything = np.ones(len(rows), dtype=bool)
    timed = ~np.isnan(rows[:, _DECODE_TOKENS]) & ~np.isnan(rows[:, _DECODE_MS])
    both = ~np.isnan(rows[:, _INPUT]) & ~np.isnan(rows[:, _CACHED])
    local = ~np.isnan(rows[:, _LOCAL])
    energy = ~np.isnan(rows[:, _ENERGY])
    return [
        whole(rows[:, _TOOL_CALLS], everything),
        whole(rows[:, _TOOL_FAILURES], everything),
        int(timed.sum()),
        whole(rows[:, _DECODE_TOKENS], timed),
        whole(rows[:, _DECODE_MS], timed, MS_STEPS),
        int(both.sum()),
        whole(rows[:, _INPUT], both),
        whole(rows[:, _CACHED], both),
        int(local.sum()),
        whole(rows[:, _LOCAL], local),
        int(energy.sum()),
        whole(rows[:, _ENERGY], energy, WH_STEPS),
    ]


_SHOWN: Final = (
    ("duration_ms", 50),
    ("duration_ms", 95),
    ("duration_ms", 99),
    ("ttft_ms", 50),
    ("ttft_ms", 95),
    ("stt_ms", 95),
    ("agent_ms", 95),
    ("perceived_ms", 95),
    ("cost", 50),
)


# _SHOWN as (position in _RANKED, percentile).
_SHOWN_RANKED: Final = tuple((_RANKED.index(name), q) for name, q in _SHOWN)


def window_stats(
    rows: np.ndarray,
    window_s: float,
    codes: Sequence[str],
    *,
    complete: bool = True,
    answers: frozenset[str] = DEFAULT_ANSWER_CODES,
) -> WindowStats:
    """Aggregate ``rows`` (see COLUMNS) of one window from scratch.

    Errors coded with one of ``answers`` count as unanswered, not as failures.
    """
    count = len(rows)
    if count == 0:
        return WindowStats(
            window_s, 0, round(0 / (window_s / 60), 3), complete=complete
        )

    def known(index: int) -> np.ndarray:
        values = rows[:, index]
        known_values: np.ndarray = values[~np.isnan(values)]
        return known_values

    percentiles = []
    for name, q in _SHOWN:
        values = known(COL[name])
        percentiles.append(float(np.percentile(values, q)) if len(values) else None)
    error_column = rows[:, _ERROR]
    indexes, counts = np.unique(error_column[error_column > 0], return_counts=True)
    return _figures(
        window_s,
        count,
        complete=complete,
        errors={
            codes[int(i) - 1]: int(n) for i, n in zip(indexes, counts, strict=True)
        },
        answers=answers,
        percentiles=percentiles,
        latency_max=float(rows[:, _DURATION].max()),
        sums=rows_sums(rows),
    )


# What one row adds to a window: its ranked values (NaN where unknown, in _RANKED order), its
# error code, and its share of each of SUMS. Worked out once, added to several windows.
type Contribution = tuple[list[float], str | None, tuple[int, ...]]


def contribution(row: list[float], codes: Sequence[str]) -> Contribution:
    """Return what ``row`` (see COLUMNS) adds to a window; ``codes`` name its error index."""
    error = int(row[_ERROR])
    return (
        [row[index] for index in _RANKED_INDEXES],
        codes[error - 1] if error else None,
        row_sums(row),
    )


class WindowAggregate:
    """The figures of one window, updated as rows enter and leave it."""

    def __init__(self) -> None:
        """Start empty."""
        self.count = 0
        self._ranked: list[list[float]] = [[] for _ in _RANKED_INDEXES]
        self._errors: Counter[str] = Counter()
        self._sums = [0] * len(SUMS)
        # Bumped on every change: figures read twice without a change are built once.
        self.version = 0
        self._cached_figures: (
            tuple[int, float, bool, frozenset[str], WindowStats] | None
        ) = None

    def update(self, row: Contribution, sign: int) -> None:
        """Add one row's contribution (``sign`` 1) or take it away (-1)."""
        values, code, sums = row
        self.version += 1
        self.count += sign
        for ranked, value in zip(self._ranked, values, strict=True):
            if not isnan(value):
                if sign > 0:
                    insort(ranked, value)
                else:
                    del ranked[bisect_left(ranked, value)]
        if code is not None:
            self._count_error(code, sign)
        self._sums = list(map(add if sign > 0 else sub, self._sums, sums, strict=True))

    def update_rows(self, rows: np.ndarray, codes: Sequence[str], sign: int) -> None:
        """Add many rows at once (``sign`` 1) or take them away (-1), vectorised."""
        if not len(rows):
            return
        self.version += 1
        self.count += sign * len(rows)
        for position, index in enumerate(_RANKED_INDEXES):
            values = rows[:, index]
            values = np.sort(values[~np.isnan(values)]).tolist()
            ranked = self._ranked[position]
            if sign > 0:
                ranked.extend(values)
                ranked.sort()  # two sorted runs: merged in linear time
            else:
                self._ranked[position] = _without(ranked, values)
        errors = rows[:, _ERROR]
        indexes, counts = np.unique(errors[errors > 0], return_counts=True)
        for error, count in zip(indexes.tolist(), counts.tolist(), strict=True):
            self._count_error(codes[int(error) - 1], sign * count)
        for index, value in enumerate(rows_sums(rows)):
            self._sums[index] += sign * value

    def _count_error(self, code: str, change: int) -> None:
        self._errors[code] += change
        if not self._errors[code]:
            del self._errors[code]

    def stats(
        self,
        window_s: float,
        *,
        complete: bool = True,
        answers: frozenset[str] = DEFAULT_ANSWER_CODES,
    ) -> WindowStats:
        """Return the window's figures; errors coded with one of ``answers`` are unanswered."""
        cached = self._cached_figures
        if cached is not None and cached[:4] == (
            self.version,
            window_s,
            complete,
            answers,
        ):
            return cached[4]
        if self.count == 0:
            figures = window_stats(
                np.empty((0, len(COLUMNS))), window_s, (), complete=complete
            )
        else:
            figures = _figures(
                window_s,
                self.count,
                complete=complete,
                errors=self._errors,
                answers=answers,
                percentiles=[
                    sorted_percentile(self._ranked[position], q)
                    for position, q in _SHOWN_RANKED
                ],
                latency_max=self._ranked[0][-1],  # _RANKED starts with duration_ms
                sums=self._sums,
            )
        self._cached_figures = (self.version, window_s, complete, answers, figures)
        return figures


def _without(ordered: list[float], removed: list[float]) -> list[float]:
    """Return ``ordered`` less the values of ``removed`` (both ascending), once each."""
    kept: list[float] = []
    position = 0
    for value in removed:
        while ordered[position] < value:
            kept.append(ordered[position])
            position += 1
        position += 1  # the removed value itself
    kept.extend(ordered[position:])
    return kept
