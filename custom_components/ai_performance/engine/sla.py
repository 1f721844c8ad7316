"""Service levels: requests within their class's latency target, availability, error budget.

Requests are counted per subject in hourly buckets. A window of N hours is the last N full
hours plus the hour in progress, so that it always holds at least N hours of requests and every
figure is an exact sum of whole buckets (the same sums the recorder keeps per hour).
"""

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .requests import Complexity

HOUR_S: Final = 3600
# The windows every subject's service level is shown over, in hours.
WINDOWS_H: Final = (1, 24, 7 * 24, 30 * 24)
# Closed hours kept per subject: the longest window.
MAX_HOURS: Final = max(WINDOWS_H)


@dataclass(frozen=True, slots=True)
class SlaClass:
    """What a class of requests is promised: a latency target and an availability."""

    latency_ms: float
    availability_percent: float


DEFAULT_CLASSES: Final = {
    Complexity.SIMPLE: SlaClass(latency_ms=3000, availability_percent=99.5),
    Complexity.MODERATE: SlaClass(latency_ms=8000, availability_percent=99.0),
    Complexity.COMPLEX: SlaClass(latency_ms=15000, availability_percent=98.5),
}


@dataclass(slots=True)
class Counts:
    """Requests of one subject in one or more hours.

    ``error_allowance`` is the number of errors the promises allow: each request adds its
    class's allowed error share (0.005 for 99.5 %), so classes may be mixed.
    """

    requests: int = 0
    within_target: int = 0
    errors: int = 0
    error_allowance: float = 0.0

    def add(self, duration_ms: float, *, error: bool, promise: SlaClass) -> None:
        """Count one finished request against its class's promise."""
        self.requests += 1
        self.errors += error
        self.within_target += not error and duration_ms <= promise.latency_ms
        self.error_allowance += (100 - promise.availability_percent) / 100

    def merge(self, other: Counts) -> None:
        """Add ``other``'s requests to these."""
        self.requests += other.requests
        self.within_target += other.within_target
        self.errors += other.errors
        self.error_allowance += other.error_allowance

    def as_dict(self) -> dict[str, float]:
        """Return the counts to save."""
        return {
            "requests": self.requests,
            "within_target": self.within_target,
            "errors": self.errors,
            "error_allowance": self.error_allowance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Counts:
        """Return counts read back; missing fields are 0."""
        return cls(
            requests=int(data.get("requests", 0)),
            within_target=int(data.get("within_target", 0)),
            errors=int(data.get("errors", 0)),
            error_allowance=float(data.get("error_allowance", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class SlaFigures:
    """One subject's service level over one window (shares in %; None without requests)."""

    window_h: int
    requests: int
    compliance_percent: float | None
    availability_percent: float | None
    # Errors the promises still allow, as a share of those allowed, and as minutes of the
    # window (the allowed error share of the window's length, less the measured error share
    # of it): never below 0, an overspent budget is exhausted, not negative.
    budget_remaining_percent: float | None
    budget_remaining_minutes: float | None
    # The errors made as a share of those allowed: past 100 once overspent.
    budget_consumed_percent: float | None = None
    # True once the errors made reach those the promises allow.
    budget_exhausted: bool = False


def figures(counts: Counts, window_h: int) -> SlaFigures:
    """Return the service level of ``counts`` over a window of ``window_h`` hours."""
    n = counts.requests
    if n == 0:
        return SlaFigures(window_h, 0, None, None, None, None)
    allowed = counts.error_allowance
    left = max(allowed - counts.errors, 0.0)
    return SlaFigures(
        window_h=window_h,
        requests=n,
        compliance_percent=round(counts.within_target / n * 100, 3),
        availability_percent=round((n - counts.errors) / n * 100, 3),
        budget_remaining_percent=(
            round(left / allowed * 100, 2) if allowed > 0 else None
        ),
        budget_remaining_minutes=round(left / n * window_h * 60, 2),
        budget_consumed_percent=(
            round(counts.errors / allowed * 100, 2) if allowed > 0 else None
        ),
        budget_exhausted=counts.errors > 0 and counts.errors >= allowed,
    )


def hour_start(at: float) -> float:
    """Return the start of the (UTC) hour holding ``at``."""
    return at - at % HOUR_S


@dataclass(slots=True)
class SubjectHours:
    """One subject's hour in progress and its closed hours (start → counts), newest last."""

    open: Counts = field(default_factory=Counts)
    closed: deque[tuple[float, Counts]] = field(
        default_factory=lambda: deque(maxlen=MAX_HOURS + 1)
    )

    # (open_start, hours) -> the closed hours' counts of that window: they change only when an
    # hour closes, so a tick adds the hour in progress to a sum taken once an hour.
    _closed_sums: dict[tuple[float, int], Counts] = field(default_factory=dict)

    def window(self, open_start: float, hours: int) -> Counts:
        """Return the counts of the last ``hours`` full hours and the hour in progress."""
        closed = self._closed_sums.get((open_start, hours))
        if closed is None:
            if any(key[0] != open_start for key in self._closed_sums):
                self._closed_sums.clear()
            closed = self._closed_sums[open_start, hours] = Counts()
            since = open_start - hours * HOUR_S
            for start, counts in reversed(self.closed):
                if start < since:
                    break
                closed.merge(counts)
        total = Counts()
        total.merge(closed)
        total.merge(self.open)
        return total


class SlaBook:
    """Every subject's hourly counts; closes the hour in progress when the clock moves on."""

    def __init__(self, open_start: float) -> None:
        """Start with the hour beginning at ``open_start`` in progress."""
        self.open_start = open_start
        self.subjects: dict[str, SubjectHours] = {}
        self._figures: dict[
            str, tuple[tuple[float, int, int, int], dict[int, SlaFigures]]
        ] = {}

    def add(
        self, key: str, duration_ms: float, *, error: bool, promise: SlaClass
    ) -> None:
        """Count a request of subject ``key`` in the hour in progress."""
        hours = self.subjects.setdefault(key, SubjectHours())
        hours.open.add(duration_ms, error=error, promise=promise)

    def add_counts(self, key: str, counts: Counts) -> None:
        """Add counts saved before a restart to subject ``key``'s hour in progress."""
        self.subjects.setdefault(key, SubjectHours()).open.merge(counts)

    def close_hours(self, now: float) -> list[tuple[str, float, Counts]]:
        """Close the hour in progress once ``now`` is past it; return (subject, start, counts).

        Only subjects that had requests in the closed hour are returned (an empty hour is
        kept as a row of zeros all the same, so windows stay whole).
        """
        start = hour_start(now)
        if start <= self.open_start:
            return []
        closed = []
        for key, hours in self.subjects.items():
            if hours.open.requests:
                closed.append((key, self.open_start, hours.open))
            hours.closed.append((self.open_start, hours.open))
            hours.open = Counts()
        self.open_start = start
        return closed

    def load_closed(self, key: str, rows: Iterable[tuple[float, Counts]]) -> None:
        """Put hours read back from the recorder before those counted since."""
        hours = self.subjects.setdefault(key, SubjectHours())
        known = {start for start, _ in hours.closed}
        merged = sorted(
            [*((s, c) for s, c in rows if s not in known), *hours.closed],
            key=lambda row: row[0],
        )
        hours.closed.clear()
        hours.closed.extend(merged)
        hours._closed_sums.clear()  # noqa: SLF001 - its own book's hours
        self._figures.pop(key, None)

    def figures(self, key: str) -> dict[int, SlaFigures]:
        """Return subject ``key``'s service level over every window.

        Built again only when the subject counted a request or an hour closed since.
        """
        hours = self.subjects.get(key, SubjectHours())
        state = (
            self.open_start,
            id(hours.open),
            hours.open.requests,
            len(hours.closed),
        )
        cached = self._figures.get(key)
        if cached is not None and cached[0] == state:
            return cached[1]
        result = {w: figures(hours.window(self.open_start, w), w) for w in WINDOWS_H}
        self._figures[key] = (state, result)
        return result
