"""Alerts: every rule judged for every subject each tick, then announced as events and issues.

The coordinator calls ``evaluate`` inside its tick, so the snapshot carries every alert's status,
and ``async_announce`` once the entities have written their states, so an automation triggered
by an alert event reads states that already show it. Machine states, what was announced and
snoozes are saved, so an alert raised before a restart is still raised, and announced once.
"""

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
import time
from typing import Any, Final, NamedTuple

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .alert_rules import (
    RULES,
    RULES_BY_KEY,
    AlertSettings,
    AlertTarget,
    Measured,
    RuleKey,
    RuleSpec,
)
from .collectors.base import Need, Needs
from .const import (
    DOMAIN,
    EVENT_ALERT,
    LOGGER,
    SOURCE_REQUESTS,
    SUBJECT_HOST,
    SUBJECT_OVERVIEW,
)
from .engine.alerts import AlertLevel, AlertMachine, AlertStatus, one_alert_per_problem
from .engine.snapshot import Snapshot
from .issues import AlertIssue, async_sync_alert_issues

STORAGE_VERSION: Final = 1
SAVE_DELAY_S: Final = 30
# Alerts raised that are remembered for the report (about a month of a busy install's).
MAX_HISTORY: Final = 1000
ALERT_RAISED: Final = "alert_raised"
ALERT_CLEARED: Final = "alert_cleared"
EVENT_TYPES: Final = (ALERT_RAISED, ALERT_CLEARED)
# Announcements kept for a listener that subscribes later (the first update's, after a setup).
MAX_UNHEARD: Final = 100

# Subjects that have no name of their own (the overall figures, the host): each alert shows the
# translated name of en.json's "common" section, so that no title reads "Error rate of  has...".
SUBJECT_NAME_KEYS: Final = {
    SUBJECT_OVERVIEW: "overall_subject",
    SUBJECT_HOST: "host_subject",
}

type AlertListener = Callable[[str, dict[str, Any]], None]


def _failed(snapshot: Snapshot, source: str) -> bool:
    """Return True when ``source`` is configured and failed this tick."""
    result = snapshot.sources.get(source)
    return result is not None and not result.ok


def alert_id(rule: RuleKey, target: AlertTarget) -> str:
    """Return the id of ``rule`` watching ``target``."""
    return f"{rule}:{target.key}"


class RaisedAlert(NamedTuple):
    """An alert raised at a severity, at a time (wall-clock seconds)."""

    at: float
    alert_id: str
    rule: str
    subject: str
    name: str
    severity: str


@dataclass(slots=True)
class _Alert:
    spec: RuleSpec
    target: AlertTarget
    name: str
    machine: AlertMachine
    # The severity last announced by an event (None: cleared, or never raised).
    announced: AlertLevel | None = None


class AlertManager:
    """Judges every enabled rule each tick; owns the saved state, events and repair issues."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        settings: AlertSettings,
        units: dict[RuleKey, str],
    ) -> None:
        """Prepare the rules of ``settings``; ``async_load`` restores the saved state."""
        self._hass = hass
        self._entry_id = entry_id
        self.settings = settings
        self.units = units
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.alerts"
        )
        self._alerts: dict[str, _Alert] = {}
        self._snoozes: dict[str, float] = {}
        # Alert id -> the severity it had when acknowledged.
        self._acks: dict[str, AlertLevel] = {}
        # Alert binary sensor entity id -> alert id (for the actions that take an entity).
        self.entity_alerts: dict[str, str] = {}
        # Every alert raised (or raised to another severity), oldest first: for the report.
        self.history: deque[RaisedAlert] = deque(maxlen=MAX_HISTORY)
        self._announcements: list[tuple[str, dict[str, Any]]] = []
        self._listeners: list[AlertListener] = []
        # Announced while nobody listened (the first update after a setup runs before the
        # entities exist): handed to the next listener, so the event entity shows them too.
        self._unheard: deque[tuple[str, dict[str, Any]]] = deque(maxlen=MAX_UNHEARD)
        self._statuses: dict[str, AlertStatus] = {}
        self._evaluated_at = 0.0
        # The alert issues raised by the last announce; None until the first one.
        self._issues_synced: set[str] | None = None
        self._unsubscribe: list[CALLBACK_TYPE] = []
        # Subject -> its name in Home Assistant's language, for subjects without one.
        self._subject_names: dict[str, str] = {}

    @property
    def enabled_rules(self) -> list[RuleSpec]:
        """Return the rules that are switched on."""
        return [spec for spec in RULES if self.settings.rules[spec.key].enabled]

    async def async_load(self) -> None:
        """Restore the alerts and snoozes saved before the last stop."""
        translations = await async_get_translations(
            self._hass, self._hass.config.language, "common", {DOMAIN}
        )
        self._subject_names = {
            subject: translations.get(f"component.{DOMAIN}.common.{key}", "")
            for subject, key in SUBJECT_NAME_KEYS.items()
        }
        data = await self._store.async_load() or {}
        self._snoozes = {
            key: float(until)
            for key, until in data.get("snoozes", {}).items()
            if isinstance(until, int | float)
        }
        for item in data.get("history", []):
            if isinstance(item, list) and len(item) == len(RaisedAlert._fields):
                raised = RaisedAlert(*item)
                # Earlier versions saved the overall and host alerts without a name.
                name = self._name(raised.subject, raised.name)
                self.history.append(raised._replace(name=name))
        self._acks = {
            key: AlertLevel(level)
            for key, level in data.get("acks", {}).items()
            if level in (AlertLevel.WARNING, AlertLevel.CRITICAL)
        }
        for key, saved in data.get("alerts", {}).items():
            try:
                spec = RULES_BY_KEY[RuleKey(saved["rule"])]
                target = AlertTarget(
                    saved["subject"], saved.get("item", ""), saved.get("source", "")
                )
                announced = saved.get("announced")
                alert = _Alert(
                    spec=spec,
                    target=target,
                    name=self._name(target.subject, str(saved.get("name") or "")),
                    machine=AlertMachine.restore(
                        self._thresholds(spec), saved["state"]
                    ),
                    announced=None if announced is None else AlertLevel(announced),
                )
            except KeyError, TypeError, ValueError:
                LOGGER.debug("Dropping a malformed saved alert %s", key)
                continue
            if self.settings.rules[spec.key].enabled and key == alert_id(
                spec.key, target
            ):
                self._alerts[key] = alert

    @callback
    def async_subscribe_needs(self, needs: Needs, disks: Iterable[str]) -> None:
        """Have the sources read what the enabled rules judge, whatever entities are enabled."""
        wanted: set[Need] = set()
        for spec in self.enabled_rules:
            wanted.update(spec.needs(disks))
        self._unsubscribe.extend(needs.async_subscribe(*need) for need in wanted)

    def _name(self, subject: str, name: str) -> str:
        """Return ``name``, or the translated name of a subject that has none of its own."""
        return name or self._subject_names.get(subject, "")

    def _thresholds(self, spec: RuleSpec) -> Any:
        return self.settings.rules[spec.key].thresholds

    def evaluate(self, snapshot: Snapshot, now: float) -> dict[str, AlertStatus]:
        """Judge every enabled rule in ``snapshot``; return every alert's status.

        A rule whose source failed this tick keeps its state: a failed poll is no evidence.
        An alert exists from the first time its value is known, and goes when its subject does.
        """
        changed = False
        self._evaluated_at = now
        # Overall alert id -> the ids of its subjects' alerts, and the subjects missing target.
        groups: dict[str, tuple[list[str], list[str]]] = {}
        for spec in self.enabled_rules:
            measured = spec.measure(snapshot)
            if measured is None:
                continue
            changed |= self._judge(spec, measured, now, snapshot)
            if spec.source == SOURCE_REQUESTS:
                groups[alert_id(spec.key, AlertTarget(SUBJECT_OVERVIEW))] = (
                    [
                        alert_id(spec.key, item.target)
                        for item in measured
                        if item.target.subject != SUBJECT_OVERVIEW
                    ],
                    self._missing_target(spec, measured),
                )
        for key, until in list(self._snoozes.items()):
            if until <= now:
                del self._snoozes[key]
                changed = True
        self._statuses = {
            key: self._status(key, alert) for key, alert in self._alerts.items()
        }
        for key, (parts, missing) in groups.items():
            if (overall := self._statuses.get(key)) is not None:
                self._statuses[key] = one_alert_per_problem(
                    overall,
                    [self._statuses[p] for p in parts if p in self._statuses],
                    missing,
                )
        changed |= self._apply_acknowledgements()
        changed |= self._queue_announcements()
        if changed:
            self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)
        return self._statuses

    def _judge(
        self, spec: RuleSpec, measured: list[Measured], now: float, snapshot: Snapshot
    ) -> bool:
        """Feed one rule's values to its alerts; drop those of subjects gone. True: changed.

        A rule may watch several sources (the host and each AI host): an alert whose own
        source failed this tick is kept as it is; one whose source is gone (an AI host
        removed) goes.
        """
        changed = False
        seen = set()
        for item in measured:
            key = alert_id(spec.key, item.target)
            seen.add(key)
            alert = self._alerts.get(key)
            if alert is None:
                if item.value is None:
                    continue
                alert = _Alert(
                    spec,
                    item.target,
                    item.name,
                    AlertMachine(self._thresholds(spec)),
                )
                self._alerts[key] = alert
                changed = True
            alert.name = self._name(item.target.subject, item.name) or alert.name
            changed |= bool(alert.machine.update(item.value, now))
        for key in [
            k
            for k, a in self._alerts.items()
            if a.spec is spec
            and k not in seen
            and not _failed(snapshot, a.target.source or spec.source)
        ]:
            del self._alerts[key]
            changed = True
        return changed

    def _missing_target(self, spec: RuleSpec, measured: list[Measured]) -> list[str]:
        """Return the names of the subjects whose own figure misses the rule's target."""
        settings = self.settings.rules[spec.key]
        return [
            item.name
            for item in measured
            if item.target.subject != SUBJECT_OVERVIEW
            and item.shown is not None
            and settings.thresholds.past(item.shown, settings.target)
        ]

    def _apply_acknowledgements(self) -> bool:
        """Mark the acknowledged alerts; forget an acknowledgement once the severity changes."""
        changed = False
        for key, level in list(self._acks.items()):
            status = self._statuses.get(key)
            if status is None or status.severity is not level:
                del self._acks[key]
                changed = True
            else:
                self._statuses[key] = replace(status, acknowledged=True)
        return changed

    def _status(self, key: str, alert: _Alert) -> AlertStatus:
        machine = alert.machine
        thresholds = machine.thresholds
        raised_at = thresholds.threshold_of(machine.level)
        return AlertStatus(
            rule=alert.spec.key,
            subject=alert.target.subject,
            item=alert.target.item,
            name=alert.name,
            level=machine.level,
            value=machine.value,
            threshold=thresholds.warning if raised_at is None else raised_at,
            since=machine.since,
            snoozed_until=self._snoozes.get(key),
        )

    def _queue_announcements(self) -> bool:
        queued = False
        for key, status in self._statuses.items():
            alert = self._alerts[key]
            if status.severity == alert.announced:
                continue
            event_type = ALERT_CLEARED if status.severity is None else ALERT_RAISED
            if status.severity is not None:
                self.history.append(
                    RaisedAlert(
                        self._evaluated_at,
                        key,
                        status.rule,
                        status.subject,
                        status.name,
                        status.severity,
                    )
                )
            self._announcements.append(
                (event_type, self._event_data(status, alert.announced))
            )
            alert.announced = status.severity
            queued = True
        return queued

    def _event_data(
        self, status: AlertStatus, previous: AlertLevel | None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "config_entry_id": self._entry_id,
            "alert_id": alert_id(
                RuleKey(status.rule), AlertTarget(status.subject, status.item)
            ),
            "rule": status.rule,
            "subject": status.subject,
            "item": status.item or None,
            "name": status.name,
            "severity": status.severity,
            "previous_severity": previous,
            "value": status.value,
            "threshold": status.threshold,
            "unit": self.units.get(RuleKey(status.rule)),
            "since": _iso(status.since),
            "snoozed_until": _iso(status.snoozed_until),
            "recommendation": RULES_BY_KEY[RuleKey(status.rule)].recommendation,
        }
        if status.subject == SUBJECT_OVERVIEW:
            data["subjects"] = list(status.subjects)  # the subjects behind it
        return data

    @callback
    def async_announce(self) -> None:
        """Fire the events queued by the last evaluation, and raise or delete repair issues."""
        announcements, self._announcements = self._announcements, []
        for event_type, data in announcements:
            self._hass.bus.async_fire(EVENT_ALERT, {"type": event_type, **data})
            if not self._listeners:
                self._unheard.append((event_type, data))
            for listener in list(self._listeners):
                listener(event_type, data)
        # The issue registry is only walked when the set of issues wanted changes.
        wanted = self._issues()
        if set(wanted) != self._issues_synced:
            async_sync_alert_issues(self._hass, self._entry_id, wanted)
            self._issues_synced = set(wanted)

    def _issues(self) -> dict[str, AlertIssue]:
        """Return the repair issues wanted now: alerts critical for the repair delay."""
        now = self._evaluated_at
        issues = {}
        for key, status in self._statuses.items():
            if (
                status.severity is AlertLevel.CRITICAL
                and not status.acknowledged
                and status.since is not None
                and now - status.since >= self.settings.repair_s
            ):
                issues[key] = AlertIssue(
                    alert_id=key,
                    rule=status.rule,
                    name=status.name,
                    value=status.value,
                    threshold=status.threshold,
                    unit=self.units.get(RuleKey(status.rule), ""),
                    since=dt_util.as_local(dt_util.utc_from_timestamp(status.since))
                    .replace(microsecond=0)
                    .isoformat(sep=" "),
                )
        return issues

    @callback
    def async_add_listener(self, listener: AlertListener) -> CALLBACK_TYPE:
        """Call ``listener(event_type, data)`` on every alert raised or cleared.

        It is first told what was announced while nobody listened.
        """
        self._listeners.append(listener)
        while self._unheard:
            listener(*self._unheard.popleft())
        return lambda: self._listeners.remove(listener)

    def status(self, key: str) -> AlertStatus | None:
        """Return the status of alert ``key`` after the last tick."""
        return self._statuses.get(key)

    @callback
    def async_snooze(self, key: str, seconds: float) -> None:
        """Silence alert ``key`` for ``seconds``: no events, no repair issue, sensor off.

        It takes effect at the next tick; an alert still raised when the snooze ends is raised
        again (and its repair issue too, if critical for long enough).
        """
        if seconds > 0:
            self._snoozes[key] = time.time() + seconds
        else:
            self._snoozes.pop(key, None)
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)

    @callback
    def async_acknowledge(self, key: str) -> bool:
        """Mark alert ``key`` as seen at its current severity; False when it is not raised.

        It stays raised (sensor on, events on changes), but its repair issue goes: someone
        knows. A higher or lower severity, or the alert clearing, ends the acknowledgement.
        """
        status = self._statuses.get(key)
        if status is None or status.severity is None:
            return False
        self._acks[key] = status.severity
        self._statuses[key] = replace(status, acknowledged=True)
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)
        return True

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "alerts": {
                key: {
                    "rule": alert.spec.key.value,
                    "subject": alert.target.subject,
                    "item": alert.target.item,
                    "source": alert.target.source,
                    "name": alert.name,
                    "announced": alert.announced,
                    "state": alert.machine.as_dict(),
                }
                for key, alert in self._alerts.items()
            },
            "snoozes": dict(self._snoozes),
            "acks": {key: level.value for key, level in self._acks.items()},
            "history": [list(item) for item in self.history],
        }

    async def async_stop(self) -> None:
        """Stop wanting what the rules read, and save the state now."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        await self._store.async_save(self._data_to_save())


def _iso(timestamp: float | None) -> str | None:
    return (
        None if timestamp is None else dt_util.utc_from_timestamp(timestamp).isoformat()
    )
