"""Updates: versions seen at each setup, and which update an anomaly's start follows."""

from hypothesis import given, strategies as st

from custom_components.ai_performance.engine.updates import (
    BLAME_WINDOW_S,
    MAX_CHANGES,
    UpdateHistory,
    VersionChange,
    changes_from,
    describe,
    describe_previous,
    follow_starts,
)

HA, OURS = "homeassistant", "ai_performance"
NAMES = {HA: "Home Assistant", OURS: "AI Performance Monitor"}
T0 = 1_790_000_000.0


def test_the_first_setup_remembers_the_versions_and_counts_no_update() -> None:
    history = UpdateHistory(versions={}).seen({HA: "2026.10.4", OURS: "0.1.0"}, T0)

    assert history.versions == {HA: "2026.10.4", OURS: "0.1.0"}
    assert history.changes == ()


def test_a_changed_version_is_an_update_seen_at_that_setup() -> None:
    before = UpdateHistory(versions={HA: "2026.10.4", OURS: "0.1.0"})

    after = before.seen({HA: "2026.11.0", OURS: "0.1.0"}, T0)

    assert after.changes == (VersionChange(HA, "2026.10.4", "2026.11.0", T0),)
    assert after.versions[HA] == "2026.11.0"
    assert after.seen({HA: "2026.11.0", OURS: "0.1.0"}, T0 + 60) == after


def test_an_anomaly_follows_the_update_only_within_a_day() -> None:
    history = UpdateHistory(versions={HA: "2026.10.4"}).seen({HA: "2026.11.0"}, T0)

    assert history.update_before(T0 - 1) == ()  # began before it
    assert history.update_before(T0) == history.changes
    assert history.update_before(T0 + BLAME_WINDOW_S) == history.changes
    assert history.update_before(T0 + BLAME_WINDOW_S + 1) == ()


def test_versions_changed_by_one_setup_are_one_update_named_together() -> None:
    history = (
        UpdateHistory(versions={HA: "2026.10.4", OURS: "0.1.0"})
        .seen({HA: "2026.11.0", OURS: "0.1.0"}, T0)
        .seen({HA: "2026.11.0", OURS: "0.2.0"}, T0 + 3600)
        .seen({HA: "2026.11.1", OURS: "0.2.1"}, T0 + 7200)
    )

    assert describe(history.update_before(T0 + 3600 * 1.5), NAMES) == (
        "AI Performance Monitor 0.2.0"
    )
    latest = history.update_before(T0 + 7200)
    assert (
        describe(latest, NAMES)
        == "Home Assistant 2026.11.1, AI Performance Monitor 0.2.1"
    )
    assert describe_previous(latest, NAMES) == (
        "Home Assistant 2026.11.0, AI Performance Monitor 0.2.0"
    )


@given(st.lists(st.sampled_from(["1", "2", "3"]), max_size=3 * MAX_CHANGES))
def test_the_history_is_bounded_and_keeps_the_newest(versions: list[str]) -> None:
    history = UpdateHistory(versions={})
    for i, version in enumerate(versions):
        history = history.seen({HA: version}, T0 + i)

    assert len(history.changes) <= MAX_CHANGES
    changed = [
        T0 + i for i in range(1, len(versions)) if versions[i] != versions[i - 1]
    ]
    assert [c.at for c in history.changes] == changed[-MAX_CHANGES:]


def test_an_anomaly_keeps_its_start_while_on_or_not_known() -> None:
    starts = follow_starts({}, {"a": True, "b": False, "c": None}, T0)
    assert starts == {"a": T0}

    starts = follow_starts(starts, {"a": None, "b": True}, T0 + 60)
    assert starts == {"a": T0, "b": T0 + 60}

    # Ended, or its subject gone: forgotten.
    assert follow_starts(starts, {"a": False}, T0 + 120) == {}


def test_saved_changes_that_cannot_be_read_are_skipped() -> None:
    good = VersionChange(HA, "2026.10.4", "2026.11.0", T0)
    saved = [
        good.as_dict(),
        {**good.as_dict(), "at": float("nan")},
        {**good.as_dict(), "at": True},
        {**good.as_dict(), "version": None},
        "2026.11.0",
    ]

    assert changes_from(saved) == (good,)
