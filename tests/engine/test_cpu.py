"""CPU utilisation from two readings of cumulative CPU times."""

from hypothesis import given, strategies as st

from custom_components.ai_performance.engine.cpu import busy_percent

FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
seconds = st.floats(min_value=0, max_value=1e7, allow_nan=False)
readings = st.fixed_dictionaries(dict.fromkeys(FIELDS, seconds))


def _zero() -> dict[str, float]:
    return dict.fromkeys((*FIELDS, "guest", "guest_nice"), 0.0)


@given(before=readings, after=readings)
def test_result_is_always_a_percentage(
    before: dict[str, float], after: dict[str, float]
) -> None:
    assert 0.0 <= busy_percent(before, after) <= 100.0


@given(before=readings, idle=seconds.filter(lambda s: s > 0))
def test_an_interval_spent_idle_is_zero_percent(
    before: dict[str, float], idle: float
) -> None:
    after = {**before, "idle": before["idle"] + idle}
    assert busy_percent(before, after) == 0.0


@given(before=readings, busy=st.floats(min_value=1e-3, max_value=1e6))
def test_an_interval_spent_busy_is_a_hundred_percent(
    before: dict[str, float], busy: float
) -> None:
    after = {**before, "user": before["user"] + busy}
    assert busy_percent(before, after) == 100.0


def test_busy_and_idle_halves_give_fifty_percent() -> None:
    after = {**_zero(), "system": 3.0, "irq": 1.0, "idle": 2.0, "iowait": 2.0}
    assert busy_percent(_zero(), after) == 50.0


def test_guest_time_is_not_counted_twice() -> None:
    # Linux already counts guest time inside user time.
    after = {**_zero(), "user": 10.0, "guest": 10.0, "idle": 10.0}
    assert busy_percent(_zero(), after) == 50.0


def test_no_elapsed_time_or_a_counter_reset_gives_zero() -> None:
    reading = {**_zero(), "user": 5.0, "idle": 5.0}
    assert busy_percent(reading, reading) == 0.0
    assert busy_percent(reading, _zero()) == 0.0
