"""AI requests: one record per request, a bounded log per subject, and window aggregates.

A subject is what gets a device: a conversation agent or AI Task entity, an Assist pipeline, or a
name that an automation reports requests under. Each subject's log keeps its newest records in a
numpy ring (one row of floats per request), so that appending is O(1), and keeps each window's
figures up to date as rows arrive and age out (see windows.py): exact, never sketches. A log
saves to and restores from a compact form, so that no figure moves across a restart.
"""

import base64
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from heapq import heapify, heappop, heappush
import math
from typing import Any, Final

import numpy as np

from .windows import (
    COL,
    COLUMNS,
    DEFAULT_ANSWER_CODES,
    Contribution,
    WindowAggregate,
    WindowStats,
    contribution,
    window_stats,
)

# Bounds of one subject's log: at most this many records, none older than this. 20 000 rows of
# 18 float64 take 2.9 MB; a home's busiest agent rarely does 2 000 requests a day.
DEFAULT_CAPACITY: Final = 20_000
MAX_AGE_S: Final = 24 * 3600.0
# The newest full records kept per subject (for attributes and ratings).
RECENT_RECORDS: Final = 20
# The windows every subject is aggregated over.
WINDOWS_S: Final = (300.0, 3600.0, 86400.0)
# More rows than this taken in at once (after a restore) go into the windows vectorised.
BULK_ROWS: Final = 256

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

    def as_dict(self) -> dict[str, Any]:
        """Return the record as plain JSON values (for storage)."""
        data = asdict(self)
        data["source"] = self.source.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestRecord:
        """Return a record read back from ``as_dict``; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["source"] = RequestSource(values["source"])
        return cls(**values)

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


def column(rows: np.ndarray, name: str) -> np.ndarray:
    """Return column ``name`` (see COLUMNS) of log rows."""
    values: np.ndarray = rows[:, COL[name]]
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
    # The part of ``cost`` that was the GPU's electricity (local inference).
    electricity_cost: float = 0.0
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
        return Totals(*[getattr(self, name) for name in _TOTALS_FIELDS])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Totals:
        """Return counters read back from storage; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


_TOTALS_FIELDS: Final = tuple(f.name for f in fields(Totals))


class RequestLog:
    """The bounded log of one subject: newest ``capacity`` requests, aggregated per window.

    Rows are stored in append order in a ring that grows by doubling up to ``capacity``, so a
    quiet subject costs little memory and a busy one never more than ``capacity`` rows. The
    figures of each window in WINDOWS_S are kept by a ``WindowAggregate``: ``refresh`` adds the
    rows appended since the last call and takes away those that aged out, so its cost follows
    what changed, not how much the log holds. A log can also feed a shared set of aggregates
    (``attach``): the overview's figures over several subjects.
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
        # The newest end time among the rows overwritten by newer ones, and how many were.
        self._evicted_until = -math.inf
        self.evicted = 0
        # The error codes seen, in order: the error column holds 1 + an index into it.
        self.error_codes: list[str] = []
        self.recent: deque[RequestRecord] = deque(maxlen=RECENT_RECORDS)
        self.windows = [WindowAggregate() for _ in WINDOWS_S]
        self._horizons = [min(window, max_age_s) for window in WINDOWS_S]
        # Aggregates shared with other logs, fed the same rows (None: none).
        self._mirror: list[WindowAggregate] | None = None
        # Rows before this sequence number have been put into the windows they belong to.
        self._applied = 0
        # Per ring slot, bit i set while its row counts in window i.
        self._member = bytearray(self._rows.shape[0])
        # Per window, (end, sequence number) of the rows in it, soonest to age out first.
        self._expiry: list[list[tuple[float, int]]] = [[] for _ in WINDOWS_S]
        self._refreshed_at = -math.inf

    def __len__(self) -> int:
        """Return how many records the log holds now."""
        return min(self._appended, self._rows.shape[0])

    @property
    def nbytes(self) -> int:
        """Return the memory the rows take now."""
        return self._rows.nbytes

    def append(self, record: RequestRecord) -> int:
        """Add a finished request; return its sequence number (for ``amend``)."""
        decode_tokens, decode_ms = record.decoding() or (math.nan, math.nan)
        seq = self._append_row(
            (
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
        )
        self.recent.append(record)
        return seq

    def _append_row(self, values: Sequence[float] | np.ndarray) -> int:
        seq = self._appended
        size = self._rows.shape[0]
        if seq == size and size < self.capacity:
            grown = np.empty((min(size * 2, self.capacity), len(COLUMNS)))
            grown[:size] = self._rows
            self._rows = grown
            self._member.extend(bytes(grown.shape[0] - size))
            size = grown.shape[0]
        slot = seq % size
        if seq >= size:
            # The oldest row is pushed out: out of its windows too.
            self._evicted_until = max(self._evicted_until, self._rows[slot, 0])
            self.evicted += 1
            self._update(slot, -1)
        self._rows[slot] = values
        self._appended = seq + 1
        return seq

    def amend(self, seq: int, **values: float | None) -> bool:
        """Set columns of a stored request that became known later (TTFT, tokens, energy).

        Return False when the request was already pushed out of the log.
        """
        size = self._rows.shape[0]
        if seq >= self._appended or seq < self._appended - size:
            return False
        slot = seq % size
        bits = self._update(slot, -1)
        row = self._rows[slot]
        for name, value in values.items():
            row[COL[name]] = _num(value)
        if (
            "ttft_ms" in values
            and math.isnan(row[COL["decode_ms"]])
            and not row[COL["tool_calls"]]
        ):
            # A time to first token known only now (from a pipeline) times the generation.
            agent_ms = row[COL["agent_ms"]]
            decoding = decoding_after_first_token(
                row[COL["ttft_ms"]],
                row[COL["output_tokens"]],
                row[COL["duration_ms"]] if math.isnan(agent_ms) else agent_ms,
            )
            if decoding is not None:
                row[COL["decode_tokens"]], row[COL["decode_ms"]] = decoding
        self._update(slot, 1, bits)
        return True

    def _update(self, slot: int, sign: int, bits: int | None = None) -> int:
        """Take the row in ``slot`` out of its windows (-1), or put it into ``bits``' (1).

        Return the windows it was in (taking out) or is in now (putting in).
        """
        if sign < 0:
            bits, self._member[slot] = self._member[slot], 0
        elif bits:
            self._member[slot] = bits
        if bits:
            row = contribution(self._rows[slot].tolist(), self.error_codes)
            for index in range(len(self.windows)):
                if bits >> index & 1:
                    self._feed(index, row, sign)
        return bits or 0

    def _feed(self, index: int, row: Contribution, sign: int) -> None:
        self.windows[index].update(row, sign)
        if self._mirror is not None:
            self._mirror[index].update(row, sign)

    def refresh(self, now: float) -> None:
        """Bring every window's figures to ``now``: add new rows, take out aged ones."""
        if now == self._refreshed_at and self._applied == self._appended:
            return
        if now < self._refreshed_at:
            self._withdraw()  # the clock went back: rows that aged out count again
        self._refreshed_at = now
        size = self._rows.shape[0]
        first = max(self._applied, self._appended - size)
        if self._appended - first > BULK_ROWS:
            self._take_in_bulk(first, now)
            first = self._appended
        for seq in range(first, self._appended):
            slot = seq % size
            end = float(self._rows[slot, 0])
            bits = 0
            for index, horizon in enumerate(self._horizons):
                if end > now - horizon:
                    bits |= 1 << index
                    heappush(self._expiry[index], (end, seq))
            self._update(slot, 1, bits)
        self._applied = self._appended
        self._expire(now)

    def _take_in_bulk(self, first: int, now: float) -> None:
        """Put many rows into their windows at once, vectorised (after a restore)."""
        size = self._rows.shape[0]
        seqs = np.arange(first, self._appended)
        slots = seqs % size
        rows = self._rows[slots]
        bits = np.zeros(len(seqs), dtype=np.uint8)
        for index, horizon in enumerate(self._horizons):
            inside = rows[:, 0] > now - horizon
            bits[inside] |= 1 << index
            self.windows[index].update_rows(rows[inside], self.error_codes, 1)
            if self._mirror is not None:
                self._mirror[index].update_rows(rows[inside], self.error_codes, 1)
            expiry = self._expiry[index]
            expiry.extend(
                zip(rows[inside, 0].tolist(), seqs[inside].tolist(), strict=True)
            )
            heapify(expiry)
        for slot, bit in zip(slots.tolist(), bits.tolist(), strict=True):
            self._member[slot] = bit
        self._applied = self._appended

    def _expire(self, now: float) -> None:
        """Take out of each window the rows that aged out of it."""
        size = self._rows.shape[0]
        oldest_held = self._appended - size
        for index, horizon in enumerate(self._horizons):
            expiry, horizon_at = self._expiry[index], now - horizon
            bit = 1 << index
            while expiry and expiry[0][0] <= horizon_at:
                _, seq = heappop(expiry)
                slot = seq % size
                if seq >= oldest_held and self._member[slot] & bit:
                    self._member[slot] &= ~bit
                    row = contribution(self._rows[slot].tolist(), self.error_codes)
                    self._feed(index, row, -1)
            if len(expiry) > 2 * size:
                # Rows pushed out by the count bound leave their entries behind: drop them.
                self._expiry[index] = [
                    (end, seq)
                    for end, seq in expiry
                    if seq >= oldest_held and self._member[seq % size] & bit
                ]
                heapify(self._expiry[index])

    def _withdraw(self) -> None:
        """Take every row out of the windows; the next ``refresh`` puts them back."""
        held = self._rows[: len(self)]
        member = np.frombuffer(bytes(self._member[: len(self)]), dtype=np.uint8)
        for index in range(len(self.windows)):
            if self._mirror is not None:
                inside = (member >> index & 1).astype(bool)
                self._mirror[index].update_rows(held[inside], self.error_codes, -1)
            self.windows[index] = WindowAggregate()
        self._member = bytearray(self._rows.shape[0])
        self._expiry = [[] for _ in WINDOWS_S]
        self._applied = self._appended - len(self)
        self._refreshed_at = -math.inf

    def attach(self, mirror: list[WindowAggregate] | None) -> None:
        """Feed the shared aggregates ``mirror`` (one per window) too; None stops feeding."""
        self._withdraw()
        self._mirror = mirror

    def rows_within(self, now: float, window_s: float) -> np.ndarray:
        """Return a copy of the rows of requests that ended within ``window_s`` before ``now``."""
        rows = self._rows[: len(self)]
        horizon = now - min(window_s, self.max_age_s)
        return rows[rows[:, 0] > horizon]

    def complete_within(self, now: float, window_s: float) -> bool:
        """Return False when requests that ended within the window were pushed out."""
        return bool(self._evicted_until <= now - window_s)

    def stats(
        self,
        now: float,
        window_s: float,
        answers: frozenset[str] = DEFAULT_ANSWER_CODES,
    ) -> WindowStats:
        """Return the aggregates of the requests that ended within ``window_s`` before ``now``.

        Errors coded with one of ``answers`` count as unanswered, not as failures.
        """
        complete = self.complete_within(now, window_s)
        if window_s not in WINDOWS_S:
            return window_stats(
                self.rows_within(now, window_s),
                window_s,
                self.error_codes,
                complete=complete,
                answers=answers,
            )
        self.refresh(now)
        return self.windows[WINDOWS_S.index(window_s)].stats(
            window_s, complete=complete, answers=answers
        )

    def _code_index(self, code: str) -> int:
        try:
            return self.error_codes.index(code)
        except ValueError:
            self.error_codes.append(code)
            return len(self.error_codes) - 1

    def _rows_in_order(self) -> np.ndarray:
        """Return the rows held, oldest first."""
        size = self._rows.shape[0]
        if self._appended <= size:
            return self._rows[: self._appended]
        start = self._appended % size
        return np.concatenate((self._rows[start:], self._rows[:start]))

    def as_saved(self, now: float) -> dict[str, Any]:
        """Return what ``restored`` needs to rebuild the log: the rows still within its age."""
        rows = self._rows_in_order()
        rows = rows[rows[:, 0] > now - self.max_age_s]
        return {
            "columns": list(COLUMNS),
            "rows": base64.b64encode(rows.astype("<f8").tobytes()).decode("ascii"),
            "error_codes": list(self.error_codes),
            "evicted_until": (
                self._evicted_until if math.isfinite(self._evicted_until) else None
            ),
            "evicted": self.evicted,
            "recent": [record.as_dict() for record in self.recent],
        }

    @classmethod
    def restored(
        cls,
        data: Mapping[str, Any],
        capacity: int = DEFAULT_CAPACITY,
        max_age_s: float = MAX_AGE_S,
    ) -> RequestLog:
        """Return the log ``as_saved`` described; raise ValueError when it is malformed.

        Columns are matched by name, so a log saved before a column was added restores with
        that column unknown.
        """
        log = cls(capacity, max_age_s)
        try:
            columns = [str(name) for name in data["columns"]]
            codes = [str(code) for code in data["error_codes"]]
            flat = np.frombuffer(base64.b64decode(data["rows"]), dtype="<f8")
            saved = flat.reshape(-1, len(columns)).astype(float)
            recent = [RequestRecord.from_dict(item) for item in data["recent"]]
            evicted_until = data.get("evicted_until")
        except (KeyError, TypeError, ValueError) as err:
            msg = f"malformed saved request log: {err}"
            raise ValueError(msg) from err
        rows = np.full((len(saved), len(COLUMNS)), math.nan)
        for index, name in enumerate(columns):
            if name in COL:
                rows[:, COL[name]] = saved[:, index]
        # Only rows a log could have written: a known end and latency, a known error code.
        errors = rows[:, COL["error"]]
        rows = rows[
            np.isfinite(rows[:, 0])
            & np.isfinite(rows[:, COL["duration_ms"]])
            & (errors >= 0)
            & (errors <= len(codes))
            & (errors == np.floor(errors))
        ]
        log.error_codes = codes
        for row in rows[-capacity:]:
            log._append_row(row)
        log.recent.extend(recent)
        if isinstance(evicted_until, int | float) and math.isfinite(evicted_until):
            log._evicted_until = float(evicted_until)
        if isinstance(evicted := data.get("evicted"), int) and evicted >= 0:
            log.evicted = evicted
        return log


class CombinedWindows:
    """The figures of several logs together (the overview's), kept up to date as they change."""

    def __init__(self) -> None:
        """Combine no log yet."""
        self.windows = [WindowAggregate() for _ in WINDOWS_S]
        self.logs: list[RequestLog] = []

    def attach(self, log: RequestLog) -> None:
        """Count ``log``'s requests in the combined figures."""
        log.attach(self.windows)
        self.logs.append(log)

    def detach(self, log: RequestLog) -> None:
        """Stop counting ``log``'s requests."""
        if log in self.logs:
            log.attach(None)
            self.logs.remove(log)

    def stats(
        self,
        now: float,
        window_s: float,
        answers: frozenset[str] = DEFAULT_ANSWER_CODES,
    ) -> WindowStats:
        """Return the combined figures of one of WINDOWS_S at ``now`` (see RequestLog.stats)."""
        for log in self.logs:
            log.refresh(now)
        return self.windows[WINDOWS_S.index(window_s)].stats(
            window_s,
            complete=all(log.complete_within(now, window_s) for log in self.logs),
            answers=answers,
        )


def records_stats(
    records: Iterable[RequestRecord], answers: frozenset[str] = DEFAULT_ANSWER_CODES
) -> WindowStats:
    """Return the aggregates of ``records`` together, whenever they ended."""
    records = list(records)
    log = RequestLog(capacity=max(len(records), 1), max_age_s=math.inf)
    for record in records:
        log.append(record)
    last_end = max((r.end for r in records), default=0.0)
    span = last_end - min((r.start for r in records), default=0.0)
    rows = log.rows_within(last_end + 1, math.inf)
    return window_stats(rows, max(span, 1.0), log.error_codes, answers=answers)


def combined_stats(
    logs: Iterable[RequestLog],
    now: float,
    window_s: float,
    answers: frozenset[str] = DEFAULT_ANSWER_CODES,
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
            rows[:, COL["error"]] = mapping[rows[:, COL["error"]].astype(int)]
        parts.append(rows)
    rows = np.concatenate(parts) if parts else np.empty((0, len(COLUMNS)))
    complete = all(log.complete_within(now, window_s) for log in logs)
    return window_stats(rows, window_s, codes, complete=complete, answers=answers)


def _shared_index(codes: list[str], code: str) -> int:
    if code not in codes:
        codes.append(code)
    return codes.index(code)
