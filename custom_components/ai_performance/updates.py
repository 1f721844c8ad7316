"""Updates of Home Assistant and of this integration, and the latency regressions after them.

At every setup the versions of Home Assistant and of the integration are compared with those the
last setup saw (kept in a store of the entry, removed with it); each one changed is an update,
seen now. Every tick the subjects' latency anomalies are followed: one that starts within a day
after an update names it on its binary sensor and raises a repair issue, "response time
regressed after updating to …", deleted again when the anomaly ends. When each anomaly started
is saved too, so a restart neither forgets an issue nor blames an update for an anomaly that
began before it. A subject whose hourly latency since the last update is well above the day
before's (``engine.updates.before_after``, read with the trends every hour) raises the same issue,
worded for that comparison, until it is no longer slower or a week has passed.
"""

from collections.abc import Mapping
from dataclasses import replace
import math
from typing import Any, Final

from homeassistant import const as ha_const
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.loader import async_get_integration
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .engine.anomaly import LatencyCheck
from .engine.updates import (
    BeforeAfter,
    UpdateHistory,
    VersionChange,
    changes_from,
    describe,
    describe_previous,
    follow_starts,
)
from .issues import RegressionIssue, async_sync_regression_issues, with_unit

STORAGE_VERSION: Final = 1
# Anomalies start and end rarely: their starts are saved a little later, and at unload.
SAVE_DELAY_S: Final = 10
COMPONENT_HOME_ASSISTANT: Final = "homeassistant"
# Home Assistant's name is a product's, the same in every language.
HOME_ASSISTANT_NAME: Final = "Home Assistant"


class UpdateWatcher:
    """Remembers the versions seen at each setup; names the update an anomaly follows."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare an empty history; ``async_load`` reads the saved one and sees this setup."""
        self._hass = hass
        self._entry_id = entry_id
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.updates"
        )
        self.history = UpdateHistory(versions={})
        self._names: dict[str, str] = {COMPONENT_HOME_ASSISTANT: HOME_ASSISTANT_NAME}
        # Subject key -> when its current latency anomaly started.
        self._starts: dict[str, float] = {}
        # What the last sync of the issues was asked for; None until the first one.
        self._synced: frozenset[tuple[str, bool]] | None = None

    async def async_load(self, now: float) -> None:
        """Read the saved history, and record the versions this setup (at ``now``) sees."""
        data = await self._store.async_load() or {}
        saved = data.get("versions")
        history = UpdateHistory(
            versions={
                k: v
                for k, v in (saved if isinstance(saved, Mapping) else {}).items()
                if isinstance(k, str) and isinstance(v, str)
            },
            changes=changes_from(data.get("changes") or ()),
        )
        starts = data.get("anomaly_starts")
        self._starts = {
            k: float(v)
            for k, v in (starts if isinstance(starts, Mapping) else {}).items()
            if isinstance(v, int | float)
            and not isinstance(v, bool)
            and math.isfinite(v)
        }
        integration = await async_get_integration(self._hass, DOMAIN)
        self._names[DOMAIN] = integration.name
        versions = {COMPONENT_HOME_ASSISTANT: ha_const.__version__}
        if integration.version is not None:
            versions[DOMAIN] = str(integration.version)
        self.history = history.seen(versions, now)
        if self.history != history:
            await self.async_save()

    async def async_save(self) -> None:
        """Save the history and the anomalies' starts now."""
        await self._store.async_save(self._data_to_save())

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "versions": dict(self.history.versions),
            "changes": [change.as_dict() for change in self.history.changes],
            "anomaly_starts": dict(self._starts),
        }

    @callback
    def follow(
        self,
        checks: Mapping[str, LatencyCheck],
        names: Mapping[str, str],
        now: float,
        compared: Mapping[str, BeforeAfter],
    ) -> dict[str, LatencyCheck]:
        """Return ``checks`` with the update each anomaly follows; raise or delete the issues.

        ``checks``: every subject's latency check this tick; ``names``: the subjects' names;
        ``compared``: their latency the day before the last update and since, where known.
        """
        starts = follow_starts(
            self._starts, {key: check.is_anomaly for key, check in checks.items()}, now
        )
        if starts != self._starts:
            self._starts = starts
            self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)
        followed = dict(checks)
        wanted: dict[str, RegressionIssue | None] = {}
        for key, started in starts.items():
            changes = self.history.update_before(started)
            if not changes:
                continue
            check = followed[key] = replace(
                checks[key],
                after_update=describe(changes, self._names),
                updated_at=changes[0].at,
            )
            wanted[key] = self._anomaly_issue(check, changes, names.get(key, key))
        latest = self.history.latest_update()
        for key, change in compared.items():
            if key in checks and key not in wanted and latest and change.regressed:
                wanted[key] = RegressionIssue(
                    self._placeholders(
                        latest, names.get(key, key), change.after, change.before
                    ),
                    since_update=True,
                )
        # The issue registry is only walked when what is wanted changes.
        synced = frozenset((key, issue is not None) for key, issue in wanted.items())
        if synced != self._synced:
            async_sync_regression_issues(self._hass, self._entry_id, wanted)
            self._synced = synced
        return followed

    def _anomaly_issue(
        self, check: LatencyCheck, changes: tuple[VersionChange, ...], name: str
    ) -> RegressionIssue | None:
        """Return the issue of an anomaly; None while its figures are not known (a restart)."""
        if (
            check.is_anomaly is not True
            or check.value is None
            or check.baseline is None
        ):
            return None
        return RegressionIssue(
            self._placeholders(changes, name, check.value, check.baseline.center)
        )

    def _placeholders(
        self,
        changes: tuple[VersionChange, ...],
        name: str,
        latency: float,
        usual: float,
    ) -> dict[str, str]:
        return {
            "name": name,
            "update": describe(changes, self._names),
            "previous": describe_previous(changes, self._names),
            "updated_at": dt_util.as_local(dt_util.utc_from_timestamp(changes[0].at))
            .replace(microsecond=0)
            .isoformat(sep=" "),
            "latency": with_unit(round(latency), "ms"),
            "usual": with_unit(round(usual), "ms"),
        }
