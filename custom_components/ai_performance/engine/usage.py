"""When a subject is used: on how many days each hour of the day saw a request.

The profile counts days, not requests, so one busy evening does not make an hour look usual: an
hour is usual when the subject was used in it on at least half of the days since it was first
seen. That is what predictive preloading needs: the hours to have a model loaded before.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

HOURS: Final = 24
# An hour is usual when used on at least this share of the days observed...
USUAL_SHARE: Final = 0.5
# ...and only once this many days have been observed.
MIN_DAYS: Final = 3
NEVER: Final = -1


@dataclass(slots=True)
class UsageProfile:
    """Days on which each hour of the day saw a request; days are ordinals (date.toordinal)."""

    first_day: int | None = None
    days_by_hour: list[int] = field(default_factory=lambda: [0] * HOURS)
    last_day_by_hour: list[int] = field(default_factory=lambda: [NEVER] * HOURS)

    def add(self, day: int, hour: int) -> None:
        """Count a request on ``day`` in ``hour`` (0-23, local time); once per day and hour."""
        if not 0 <= hour < HOURS:
            msg = f"hour must be 0-23, got {hour}"
            raise ValueError(msg)
        if self.first_day is None or day < self.first_day:
            self.first_day = day
        if self.last_day_by_hour[hour] != day:
            self.last_day_by_hour[hour] = day
            self.days_by_hour[hour] += 1

    def days_observed(self, today: int) -> int:
        """Return how many days the profile covers, today included."""
        return 0 if self.first_day is None else max(today - self.first_day + 1, 0)

    def share(self, hour: int, today: int) -> float:
        """Return the share of the observed days on which ``hour`` saw a request."""
        days = self.days_observed(today)
        return self.days_by_hour[hour] / days if days else 0.0

    def usual_hours(self, today: int) -> tuple[int, ...]:
        """Return the hours used on at least half of the days, once enough days are known."""
        if self.days_observed(today) < MIN_DAYS:
            return ()
        return tuple(h for h in range(HOURS) if self.share(h, today) >= USUAL_SHARE)

    def as_dict(self) -> dict[str, Any]:
        """Return the profile for storage."""
        return {
            "first_day": self.first_day,
            "days_by_hour": list(self.days_by_hour),
            "last_day_by_hour": list(self.last_day_by_hour),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageProfile:
        """Return a profile read back from storage; a malformed one starts afresh."""
        days = data.get("days_by_hour")
        last = data.get("last_day_by_hour")
        first = data.get("first_day")
        if not (_hourly(days) and _hourly(last) and (first is None or _int(first))):
            return cls()
        return cls(first, list(days), list(last))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hourly(values: Any) -> TypeGuard[list[int]]:
    return isinstance(values, list) and len(values) == HOURS and all(map(_int, values))


def usage_blocks(hours: tuple[int, ...]) -> list[tuple[int, int]]:
    """Return runs of consecutive usual hours as (first hour, length), wrapping past midnight."""
    wanted = set(hours)
    if len(wanted) == HOURS:
        return [(0, HOURS)]
    blocks = []
    for hour in sorted(wanted):
        if (hour - 1) % HOURS in wanted:
            continue  # inside a block that starts earlier
        length = 1
        while (hour + length) % HOURS in wanted:
            length += 1
        blocks.append((hour, length))
    return blocks
