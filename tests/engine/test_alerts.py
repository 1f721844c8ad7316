"""The alert state machine: thresholds held for a duration, cleared below a hysteresis band."""

from hypothesis import assume, given, strategies as st
import pytest

from custom_components.ai_performance.engine.alerts import (
    ALLOWED_MOVES,
    RAISED,
    AlertLevel,
    AlertMachine,
    AlertStatus,
    Direction,
    Move,
    ThresholdError,
    ThresholdProblem,
    Thresholds,
    one_alert_per_problem,
)

LATENCY = Thresholds(warning=3000, critical=5000, for_s=300, hysteresis=200)
CACHE_HIT = Thresholds(
    warning=50, critical=30, for_s=60, hysteresis=5, direction=Direction.BELOW
)

OK, PENDING, WARNING, CRITICAL = (
    AlertLevel.OK,
    AlertLevel.PENDING,
    AlertLevel.WARNING,
    AlertLevel.CRITICAL,
)


def feed(machine: AlertMachine, points: list[tuple[float, float | None]]) -> list[Move]:
    moves: list[Move] = []
    for at, value in points:
        moves.extend(machine.update(value, at))
    return moves


def test_a_value_past_warning_is_pending_until_it_has_held_for_the_duration() -> None:
    machine = AlertMachine(LATENCY)

    assert machine.update(3500, 0) == [Move(OK, PENDING, 0)]
    assert machine.update(3600, 299) == []
    assert machine.update(3400, 300) == [Move(PENDING, WARNING, 300)]
    assert machine.since == 300


def test_a_value_that_drops_back_before_the_duration_never_raises() -> None:
    machine = AlertMachine(LATENCY)

    moves = feed(machine, [(0, 3500), (100, 2700), (400, 2700)])

    assert moves == [Move(OK, PENDING, 0), Move(PENDING, OK, 100)]


def test_critical_held_for_the_duration_escalates_a_warning() -> None:
    machine = AlertMachine(LATENCY)
    feed(machine, [(0, 3500), (300, 3500)])

    assert machine.update(6000, 330) == []
    assert machine.update(6000, 629) == []
    assert machine.update(5100, 630) == [Move(WARNING, CRITICAL, 630)]


def test_critical_from_the_start_goes_through_pending_to_critical() -> None:
    machine = AlertMachine(LATENCY)

    moves = feed(machine, [(0, 9000), (300, 9000)])

    assert moves == [Move(OK, PENDING, 0), Move(PENDING, CRITICAL, 300)]


def test_critical_steps_down_to_warning_then_clears_below_the_band() -> None:
    machine = AlertMachine(LATENCY)
    feed(machine, [(0, 9000), (300, 9000)])

    # 4900 is below critical but inside its band (5000 - 200): still critical.
    assert machine.update(4900, 310) == []
    assert machine.update(4800, 320) == [Move(CRITICAL, WARNING, 320)]
    assert machine.update(2900, 330) == []
    assert machine.update(2800, 340) == [Move(WARNING, OK, 340)]


def test_a_zero_duration_raises_at_once_but_still_passes_through_pending() -> None:
    machine = AlertMachine(Thresholds(warning=85, critical=95))

    assert machine.update(90, 10) == [Move(OK, PENDING, 10), Move(PENDING, WARNING, 10)]


def test_an_unknown_value_clears_a_raised_alert() -> None:
    machine = AlertMachine(LATENCY)
    feed(machine, [(0, 9000), (300, 9000)])

    assert machine.update(None, 310) == [Move(CRITICAL, OK, 310)]
    assert machine.update(float("nan"), 320) == []
    assert machine.value is None


def test_low_is_bad_for_the_cache_hit_rate() -> None:
    machine = AlertMachine(CACHE_HIT)

    moves = feed(machine, [(0, 40), (60, 40), (70, 52), (80, 56)])

    assert [m.new for m in moves] == [PENDING, WARNING, OK]
    assert moves[-1].at == 80


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"warning": 5000, "critical": 3000}, ThresholdProblem.WRONG_ORDER),
        ({"warning": 3000, "critical": 3000}, ThresholdProblem.WRONG_ORDER),
        (
            {"warning": 30, "critical": 50, "direction": Direction.BELOW},
            ThresholdProblem.WRONG_ORDER,
        ),
        (
            {"warning": 1, "critical": 2, "for_s": -1},
            ThresholdProblem.NEGATIVE_DURATION,
        ),
        (
            {"warning": 1, "critical": 2, "hysteresis": -0.1},
            ThresholdProblem.NEGATIVE_HYSTERESIS,
        ),
        ({"warning": float("nan"), "critical": 2}, ThresholdProblem.NOT_A_NUMBER),
        ({"warning": 1, "critical": float("inf")}, ThresholdProblem.NOT_A_NUMBER),
    ],
)
def test_unusable_thresholds_are_refused_with_the_reason(
    kwargs: dict[str, float], problem: ThresholdProblem
) -> None:
    with pytest.raises(ThresholdError) as err:
        Thresholds(**kwargs)  # type: ignore[arg-type]

    assert err.value.problem is problem


def test_a_saved_state_is_restored_and_goes_on_from_there() -> None:
    machine = AlertMachine(LATENCY)
    feed(machine, [(0, 9000), (300, 9000)])

    restored = AlertMachine.restore(LATENCY, machine.as_dict())

    assert restored.level is CRITICAL
    assert restored.since == 300
    assert restored.update(9000, 400) == []
    assert restored.update(100, 410) == [Move(CRITICAL, OK, 410)]


@pytest.mark.parametrize(
    "data",
    [{}, {"level": "burning"}, {"level": "ok", "since": "yesterday"}, {"level": 3}],
)
def test_a_malformed_saved_state_starts_at_ok(data: dict[str, object]) -> None:
    assert AlertMachine.restore(LATENCY, data).level is OK


def test_an_alert_raised_under_a_shorter_duration_stays_raised() -> None:
    machine = AlertMachine(Thresholds(warning=85, critical=95, for_s=60))
    feed(machine, [(0, 90), (60, 90)])

    longer = AlertMachine.restore(
        Thresholds(warning=85, critical=95, for_s=600), machine.as_dict()
    )

    assert longer.update(90, 120) == []
    assert longer.level is WARNING


# --- Properties -------------------------------------------------------------------------------

values = st.one_of(st.none(), st.floats(min_value=0, max_value=10_000))
steps = st.lists(
    st.tuples(st.floats(min_value=0.001, max_value=600), values), max_size=60
)
thresholds = st.builds(
    lambda w, gap, for_s, h: Thresholds(
        warning=w, critical=w + gap, for_s=for_s, hysteresis=h
    ),
    st.floats(min_value=0, max_value=5000),
    st.floats(min_value=1, max_value=5000),
    st.floats(min_value=0, max_value=900),
    st.floats(min_value=0, max_value=500),
)


@given(thresholds, steps)
def test_the_machine_never_skips_a_state(rule: Thresholds, points: list) -> None:
    machine = AlertMachine(rule)
    now = 0.0
    level = OK
    for gap, value in points:
        now += gap
        for move in machine.update(value, now):
            assert (move.old, move.new) in ALLOWED_MOVES
            assert move.old is level
            level = move.new
        assert machine.level is level


@given(
    thresholds,
    st.floats(min_value=0.001, max_value=1),
    st.lists(st.floats(min_value=1, max_value=120), min_size=1, max_size=40),
)
def test_an_alert_fires_at_the_first_evaluation_after_exactly_the_duration(
    rule: Thresholds, excess: float, gaps: list[float]
) -> None:
    machine = AlertMachine(rule)
    value = rule.warning + excess * (rule.critical - rule.warning)
    now = 0.0
    crossed = None
    for gap in gaps:
        now += gap
        moves = machine.update(value, now)
        crossed = now if crossed is None else crossed
        fired = [m for m in moves if m.new is WARNING]
        held = now - crossed >= rule.for_s
        assert bool(fired) == (held and machine.since == now)
        assert (machine.level is WARNING) == held


@given(
    thresholds,
    st.lists(st.floats(min_value=0.001, max_value=1), min_size=1, max_size=60),
)
def test_noise_inside_the_band_never_clears_a_raised_alert(
    rule: Thresholds, noise: list[float]
) -> None:
    assume(rule.hysteresis >= 0.01)
    machine = AlertMachine(rule)
    machine.update(rule.critical + 1, 0)
    machine.update(rule.critical + 1, rule.for_s)
    assert machine.level is CRITICAL
    # Just past the critical band's lower edge: never back by the hysteresis.
    band_low = rule.critical - rule.hysteresis
    for step, share in enumerate(noise, start=1):
        value = band_low + share * rule.hysteresis
        assert machine.update(value, rule.for_s + step) == []


@given(
    thresholds,
    st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=60),
)
def test_noise_below_the_threshold_never_arms_an_alert(
    rule: Thresholds, noise: list[float]
) -> None:
    machine = AlertMachine(rule)
    for step, share in enumerate(noise):
        assert machine.update(rule.warning * share, step * 60.0) == []
    assert machine.level is OK


def _status(
    name: str, level: AlertLevel, snoozed_until: float | None = None
) -> AlertStatus:
    return AlertStatus(
        rule="error_rate",
        subject=name,
        item="",
        name=name,
        level=level,
        value=50.0,
        threshold=10.0,
        since=0.0,
        snoozed_until=snoozed_until,
    )


@given(st.lists(st.sampled_from(list(AlertLevel)), max_size=4))
def test_the_overall_alert_is_quiet_exactly_while_a_part_is_raised(
    levels: list[AlertLevel],
) -> None:
    overall = _status("", AlertLevel.CRITICAL)
    parts = [_status(f"agent{n}", level) for n, level in enumerate(levels)]

    judged = one_alert_per_problem(overall, parts, ["agent0"])

    raised = [p.name for p in parts if p.level in RAISED]
    assert judged.covered_by == tuple(raised)
    assert judged.raised is not raised
    assert judged.severity is (None if raised else AlertLevel.CRITICAL)
    assert judged.subjects == ("agent0",)


def test_a_snoozed_part_still_covers_the_overall_alert() -> None:
    part = _status("rag", AlertLevel.WARNING, snoozed_until=1e12)

    judged = one_alert_per_problem(_status("", AlertLevel.WARNING), [part], [])

    assert judged.covered_by == ("rag",)
    assert not judged.raised
