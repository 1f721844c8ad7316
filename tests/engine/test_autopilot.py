"""Auto-optimisation's guards (hold, allowed actions, cooldown, hourly cap) and its effects."""

from hypothesis import given, strategies as st
import pytest

from custom_components.ai_performance.engine.autopilot import (
    HOUR_S,
    ActionRecord,
    Autopilot,
    AutopilotSettings,
    hold_s,
    mean_effect,
    window_mean,
)
from custom_components.ai_performance.engine.recommend import (
    ActionKind,
    Kind,
    ModelAction,
    Recommendation,
    Severity,
)

ALL = frozenset(ActionKind)


def _unload(model: str, kind: Kind = Kind.VRAM_PRESSURE) -> Recommendation:
    return Recommendation(
        kind=kind,
        severity=Severity.WARNING,
        subject=f"gpu-{model}",
        name="GPU",
        rationale="r",
        expected_effect="e",
        action=ModelAction(ActionKind.UNLOAD, "server", model),
    )


def _pilot(**settings: object) -> Autopilot:
    return Autopilot(AutopilotSettings(**{"enabled": True, "allowed": ALL, **settings}))


def test_an_action_waits_for_its_condition_to_hold() -> None:
    pilot = _pilot()
    item = _unload("a")
    assert pilot.due([item], 0.0) == []
    assert pilot.due([item], hold_s(Kind.VRAM_PRESSURE) - 1) == []
    assert pilot.due([item], hold_s(Kind.VRAM_PRESSURE)) == [item]
    # A condition that stops holding starts again from scratch.
    pilot.due([], 200.0)
    assert pilot.due([item], 210.0) == []


def test_cold_starts_act_at_once_and_only_allowed_actions_are_taken() -> None:
    cold = _unload("a", Kind.COLD_STARTS)
    assert _pilot().due([cold], 0.0) == [cold]
    only_preload = _pilot(allowed=frozenset({ActionKind.PRELOAD}))
    assert only_preload.due([cold], 0.0) == []
    assert Autopilot(AutopilotSettings(allowed=ALL)).due([cold], 0.0) == []  # off


def test_cooldown_per_model_and_hourly_cap() -> None:
    pilot = _pilot(cooldown_s=1800.0, max_per_hour=2)
    a, b, c = (_unload(m, Kind.COLD_STARTS) for m in "abc")
    due = pilot.due([a, b, c], 0.0)
    assert due == [a, b]  # the cap
    for item in due:
        pilot.taken(item.action, 0.0)
    assert pilot.due([a, b, c], 60.0) == []  # the cap still
    assert pilot.due([a, b, c], HOUR_S) == [a, b]  # a new hour; cooled down too
    pilot.taken(a.action, HOUR_S)
    assert pilot.due([a, c], HOUR_S + 60) == [c]  # a cools down for 30 minutes


def test_two_recommendations_for_one_model_act_once() -> None:
    first, second = _unload("a", Kind.COLD_STARTS), _unload("a", Kind.CPU_OFFLOAD)
    pilot = _pilot()
    assert pilot.due([first, second], 0.0) == [first]
    assert pilot.due([first, second], 400.0) == [first]


def test_restored_actions_still_count() -> None:
    pilot = _pilot(max_per_hour=1)
    pilot.restore([(0.0, ("server", "a"))])
    assert pilot.due([_unload("b", Kind.COLD_STARTS)], 60.0) == []
    assert pilot.history() == [(0.0, ("server", "a"))]


@given(
    st.lists(
        st.tuples(st.floats(0, 10 * HOUR_S), st.sampled_from("abcde")),
        max_size=60,
    ),
    st.integers(1, 5),
    st.floats(60, 7200),
)
def test_never_more_than_the_cap_nor_inside_the_cooldown(
    ticks: list[tuple[float, str]], cap: int, cooldown: float
) -> None:
    pilot = _pilot(max_per_hour=cap, cooldown_s=cooldown)
    taken: list[tuple[float, str]] = []
    for now, model in sorted(ticks):
        for item in pilot.due([_unload(model, Kind.COLD_STARTS)], now):
            pilot.taken(item.action, now)
            taken.append((now, item.action.model))
    for now, model in taken:
        in_hour = [t for t, _ in taken if now - HOUR_S < t <= now]
        assert len(in_hour) <= cap
        same = [t for t, m in taken if m == model and now - cooldown < t < now]
        assert same == []


def _record(
    before: float | None, after: float | None, *, lower_is_better: bool = True
) -> ActionRecord:
    return ActionRecord(
        at=0.0,
        recommendation_id="x",
        description="d",
        kpi="k",
        lower_is_better=lower_is_better,
        before=before,
        after=after,
    )


@pytest.mark.parametrize(
    ("lower_is_better", "before", "after", "effect"),
    [
        (True, 20_000.0, 5000.0, 75.0),
        (True, 90.0, 99.0, -10.0),
        (False, 75.0, 100.0, 33.33),
        (True, None, 10.0, None),
        (True, 0.0, 10.0, None),
    ],
)
def test_effect_of_an_action(
    *, lower_is_better: bool, before: float | None, after: float, effect: float | None
) -> None:
    record = _record(before, after, lower_is_better=lower_is_better)
    assert record.effect_percent == effect
    assert ActionRecord.from_dict(record.as_dict()) == record


def test_mean_effect_and_window_mean() -> None:
    records = [
        _record(100.0, 50.0),
        _record(100.0, 90.0),
        _record(100.0, None),  # still waiting
    ]
    assert mean_effect(records) == 30.0
    assert mean_effect([]) is None
    samples = [(0.0, 10.0), (10.0, 20.0), (20.0, 60.0)]
    assert window_mean(samples, 0.0, 20.0) == 40.0  # after 0, up to 20 included
    assert window_mean(samples, 30.0, 40.0) is None
