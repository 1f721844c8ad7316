"""Updates: the versions seen at each setup, and the latency anomalies that start soon after one.

A Home Assistant or integration update takes a restart, so the first setup after it sees the new
version: that setup's time stands for the update's. An anomaly that starts within
``BLAME_WINDOW_S`` after an update is reported as following it; one that started before the
update, or more than a day after it, is not. Every version changed by one setup (Home Assistant
and the integration updated together) is one update.

A slowdown the anomaly baseline does not flag, or takes in within hours (the moving average of the
first three weeks learns a new level in a few hours), is found by comparing the hourly means of the
day before the update with those since (``before_after``): from ``MIN_HOURS_AFTER`` hours after the
update, for ``COMPARE_FOR_S`` after it, a median since at least ``SLOWDOWN_FACTOR`` times the one
before is a regression.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
import math
import statistics
from typing import Final

# An anomaly starting this long after an update at most is reported as following it.
BLAME_WINDOW_S: Final = 24 * 3600.0
# Version changes remembered (a few months of monthly Home Assistant releases and their patches).
MAX_CHANGES: Final = 16
HOUR_S: Final = 3600.0
# The hours compared on either side of an update: the day before, and the last day since.
COMPARED_S: Final = 24 * HOUR_S
# Hourly means needed on each side: a quarter of the day before, two full hours since.
MIN_HOURS_BEFORE: Final = 6
MIN_HOURS_AFTER: Final = 2
# Half as slow again: well past how much the median of a few hourly 95th percentiles varies from
# one day to the next, and below the 3.5 spreads an anomaly needs where latency varies a lot.
SLOWDOWN_FACTOR: Final = 1.5
# Compared for a week after the update; after that, what came since is the new usual.
COMPARE_FOR_S: Final = 7 * 24 * HOUR_S


@dataclass(frozen=True, slots=True)
class VersionChange:
    """One component (Home Assistant, the integration) seen at a new version at a setup."""

    component: str
    previous: str
    version: str
    at: float

    def as_dict(self) -> dict[str, str | float]:
        """Return what the store keeps."""
        return {
            "component": self.component,
            "previous": self.previous,
            "version": self.version,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class UpdateHistory:
    """The versions seen at the last setup and the changes seen before, oldest first."""

    versions: Mapping[str, str]
    changes: tuple[VersionChange, ...] = ()

    def seen(self, versions: Mapping[str, str], now: float) -> UpdateHistory:
        """Return the history after a setup at ``now`` saw ``versions``.

        A component seen for the first time is remembered, not counted as updated: the time of
        its install is not known.
        """
        changed = tuple(
            VersionChange(component, self.versions[component], version, now)
            for component, version in versions.items()
            if component in self.versions and self.versions[component] != version
        )
        return UpdateHistory(
            versions={**self.versions, **versions},
            changes=(self.changes + changed)[-MAX_CHANGES:],
        )

    def latest_update(self) -> tuple[VersionChange, ...]:
        """Return the changes of the last update; empty when none was seen."""
        if not self.changes:
            return ()
        return tuple(c for c in self.changes if c.at == self.changes[-1].at)

    def update_before(self, when: float) -> tuple[VersionChange, ...]:
        """Return the changes of the last update at or before ``when``, if within a day of it.

        Empty when there was none, or when it is older than ``BLAME_WINDOW_S``.
        """
        past = [change for change in self.changes if change.at <= when]
        if not past:
            return ()
        latest = max(change.at for change in past)
        if when - latest > BLAME_WINDOW_S:
            return ()
        return tuple(change for change in past if change.at == latest)


@dataclass(frozen=True, slots=True)
class BeforeAfter:
    """The median hourly latency of the day before an update, and of the hours since."""

    before: float
    after: float

    @property
    def regressed(self) -> bool:
        """Return True when it is slower since by ``SLOWDOWN_FACTOR`` at least."""
        return self.after >= SLOWDOWN_FACTOR * self.before


def before_after(
    starts: Sequence[float],
    values: Sequence[float | None],
    update_at: float,
    now: float,
) -> BeforeAfter | None:
    """Compare the hourly means before an update at ``update_at`` with those since, at ``now``.

    ``starts``: when each hour began; ``values``: its mean, None without one. Before: the hours
    of the day before, wholly before the update; since: those wholly after it, the last day at
    most. None when either side has too few hours, or when the update is over a week old.
    """
    if not 0 <= now - update_at <= COMPARE_FOR_S:
        return None
    before: list[float] = []
    after: list[float] = []
    for start, value in zip(starts, values, strict=True):
        if value is None or not math.isfinite(value):
            continue
        if update_at - COMPARED_S <= start and start + HOUR_S <= update_at:
            before.append(value)
        elif start >= max(update_at, now - COMPARED_S) and start + HOUR_S <= now:
            after.append(value)
    if len(before) < MIN_HOURS_BEFORE or len(after) < MIN_HOURS_AFTER:
        return None
    return BeforeAfter(before=statistics.median(before), after=statistics.median(after))


def follow_starts(
    starts: Mapping[str, float], anomalous: Mapping[str, bool | None], now: float
) -> dict[str, float]:
    """Return when each subject's current anomaly started, after a tick at ``now``.

    ``anomalous``: every subject's anomaly now; None while not known (no baseline read yet,
    after a restart), which keeps the start it had. A subject no longer there is forgotten.
    """
    followed: dict[str, float] = {}
    for key, on in anomalous.items():
        if on is None:
            if key in starts:
                followed[key] = starts[key]
        elif on:
            followed[key] = starts.get(key, now)
    return followed


def changes_from(saved: Iterable[object]) -> tuple[VersionChange, ...]:
    """Return the version changes a store kept, skipping any that cannot be read."""
    changes: list[VersionChange] = []
    for item in saved:
        if not isinstance(item, Mapping):
            continue
        component, previous, version, at = (
            item.get(k) for k in ("component", "previous", "version", "at")
        )
        if (
            isinstance(component, str)
            and isinstance(previous, str)
            and isinstance(version, str)
            and isinstance(at, int | float)
            and not isinstance(at, bool)
            and math.isfinite(at)
        ):
            changes.append(VersionChange(component, previous, version, float(at)))
    return tuple(changes[-MAX_CHANGES:])


def describe(changes: Sequence[VersionChange], names: Mapping[str, str]) -> str:
    """Return changes as "Home Assistant 2026.11.0", comma-separated when several."""
    return ", ".join(
        f"{names.get(c.component, c.component)} {c.version}" for c in changes
    )


def describe_previous(
    changes: Sequence[VersionChange], names: Mapping[str, str]
) -> str:
    """Return the versions before ``changes`` as "Home Assistant 2026.10.4"."""
    return ", ".join(
        f"{names.get(c.component, c.component)} {c.previous}" for c in changes
    )
