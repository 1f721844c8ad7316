"""Window aggregates of AI requests: the row layout, and figures kept up to date as rows come and go.

A request log stores one row of floats per request (see COLUMNS). The figures of a window (the
last 5 minutes, hour, day) are kept by a ``WindowAggregate``: adding a row or taking one away
costs a few binary searches and exact integer additions, and reading the figures costs a
handful of lookups, so a tick's cost grows with the requests that arrived or aged out since
the last one, never with the history. Percentiles stay exact (sorted values, numpy's own
interpolation) and sums never drift (exact integer arithmetic), so the figures equal those of
``window_stats``, which recomputes a window from its rows.
"""

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math
from math import isnan
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


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Aggregates of the requests that ended within one window (times in ms, shares in %)."""

    window_s: float
    count: int
    requests_per_minute: float
    error_rate: float | None = None
    errors_by_code: Mapping[str, int] = field(default_factory=dict)
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


def _figures(  # noqa: PLR0913 - one argument per figure family
    window_s: float,
    count: int,
    *,
    complete: bool,
    errors: Mapping[str, int],
    percentile: Mapping[str, float | None],
    latency_max: float,
    decode: tuple[float, float, int],
    cache: tuple[float, float, int],
    local: tuple[float, int],
    tools: tuple[float, float],
    energy: tuple[float, int],
) -> WindowStats:
    """Round the window's figures the one way both methods share."""
    decode_tokens, decode_ms, timed = decode
    input_tokens, cached, cache_rows = cache
    local_sum, local_known = local
    tool_calls, tool_failures = tools
    energy_sum, energy_known = energy
    error_count = sum(errors.values())
    return WindowStats(
        window_s=window_s,
        count=count,
        requests_per_minute=round(count / (window_s / 60), 3),
        error_rate=round(error_count / count * 100, 3),
        errors_by_code=dict(errors),
        latency_p50=_round(percentile["duration_ms@50"]),
        latency_p95=_round(percentile["duration_ms@95"]),
        latency_p99=_round(percentile["duration_ms@99"]),
        latency_max=round(latency_max, 3),
        ttft_p50=_round(percentile["ttft_ms@50"]),
        ttft_p95=_round(percentile["ttft_ms@95"]),
        stt_p95=_round(percentile["stt_ms@95"]),
        agent_p95=_round(percentile["agent_ms@95"]),
        perceived_p95=_round(percentile["perceived_ms@95"]),
        # Tokens after the first over the time after the first, where generation was timed
        # (see RequestRecord.decoding); never tokens over the whole latency.
        output_tokens_per_s=(
            round(decode_tokens / (decode_ms / 1000), 3)
            if timed and decode_ms > 0
            else None
        ),
        cache_hit_percent=(
            round(cached / input_tokens * 100, 3)
            if cache_rows and input_tokens > 0
            else None
        ),
        local_percent=(
            round(local_sum / local_known * 100, 3) if local_known else None
        ),
        tool_failure_rate=(
            round(tool_failures / tool_calls * 100, 3) if tool_calls else None
        ),
        # A request can cost a hundredth of a cent: keep the digits that show it.
        cost_p50=_round(percentile["cost@50"], 8),
        energy_wh_mean=(round(energy_sum / energy_known, 6) if energy_known else None),
        complete=complete,
    )


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


def window_stats(
    rows: np.ndarray, window_s: float, codes: Sequence[str], *, complete: bool = True
) -> WindowStats:
    """Aggregate ``rows`` (see COLUMNS) of one window from scratch."""
    count = len(rows)
    if count == 0:
        return WindowStats(
            window_s, 0, round(0 / (window_s / 60), 3), complete=complete
        )

    def known(index: int) -> np.ndarray:
        values = rows[:, index]
        known_values: np.ndarray = values[~np.isnan(values)]
        return known_values

    percentile: dict[str, float | None] = {}
    for name, q in _SHOWN:
        values = known(COL[name])
        percentile[f"{name}@{q}"] = (
            float(np.percentile(values, q)) if len(values) else None
        )
    error_column = rows[:, _ERROR]
    indexes, counts = np.unique(error_column[error_column > 0], return_counts=True)
    timed = ~np.isnan(rows[:, _DECODE_TOKENS]) & ~np.isnan(rows[:, _DECODE_MS])
    both = ~np.isnan(rows[:, _INPUT]) & ~np.isnan(rows[:, _CACHED])
    local = known(_LOCAL)
    energy = known(_ENERGY)
    return _figures(
        window_s,
        count,
        complete=complete,
        errors={
            codes[int(i) - 1]: int(n) for i, n in zip(indexes, counts, strict=True)
        },
        percentile=percentile,
        latency_max=float(rows[:, _DURATION].max()),
        decode=(
            math.fsum(rows[timed, _DECODE_TOKENS]),
            math.fsum(rows[timed, _DECODE_MS]),
            int(timed.sum()),
        ),
        cache=(
            math.fsum(rows[both, _INPUT]),
            math.fsum(rows[both, _CACHED]),
            int(both.sum()),
        ),
        local=(math.fsum(local), len(local)),
        tools=(math.fsum(rows[:, _TOOL_CALLS]), math.fsum(rows[:, _TOOL_FAILURES])),
        energy=(math.fsum(energy), len(energy)),
    )


# Every finite double is a whole multiple of 2**-1074: scaled by 2**1074, sums are exact integers.
_SCALE_BITS: Final = 1074


class ExactSum:
    """A sum of floats that adding and taking away keep exact, so that it never drifts."""

    __slots__ = ("_scaled",)

    def __init__(self) -> None:
        """Start at zero."""
        self._scaled = 0

    def add(self, value: float, sign: int = 1) -> None:
        """Add ``value`` (``sign`` -1 takes it away)."""
        numerator, denominator = value.as_integer_ratio()
        shift = _SCALE_BITS - (denominator.bit_length() - 1)
        self._scaled += sign * (numerator << shift)

    @property
    def value(self) -> float:
        """Return the sum, correctly rounded to a float."""
        try:
            return self._scaled / (1 << _SCALE_BITS)
        except OverflowError:
            return math.copysign(math.inf, self._scaled)


class WindowAggregate:
    """The figures of one window, updated as rows enter and leave it."""

    def __init__(self) -> None:
        """Start empty."""
        self.count = 0
        self._ranked: dict[int, list[float]] = {i: [] for i in _RANKED_INDEXES}
        self._errors: Counter[str] = Counter()
        self._tool_calls = ExactSum()
        self._tool_failures = ExactSum()
        self._decode_tokens, self._decode_ms = ExactSum(), ExactSum()
        self._timed = 0
        self._input, self._cached = ExactSum(), ExactSum()
        self._cache_rows = 0
        self._local_sum, self._local_known = 0.0, 0
        self._energy = ExactSum()
        self._energy_known = 0
        # Bumped on every change: figures read twice without a change are built once.
        self.version = 0
        self._cached_figures: tuple[int, float, bool, WindowStats] | None = None

    def update(self, row: Sequence[float], codes: Sequence[str], sign: int) -> None:
        """Add the row (``sign`` 1) or take it away (-1); ``codes`` name its error index."""
        self.version += 1
        self.count += sign
        for index in _RANKED_INDEXES:
            value = row[index]
            if not isnan(value):
                ranked = self._ranked[index]
                if sign > 0:
                    insort(ranked, value)
                else:
                    del ranked[bisect_left(ranked, value)]
        if error := int(row[_ERROR]):
            code = codes[error - 1]
            self._errors[code] += sign
            if not self._errors[code]:
                del self._errors[code]
        self._tool_calls.add(row[_TOOL_CALLS], sign)
        self._tool_failures.add(row[_TOOL_FAILURES], sign)
        tokens, decode_ms = row[_DECODE_TOKENS], row[_DECODE_MS]
        if not (isnan(tokens) or isnan(decode_ms)):
            self._decode_tokens.add(tokens, sign)
            self._decode_ms.add(decode_ms, sign)
            self._timed += sign
        input_tokens, cached = row[_INPUT], row[_CACHED]
        if not (isnan(input_tokens) or isnan(cached)):
            self._input.add(input_tokens, sign)
            self._cached.add(cached, sign)
            self._cache_rows += sign
        if not isnan(local := row[_LOCAL]):
            self._local_sum += sign * local
            self._local_known += sign
        if not isnan(energy := row[_ENERGY]):
            self._energy.add(energy, sign)
            self._energy_known += sign

    def stats(self, window_s: float, *, complete: bool = True) -> WindowStats:
        """Return the window's figures."""
        cached = self._cached_figures
        if cached is not None and cached[:3] == (self.version, window_s, complete):
            return cached[3]
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
                percentile={
                    f"{name}@{q}": sorted_percentile(self._ranked[COL[name]], q)
                    for name, q in _SHOWN
                },
                latency_max=self._ranked[_DURATION][-1],
                decode=(self._decode_tokens.value, self._decode_ms.value, self._timed),
                cache=(self._input.value, self._cached.value, self._cache_rows),
                local=(self._local_sum, self._local_known),
                tools=(self._tool_calls.value, self._tool_failures.value),
                energy=(self._energy.value, self._energy_known),
            )
        self._cached_figures = (self.version, window_s, complete, figures)
        return figures
