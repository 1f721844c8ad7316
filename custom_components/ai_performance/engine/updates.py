"""Updates: the versions seen at each setup, and the latency anomalies that start soon after one.

A Home Assistant or integration update takes a restart, so the first setup after it sees the new
version: that setup's time stands for the update's. An anomaly that starts within
``BLAME_WINDOW_S`` after an update is reported as following it; one that started before the
update, or more than a day after it, is not. Every version changed by one setup (Home Assistant
and the integration updated together) is one update.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
import math
from typing import Final

# An anomaly starting this long after an update at most is reported as following it.
BLAME_WINDOW_S: Final = 24 * 3600.0
# Version changes remembered (a few months of monthly Home Assistant releases and their patches).
MAX_CHANGES: Final = 16


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
