"""Alert rules: a value judged against a warning and a critical threshold, held for a duration.

Each threshold is a trigger with hysteresis: it arms when the value goes past the threshold and
disarms only once the value is back on the safe side by the hysteresis band, so noise around a
threshold never makes an alert flap. An armed trigger becomes an alert once it has stayed armed
for the rule's duration. The level of one rule and subject therefore moves

    ok → pending → warning or critical → … → ok

and never skips pending on the way up: with a duration of 0 it passes through pending at once.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
import math
from typing import Any, Final, NamedTuple


class Direction(StrEnum):
    """Which side of the thresholds is bad."""

    ABOVE = "above"  # latency, error rate, usage, temperature, cost
    BELOW = "below"  # prompt-cache hit rate


class AlertLevel(StrEnum):
    """Where one rule stands for one subject."""

    OK = "ok"
    PENDING = "pending"
    WARNING = "warning"
    CRITICAL = "critical"


# Levels at which an alert is raised (pending is not an alert yet).
RAISED: Final = frozenset({AlertLevel.WARNING, AlertLevel.CRITICAL})
# Every move the machine can make; anything else would be a skipped state.
ALLOWED_MOVES: Final = frozenset(
    {
        (AlertLevel.OK, AlertLevel.PENDING),
        (AlertLevel.PENDING, AlertLevel.OK),
        (AlertLevel.PENDING, AlertLevel.WARNING),
        (AlertLevel.PENDING, AlertLevel.CRITICAL),
        (AlertLevel.WARNING, AlertLevel.CRITICAL),
        (AlertLevel.CRITICAL, AlertLevel.WARNING),
        (AlertLevel.WARNING, AlertLevel.OK),
        (AlertLevel.CRITICAL, AlertLevel.OK),
    }
)


class ThresholdProblem(StrEnum):
    """Why a set of thresholds cannot be used (also the options flow's error keys)."""

    NOT_A_NUMBER = "threshold_not_a_number"
    WRONG_ORDER = "threshold_wrong_order"
    NEGATIVE_DURATION = "threshold_negative_duration"
    NEGATIVE_HYSTERESIS = "threshold_negative_hysteresis"


class ThresholdError(ValueError):
    """Thresholds that cannot be used, and why."""

    def __init__(self, problem: ThresholdProblem) -> None:
        """Name the problem."""
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a value is bad: past ``warning`` or ``critical`` for ``for_s`` seconds.

    ``hysteresis`` is in the value's unit: an armed threshold disarms only once the value is that
    far back on the safe side.
    """

    warning: float
    critical: float
    for_s: float = 0.0
    hysteresis: float = 0.0
    direction: Direction = Direction.ABOVE

    def __post_init__(self) -> None:
        """Refuse thresholds that could not work."""
        values = (self.warning, self.critical, self.for_s, self.hysteresis)
        if not all(math.isfinite(v) for v in values):
            raise ThresholdError(ThresholdProblem.NOT_A_NUMBER)
        if not self.past(self.critical, self.warning):
            raise ThresholdError(ThresholdProblem.WRONG_ORDER)
        if self.for_s < 0:
            raise ThresholdError(ThresholdProblem.NEGATIVE_DURATION)
        if self.hysteresis < 0:
            raise ThresholdError(ThresholdProblem.NEGATIVE_HYSTERESIS)

    def past(self, value: float, threshold: float) -> bool:
        """Return True when ``value`` is on the bad side of ``threshold``."""
        if self.direction is Direction.ABOVE:
            return value > threshold
        return value < threshold

    def back(self, value: float, threshold: float) -> bool:
        """Return True when ``value`` is back on the safe side of ``threshold`` by the band."""
        if self.direction is Direction.ABOVE:
            return value <= threshold - self.hysteresis
        return value >= threshold + self.hysteresis

    def threshold_of(self, level: AlertLevel) -> float | None:
        """Return the threshold that raised ``level`` (None for ok and pending)."""
        return {
            AlertLevel.WARNING: self.warning,
            AlertLevel.CRITICAL: self.critical,
        }.get(level)


class Move(NamedTuple):
    """One change of level, at a time in seconds."""

    old: AlertLevel
    new: AlertLevel
    at: float


class AlertMachine:
    """The level of one rule for one subject, fed one value per evaluation.

    Times are seconds on any clock that only moves forward (the caller's wall clock, so that a
    saved state can be restored after a restart).
    """

    def __init__(self, thresholds: Thresholds) -> None:
        """Start at ok."""
        self.thresholds = thresholds
        self.level = AlertLevel.OK
        # When the current level was entered.
        self.since: float | None = None
        # When each threshold armed; None while disarmed.
        self.warning_armed: float | None = None
        self.critical_armed: float | None = None
        self.value: float | None = None

    def update(self, value: float | None, now: float) -> list[Move]:
        """Judge ``value`` at ``now``; return the moves made (none, one, or two at once).

        An unknown value (None or NaN) is no evidence of trouble: both thresholds disarm.
        """
        known = value is not None and math.isfinite(value)
        self.value = value if known else None
        if value is None or not known:
            self.warning_armed = self.critical_armed = None
        else:
            self.warning_armed = self._arm(self.warning_armed, value, "warning", now)
            self.critical_armed = self._arm(self.critical_armed, value, "critical", now)
            # Critical is past warning, so an armed critical means an armed warning; this only
            # matters for states restored under thresholds changed since.
            if self.critical_armed is not None and self.warning_armed is None:
                self.warning_armed = self.critical_armed
        return self._move_to(self._target(now), now)

    def _arm(
        self, armed: float | None, value: float, which: str, now: float
    ) -> float | None:
        threshold = getattr(self.thresholds, which)
        if armed is None:
            return now if self.thresholds.past(value, threshold) else None
        return None if self.thresholds.back(value, threshold) else armed

    def _target(self, now: float) -> AlertLevel:
        held = self.thresholds.for_s
        if self.critical_armed is not None and now - self.critical_armed >= held:
            return AlertLevel.CRITICAL
        if self.warning_armed is None:
            return AlertLevel.OK
        if now - self.warning_armed >= held:
            return AlertLevel.WARNING
        return AlertLevel.PENDING

    def _move_to(self, target: AlertLevel, now: float) -> list[Move]:
        # Raised under a shorter duration (thresholds changed since): it stays raised.
        if target is self.level or (
            target is AlertLevel.PENDING and self.level in RAISED
        ):
            return []
        path = [target]
        if self.level is AlertLevel.OK and target in RAISED:
            path = [AlertLevel.PENDING, target]
        moves = []
        for level in path:
            moves.append(Move(self.level, level, now))
            self.level = level
        self.since = now
        return moves

    def as_dict(self) -> dict[str, Any]:
        """Return the state to save (thresholds come from the options)."""
        return {
            "level": self.level.value,
            "since": self.since,
            "warning_armed": self.warning_armed,
            "critical_armed": self.critical_armed,
            "value": self.value,
        }

    @classmethod
    def restore(cls, thresholds: Thresholds, data: Mapping[str, Any]) -> AlertMachine:
        """Return a machine in a saved state; a malformed state starts at ok."""
        machine = cls(thresholds)
        try:
            level = AlertLevel(data["level"])
            times = [
                _optional_float(data.get(k))
                for k in ("since", "warning_armed", "critical_armed", "value")
            ]
        except KeyError, TypeError, ValueError:
            return machine
        machine.level = level
        machine.since, machine.warning_armed, machine.critical_armed, machine.value = (
            times
        )
        return machine


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    return float(value)


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """One rule for one subject, as the entities show it after a tick."""

    rule: str
    subject: str
    item: str
    name: str
    level: AlertLevel
    value: float | None
    # The threshold of the raised level; the warning threshold while ok or pending.
    threshold: float
    since: float | None
    snoozed_until: float | None = None
    # Seen by someone (the acknowledge_alert action) at its current severity.
    acknowledged: bool = False
    # An alert over several subjects together (the overall one): the subjects whose own alerts
    # of the same rule are raised (it stays quiet while there are any), and the subjects whose
    # own figure misses the target (named when it is raised).
    covered_by: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()

    @property
    def raised(self) -> bool:
        """Return True when the alert is raised, not snoozed and not covered by another."""
        return (
            self.level in RAISED and self.snoozed_until is None and not self.covered_by
        )

    @property
    def severity(self) -> AlertLevel | None:
        """Return warning or critical while raised (and not snoozed), else None."""
        return self.level if self.raised else None


def one_alert_per_problem(
    overall: AlertStatus, parts: Iterable[AlertStatus], missing_target: Iterable[str]
) -> AlertStatus:
    """Return the overall alert of a rule, given the alerts of its parts (its subjects).

    One problem raises one alert: while a subject's own alert of the same rule is raised
    (snoozed or not), it names the problem, and the overall alert stays quiet. The overall
    alert speaks only for a problem no subject's alert covers (spread over several subjects,
    or over subjects with too few requests to judge alone), and then names the subjects
    ``missing_target``.
    """
    return replace(
        overall,
        covered_by=tuple(sorted({p.name for p in parts if p.level in RAISED})),
        subjects=tuple(sorted(set(missing_target))),
    )
