"""AI requests: one record per request, a bounded log per subject, and window aggregates.

A subject is what gets a device: a conversation agent or AI Task entity, an Assist pipeline, or a
name that an automation reports requests under. Each subject's log keeps its newest records in a
numpy ring (one row of floats per request), so that appending is O(1) and the aggregates of a
window are exact vectorised reductions over the rows inside it, never sketches.
"""

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
import math
from typing import Any, Final

import numpy as np

# Bounds of one subject's log: at most this many records, none older than this. 20 000 rows of
# 18 float64 take 2.9 MB; a home's busiest agent rarely does 2 000 requests a day.
DEFAULT_CAPACITY: Final = 20_000
MAX_AGE_S: Final = 24 * 3600.0
# The newest full records kept per subject (for attributes and ratings).
RECENT_RECORDS: Final = 20
# The windows every subject is aggregated over.
WINDOWS_S: Final = (300.0, 3600.0, 86400.0)

# A latency past a day, or a count past ten million tokens, is a broken measurement.
MAX_DURATION_MS: Final = 86_400_000.0
MAX_TOKENS: Final = 10_000_000

LOCAL_AGENT: Final = "conversation.home_assistant"
# A request whose model load took at least this share of its time was a cold start.
COLD_START_SHARE: Final = 0.5


def decoding_after_first_token(
    ttft_ms: float | None, output_tokens: float | None, answer_ms: float
) -> tuple[float, float] | None:
    """Return (tokens after the first, ms after the first token) of an answer, where known.

    ``answer_ms`` is the time from the request to its last token, and the time to first token
    is counted from the same start.
    """
    if ttft_ms is None or output_tokens is None:
        return None
    if math.isnan(ttft_ms) or math.isnan(output_tokens) or output_tokens < 2:
        return None
    after_first_ms = answer_ms - ttft_ms
    if after_first_ms <= 0:
        return None
    return (output_tokens - 1, after_first_ms)


def is_cold_start(load_ms: float | None, duration_ms: float) -> bool:
    """Return True when loading the model took most of a request's time."""
    return load_ms is not None and 0 < COLD_START_SHARE * duration_ms <= load_ms


class RequestSource(StrEnum):
    """Where a request was seen."""

    ASSIST = "assist"
    AGENT = "agent"
    AI_TASK = "ai_task"
    PROBE = "probe"
    BENCHMARK = "benchmark"
    EXTERNAL = "external"


class Complexity(StrEnum):
    """How much work a request took: local intents, an LLM answer, or an LLM using tools."""

    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    """One finished AI request. Times are wall-clock seconds since the epoch."""

    id: str
    source: RequestSource
    subject: str
    start: float
    end: float
    model: str | None = None
    agent_id: str | None = None
    conversation_id: str | None = None
    ttft_ms: float | None = None
    # Model servers that say so (Ollama): how long loading the model took.
    load_ms: float | None = None
    # Whether the model was in memory when the request started, where a watched server says.
    model_loaded: bool | None = None
    # Assist pipelines only: speech-to-text, agent, and end of speech to start of the answer.
    stt_ms: float | None = None
    agent_ms: float | None = None
    perceived_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    tool_calls: int = 0
    tool_failures: int = 0
    processed_locally: bool | None = None
    error: str | None = None
    cost: float | None = None
    energy_wh: float | None = None
    # Generation after the first token: how many tokens and how long, where it was measured
    # (a server's own timings). Left None, it is derived from the time to first token.
    decode_tokens: int | None = None
    decode_ms: float | None = None

    @property
    def duration_ms(self) -> float:
        """Return how long the request took, in milliseconds."""
        return round((self.end - self.start) * 1000, 3)

    def decoding(self) -> tuple[float, float] | None:
        """Return the tokens generated after the first one and the time they took.

        From the server's own timings where the record has them, else from the time to first
        token: the output tokens but one over the time after the first token (not for a turn
        with tool calls, whose tokens span several model calls). None where neither is known,
        so that speed is never a blend with the time to the first token.
        """
        if self.decode_tokens is not None and self.decode_ms is not None:
            return (float(self.decode_tokens), self.decode_ms)
        if self.tool_calls:
            # The tokens and the time after the first include tool rounds: not generation.
            return None
        return decoding_after_first_token(
            self.ttft_ms,
            self.output_tokens,
            self.agent_ms if self.agent_ms is not None else self.duration_ms,
        )

    @property
    def complexity(self) -> Complexity:
        """Return simple (local intents), moderate (LLM) or complex (LLM with tool calls)."""
        if self.processed_locally:
            return Complexity.SIMPLE
        return Complexity.COMPLEX if self.tool_calls else Complexity.MODERATE

    @property
    def cold_start(self) -> bool:
        """Return True when the request waited mostly for its model to load."""
        return is_cold_start(self.load_ms, self.duration_ms)

    @property
    def cold(self) -> bool | None:
        """Return whether the request found its model unloaded; None where nobody says.

        Measured where the server reports its load time, else inferred from whether a watched
        server held the model when the request started.
        """
        if self.load_ms is not None:
            return self.cold_start
        return None if self.model_loaded is None else not self.model_loaded

    def as_log_dict(self) -> dict[str, Any]:
        """Return the record as the JSON object of its DEBUG log line (unknown fields left out)."""
        data = {
            "ai_performance_id": self.id,
            **{
                f.name: getattr(self, f.name)
                for f in fields(self)
                if f.name != "id" and getattr(self, f.name) is not None
            },
            "duration_ms": self.duration_ms,
            "complexity": self.complexity.value,
        }
        data["source"] = self.source.value
        return data


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
_COL: Final = {name: index for index, name in enumerate(COLUMNS)}
BYTES_PER_ROW: Final = len(COLUMNS) * 8


def column(rows: np.ndarray, name: str) -> np.ndarray:
    """Return column ``name`` (see COLUMNS) of log rows."""
    values: np.ndarray = rows[:, _COL[name]]
    return values


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


@dataclass(slots=True)
class Totals:
    """Lifetime counters of a subject; they survive restarts."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    tool_calls: int = 0
    tool_failures: int = 0
    cost: float = 0.0
    energy_wh: float = 0.0
    cold_starts: int = 0
    cold_start_ms: float = 0.0
    ratings_up: int = 0
    ratings_down: int = 0

    def add(self, record: RequestRecord) -> None:
        """Count one finished request."""
        self.requests += 1
        self.errors += record.error is not None
        self.input_tokens += record.input_tokens or 0
        self.output_tokens += record.output_tokens or 0
        self.cached_input_tokens += record.cached_input_tokens or 0
        self.tool_calls += record.tool_calls
        self.tool_failures += record.tool_failures
        self.cost += record.cost or 0.0
        self.energy_wh += record.energy_wh or 0.0
        if record.cold_start:
            self.cold_starts += 1
            self.cold_start_ms += record.load_ms or 0.0

    @property
    def cold_start_mean_ms(self) -> float | None:
        """Return how long the model took to load in a cold start, on average."""
        if not self.cold_starts:
            return None
        return round(self.cold_start_ms / self.cold_starts, 1)

    @property
    def satisfaction_percent(self) -> float | None:
        """Return the share of thumbs up among all ratings, in %, or None before any rating."""
        rated = self.ratings_up + self.ratings_down
        return None if rated == 0 else round(self.ratings_up / rated * 100, 1)

    def as_dict(self) -> dict[str, float]:
        """Return the counters for storage."""
        return asdict(self)

    def copy(self) -> Totals:
        """Return an independent copy (for an immutable snapshot)."""
        return Totals(**asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Totals:
        """Return counters read back from storage; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


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


class RequestLog:
    """The bounded log of one subject: newest ``capacity`` requests, aggregated per window.

    Rows are stored in append order in a ring that grows by doubling up to ``capacity``, so a
    quiet subject costs little memory and a busy one never more than ``capacity`` rows.
    """

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_age_s: float = MAX_AGE_S
    ) -> None:
        """Start an empty log."""
        if capacity < 1:
            msg = f"capacity must be positive, got {capacity}"
            raise ValueError(msg)
        self.capacity = capacity
        self.max_age_s = max_age_s
        self._rows = np.empty((min(capacity, 64), len(COLUMNS)))
        self._appended = 0
        # The newest end time among the rows overwritten by newer ones.
        self._evicted_until = -math.inf
        # The error codes seen, in order: the error column holds 1 + an index into it.
        self.error_codes: list[str] = []
        self.recent: deque[RequestRecord] = deque(maxlen=RECENT_RECORDS)

    def __len__(self) -> int:
        """Return how many records the log holds now."""
        return min(self._appended, self._rows.shape[0])

    @property
    def nbytes(self) -> int:
        """Return the memory the rows take now."""
        return self._rows.nbytes

    def append(self, record: RequestRecord) -> int:
        """Add a finished request; return its sequence number (for ``amend``)."""
        seq = self._appended
        size = self._rows.shape[0]
        if seq == size and size < self.capacity:
            grown = np.empty((min(size * 2, self.capacity), len(COLUMNS)))
            grown[:size] = self._rows
            self._rows = grown
            size = grown.shape[0]
        row = seq % size
        if seq >= size:
            self._evicted_until = max(self._evicted_until, self._rows[row, 0])
        decode_tokens, decode_ms = record.decoding() or (math.nan, math.nan)
        self._rows[row] = (
            record.end,
            record.duration_ms,
            _num(record.ttft_ms),
            _num(record.stt_ms),
            _num(record.agent_ms),
            _num(record.perceived_ms),
            _num(record.input_tokens),
            _num(record.output_tokens),
            _num(record.cached_input_tokens),
            record.tool_calls,
            record.tool_failures,
            0 if record.error is None else self._code_index(record.error) + 1,
            _num(record.processed_locally),
            _num(record.cost),
            _num(record.energy_wh),
            _num(record.cold),
            decode_tokens,
            decode_ms,
        )
        self._appended = seq + 1
        self.recent.append(record)
        return seq

    def amend(self, seq: int, **values: float | None) -> bool:
        """Set columns of a stored request that became known later (TTFT, tokens, energy).

        Return False when the request was already pushed out of the log.
        """
        size = self._rows.shape[0]
        if seq >= self._appended or seq < self._appended - size:
            return False
        row = self._rows[seq % size]
        for name, value in values.items():
            row[_COL[name]] = _num(value)
        if (
            "ttft_ms" in values
            and math.isnan(row[_COL["decode_ms"]])
            and not row[_COL["tool_calls"]]
        ):
            # A time to first token known only now (from a pipeline) times the generation.
            agent_ms = row[_COL["agent_ms"]]
            decoding = decoding_after_first_token(
                row[_COL["ttft_ms"]],
                row[_COL["output_tokens"]],
                row[_COL["duration_ms"]] if math.isnan(agent_ms) else agent_ms,
            )
            if decoding is not None:
                row[_COL["decode_tokens"]], row[_COL["decode_ms"]] = decoding
        return True

    def rows_within(self, now: float, window_s: float) -> np.ndarray:
        """Return a copy of the rows of requests that ended within ``window_s`` before ``now``."""
        rows = self._rows[: len(self)]
        horizon = now - min(window_s, self.max_age_s)
        return rows[rows[:, 0] > horizon]

    def complete_within(self, now: float, window_s: float) -> bool:
        """Return False when requests that ended within the window were pushed out."""
        return bool(self._evicted_until <= now - window_s)

    def stats(self, now: float, window_s: float) -> WindowStats:
        """Return the aggregates of the requests that ended within ``window_s`` before ``now``."""
        return window_stats(
            self.rows_within(now, window_s),
            window_s,
            self.error_codes,
            complete=self.complete_within(now, window_s),
        )

    def _code_index(self, code: str) -> int:
        try:
            return self.error_codes.index(code)
        except ValueError:
            self.error_codes.append(code)
            return len(self.error_codes) - 1


def records_stats(records: Iterable[RequestRecord]) -> WindowStats:
    """Return the aggregates of ``records`` together, whenever they ended."""
    records = list(records)
    log = RequestLog(capacity=max(len(records), 1), max_age_s=math.inf)
    for record in records:
        log.append(record)
    last_end = max((r.end for r in records), default=0.0)
    span = last_end - min((r.start for r in records), default=0.0)
    rows = log.rows_within(last_end + 1, math.inf)
    return window_stats(rows, max(span, 1.0), log.error_codes)


def combined_stats(
    logs: Iterable[RequestLog], now: float, window_s: float
) -> WindowStats:
    """Return the aggregates of several subjects together (the overview's overall figures)."""
    logs = list(logs)
    codes: list[str] = []
    parts = []
    for log in logs:
        rows = log.rows_within(now, window_s)
        # Re-number each log's error codes into one shared list.
        if len(rows) and log.error_codes:
            mapping = np.array(
                [0.0] + [_shared_index(codes, code) + 1.0 for code in log.error_codes]
            )
            rows[:, _COL["error"]] = mapping[rows[:, _COL["error"]].astype(int)]
        parts.append(rows)
    rows = np.concatenate(parts) if parts else np.empty((0, len(COLUMNS)))
    complete = all(log.complete_within(now, window_s) for log in logs)
    return window_stats(rows, window_s, codes, complete=complete)


def _shared_index(codes: list[str], code: str) -> int:
    if code not in codes:
        codes.append(code)
    return codes.index(code)


def window_stats(
    rows: np.ndarray, window_s: float, codes: list[str], *, complete: bool = True
) -> WindowStats:
    """Aggregate ``rows`` (see COLUMNS) of one window."""
    count = len(rows)
    per_minute = round(count / (window_s / 60), 3)
    if count == 0:
        return WindowStats(window_s, 0, per_minute, complete=complete)

    def column(name: str) -> np.ndarray:
        return rows[:, _COL[name]]

    def known(name: str) -> np.ndarray:
        values = column(name)
        known_values: np.ndarray = values[~np.isnan(values)]
        return known_values

    def pct(name: str, q: float, digits: int = 3) -> float | None:
        values = known(name)
        return round(float(np.percentile(values, q)), digits) if len(values) else None

    error_column = column("error")
    error_indexes, error_counts = np.unique(
        error_column[error_column > 0], return_counts=True
    )
    duration = column("duration_ms")
    tool_calls = float(column("tool_calls").sum())
    local = known("local")
    return WindowStats(
        window_s=window_s,
        count=count,
        requests_per_minute=per_minute,
        error_rate=round(float(error_counts.sum()) / count * 100, 3),
        errors_by_code={
            codes[int(i) - 1]: int(n)
            for i, n in zip(error_indexes, error_counts, strict=True)
        },
        latency_p50=pct("duration_ms", 50),
        latency_p95=pct("duration_ms", 95),
        latency_p99=pct("duration_ms", 99),
        latency_max=round(float(duration.max()), 3),
        ttft_p50=pct("ttft_ms", 50),
        ttft_p95=pct("ttft_ms", 95),
        stt_p95=pct("stt_ms", 95),
        agent_p95=pct("agent_ms", 95),
        perceived_p95=pct("perceived_ms", 95),
        output_tokens_per_s=_output_tokens_per_s(rows),
        cache_hit_percent=_cache_hit_percent(rows),
        local_percent=round(float(local.mean()) * 100, 3) if len(local) else None,
        tool_failure_rate=(
            round(float(column("tool_failures").sum()) / tool_calls * 100, 3)
            if tool_calls
            else None
        ),
        # A request can cost a hundredth of a cent: keep the digits that show it.
        cost_p50=pct("cost", 50, digits=8),
        energy_wh_mean=(
            round(float(energy.mean()), 6)
            if len(energy := known("energy_wh"))
            else None
        ),
        complete=complete,
    )


def _output_tokens_per_s(rows: np.ndarray) -> float | None:
    """Return the generation speed: tokens after the first over the time after the first.

    Only requests whose generation was timed count (see ``RequestRecord.decoding``); without
    any, the speed is unknown rather than tokens over the whole latency.
    """
    tokens = rows[:, _COL["decode_tokens"]]
    timed = ~np.isnan(tokens) & ~np.isnan(rows[:, _COL["decode_ms"]])
    if not timed.any():
        return None
    generating_s = float(rows[timed, _COL["decode_ms"]].sum()) / 1000
    if generating_s <= 0:
        return None
    return round(float(tokens[timed].sum()) / generating_s, 3)


def _cache_hit_percent(rows: np.ndarray) -> float | None:
    """Return cached input tokens as a share of input tokens, where both are known."""
    input_tokens = rows[:, _COL["input_tokens"]]
    cached = rows[:, _COL["cached_input_tokens"]]
    both = ~np.isnan(input_tokens) & ~np.isnan(cached)
    total = float(input_tokens[both].sum())
    if not both.any() or total <= 0:
        return None
    return round(float(cached[both].sum()) / total * 100, 3)
