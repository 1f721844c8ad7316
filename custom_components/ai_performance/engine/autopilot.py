"""Auto-optimisation: when a recommendation's safe action may be carried out on its own.

A recommendation must hold for its kind's duration (a VRAM peak of one tick is no reason to
unload a model), its action must be one the user allowed, its model must not have been changed
within the cooldown, and no more than the hourly maximum of actions may have been taken. So an
action follows the condition at most one coordinator interval after the condition has held for
its duration. The effect of each action is measured as its KPI over equal windows before and
after it.
"""

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .recommend import ActionKind, Kind, ModelAction, Recommendation

HOUR_S: Final = 3600.0
# How long each kind's condition must hold before its action is taken on its own.
HOLD_S: Final[Mapping[Kind, float]] = {
    # Measured over the last day already.
    Kind.COLD_STARTS: 0.0,
    # Timed by the hours of use: it must act in its 10-minute window.
    Kind.PREDICTIVE_PRELOAD: 0.0,
    Kind.VRAM_PRESSURE: 120.0,
    Kind.CPU_OFFLOAD: 300.0,
}
DEFAULT_HOLD_S: Final = 300.0
# The KPI of an action is compared over this long before and after it.
EFFECT_WINDOW_S: Final = 1800.0


@dataclass(frozen=True, slots=True)
class AutopilotSettings:
    """What the user allows: which actions, how often per model, how many an hour."""

    enabled: bool = False
    allowed: frozenset[ActionKind] = frozenset()
    cooldown_s: float = 1800.0
    max_per_hour: int = 4


def hold_s(kind: Kind) -> float:
    """Return how long a recommendation of ``kind`` must hold before acting on it."""
    return HOLD_S.get(kind, DEFAULT_HOLD_S)


def _target(action: ModelAction) -> tuple[str, str]:
    return action.server_id, action.model


class Autopilot:
    """Decides which recommendations to act on now; remembers what it did."""

    def __init__(self, settings: AutopilotSettings) -> None:
        """Start with nothing held and nothing done."""
        self.settings = settings
        self._since: dict[str, float] = {}
        self._taken: deque[tuple[float, tuple[str, str]]] = deque()

    def restore(self, taken: Iterable[tuple[float, tuple[str, str]]]) -> None:
        """Remember actions taken before a restart (for the cooldown and the hourly cap)."""
        self._taken.extend(sorted(taken))

    def due(
        self, recommendations: Iterable[Recommendation], now: float
    ) -> list[Recommendation]:
        """Return the recommendations to act on now (one per model), updating what holds."""
        acting = [r for r in recommendations if r.action is not None]
        current = {r.id for r in acting}
        for key in [k for k in self._since if k not in current]:
            del self._since[key]
        for item in acting:
            self._since.setdefault(item.id, now)
        if not self.settings.enabled:
            return []
        while self._taken and self._taken[0][0] <= now - max(
            HOUR_S, self.settings.cooldown_s
        ):
            self._taken.popleft()
        budget = self.settings.max_per_hour - sum(
            1 for at, _ in self._taken if at > now - HOUR_S
        )
        cooling = {
            target for at, target in self._taken if at > now - self.settings.cooldown_s
        }
        chosen: list[Recommendation] = []
        for item in acting:
            action = item.action
            if (
                budget <= len(chosen)
                or action is None
                or action.kind not in self.settings.allowed
                or _target(action) in cooling
                or now - self._since[item.id] < hold_s(item.kind)
            ):
                continue
            cooling.add(_target(action))
            chosen.append(item)
        return chosen

    def taken(self, action: ModelAction, now: float) -> None:
        """Count an action carried out at ``now``."""
        self._taken.append((now, _target(action)))

    def history(self) -> list[tuple[float, tuple[str, str]]]:
        """Return the actions counted for the cooldown and the cap (for storage)."""
        return list(self._taken)


@dataclass(slots=True)
class ActionRecord:
    """One action taken on its own, and its measured effect once its window is over."""

    at: float
    recommendation_id: str
    description: str
    kpi: str
    # True when a lower KPI is better (latency, VRAM in use); False for GPU offload.
    lower_is_better: bool
    before: float | None
    after: float | None = None
    changed: bool = True
    error: str | None = None

    @property
    def measured(self) -> bool:
        """Return True once the window after the action is over and had values."""
        return self.after is not None

    @property
    def effect_percent(self) -> float | None:
        """Return the improvement of the KPI, in % of its value before (negative: worse)."""
        if self.before is None or self.after is None or self.before == 0:
            return None
        change = (self.before - self.after) / abs(self.before) * 100
        return round(change if self.lower_is_better else -change, 2)

    def as_dict(self) -> dict[str, Any]:
        """Return the record for storage and attributes."""
        return {
            "at": self.at,
            "recommendation_id": self.recommendation_id,
            "description": self.description,
            "kpi": self.kpi,
            "lower_is_better": self.lower_is_better,
            "before": self.before,
            "after": self.after,
            "changed": self.changed,
            "error": self.error,
            "effect_percent": self.effect_percent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionRecord:
        """Return a record read back from storage."""
        return cls(
            at=float(data["at"]),
            recommendation_id=str(data["recommendation_id"]),
            description=str(data["description"]),
            kpi=str(data["kpi"]),
            lower_is_better=bool(data["lower_is_better"]),
            before=data.get("before"),
            after=data.get("after"),
            changed=bool(data.get("changed", True)),
            error=data.get("error"),
        )


def mean_effect(records: Iterable[ActionRecord]) -> float | None:
    """Return the mean improvement of the measured actions, in %."""
    effects = [e for r in records if (e := r.effect_percent) is not None]
    return round(sum(effects) / len(effects), 2) if effects else None


def window_mean(
    samples: Iterable[tuple[float, float]], start: float, end: float
) -> float | None:
    """Return the mean of the samples taken after ``start``, up to ``end`` included.

    A sample taken at the moment of an action was taken before it: it belongs to the window
    that ends then, not to the one that starts then.
    """
    values = [value for at, value in samples if start < at <= end]
    return sum(values) / len(values) if values else None
