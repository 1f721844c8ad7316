"""Alerts through Home Assistant: raised and cleared on real values, announced, repaired, kept."""

import dataclasses
from datetime import datetime, timedelta
import math
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryDataWithId
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.alert_rules import RULES_BY_KEY, RuleKey
from custom_components.ai_performance.const import (
    CONF_ALERT_RULES,
    CONF_REPAIR_MINUTES,
    DOMAIN,
    EVENT_ALERT,
)
from custom_components.ai_performance.engine.alerts import Direction

from .conftest import ENTRY_ID, fix_step, our_entry, setup_integration, start_fix, tick
from .fake_pynvml import FakeGpu

TEMPERATURE_ALERT = "binary_sensor.nvidia_geforce_rtx_4090_gpu_temperature_alert"
HEALTH = "sensor.ai_performance_health"
ACTIVE = "sensor.ai_performance_active_alerts"
EVENTS = "event.ai_performance_alerts"
ALERT_ID = "gpu_temperature:gpu_GPU-a"
ISSUE_ID = f"alert_{ALERT_ID}"


def watching(
    *rules: RuleKey,
    options: dict[str, Any] | None = None,
    subentries: list[ConfigSubentryDataWithId] | None = None,
) -> MockConfigEntry:
    """Return our entry with only ``rules`` on: the test machine's own load stays out."""
    off = {rule: {"enabled": False} for rule in RuleKey if rule not in rules}
    return our_entry({CONF_ALERT_RULES: off, **(options or {})}, subentries)


@pytest.fixture
def alert_events(hass: HomeAssistant) -> list[Event]:
    """Every ai_performance_alert event fired."""
    events: list[Event] = []
    hass.bus.async_listen(EVENT_ALERT, events.append)
    return events


async def overheat(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, gpu: FakeGpu, minutes: float
) -> None:
    """Heat the GPU past critical (90 °C) and keep it there for ``minutes``."""
    gpu.temperature = 95
    for _ in range(int(minutes * 2) + 1):
        await tick(hass, freezer)


async def test_a_hot_gpu_is_pending_then_critical_after_the_duration(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    alert_events: list[Event],
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_OFF

    gpu.temperature = 95
    await tick(hass, freezer)
    pending = hass.states.get(TEMPERATURE_ALERT)
    assert pending.state == STATE_OFF
    assert pending.attributes["level"] == "pending"
    assert pending.attributes["value"] == 95
    assert pending.attributes["reading"] == "95 °C"  # as a tile shows it

    for _ in range(4):  # 2 minutes, the rule's default duration
        await tick(hass, freezer)

    raised = hass.states.get(TEMPERATURE_ALERT)
    assert raised.state == STATE_ON
    assert raised.attributes["severity"] == "critical"
    assert raised.attributes["threshold"] == 90
    assert raised.attributes["recommendation"] == "improve_cooling"
    assert hass.states.get(HEALTH).state == "critical"
    assert hass.states.get(ACTIVE).state == "1"
    assert hass.states.get(ACTIVE).attributes["alerts"][0]["severity"] == "critical"
    assert [e.data["type"] for e in alert_events] == ["alert_raised"]
    data = alert_events[0].data
    assert data["alert_id"] == ALERT_ID
    assert data["severity"] == "critical"
    assert data["previous_severity"] is None
    assert data["value"] == 95
    assert data["unit"] == "°C"
    assert data["config_entry_id"] == ENTRY_ID
    event_state = hass.states.get(EVENTS)
    assert event_state.attributes["event_type"] == "alert_raised"
    assert event_state.attributes["rule"] == RuleKey.GPU_TEMPERATURE


async def test_cooling_inside_the_band_keeps_the_alert_and_below_it_clears(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    alert_events: list[Event],
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=2)

    gpu.temperature = 88  # below critical (90) but inside its 3 °C band
    await tick(hass, freezer)
    assert hass.states.get(TEMPERATURE_ALERT).attributes["severity"] == "critical"

    gpu.temperature = 86  # out of critical's band, still past warning (83)
    await tick(hass, freezer)
    assert hass.states.get(TEMPERATURE_ALERT).attributes["severity"] == "warning"
    assert hass.states.get(HEALTH).state == "degraded"

    gpu.temperature = 79  # below warning by more than the band
    await tick(hass, freezer)
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_OFF
    assert hass.states.get(HEALTH).state == "ok"
    assert [(e.data["type"], e.data["severity"]) for e in alert_events] == [
        ("alert_raised", "critical"),
        ("alert_raised", "warning"),
        ("alert_cleared", None),
    ]
    assert hass.states.get(EVENTS).attributes["event_type"] == "alert_cleared"


async def test_a_failed_poll_keeps_the_alert_as_it_was(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    alert_events: list[Event],
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=2)

    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    manager = entry.runtime_data.alerts
    snapshot = entry.runtime_data.coordinator.data
    failed = {**snapshot.sources}
    failed["gpu"] = type(failed["gpu"])(sample=None, error="NVML gone", duration_ms=1)
    later = time.time() + 3600
    statuses = manager.evaluate(type(snapshot)(sources=failed, collection_ms=1), later)

    assert statuses[ALERT_ID].severity == "critical"
    assert len(alert_events) == 1


async def test_critical_for_the_repair_delay_raises_a_translated_issue_cleared_on_recovery(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=2)
    for _ in range(19):  # 9.5 minutes critical
        await tick(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None

    await tick(hass, freezer)  # 10 minutes critical

    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "alert_gpu_temperature"
    assert issue.translation_placeholders["value"] == "95 °C"
    assert issue.translation_placeholders["threshold"] == "90 °C"
    assert issue.translation_placeholders["name"] == "NVIDIA GeForce RTX 4090"
    translations = await async_get_translations(hass, "en", "issues", {DOMAIN})
    prefix = f"component.{DOMAIN}.issues.alert_gpu_temperature"
    assert "{value}" in translations[f"{prefix}.description"]
    assert f"{prefix}.fix_flow.step.init.menu_options.snooze_hour" in translations

    gpu.temperature = 70
    await tick(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None


async def test_an_issue_raised_before_a_restart_is_shown_again_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=12)
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    # What Home Assistant's issue registry loads at start for an issue that is not persistent
    # (IssueRegistry._async_load): inactive, without its text, until it is raised again.
    issue_registry.issues[(DOMAIN, ISSUE_ID)] = dataclasses.replace(
        issue,
        active=False,
        data=None,
        is_fixable=None,
        severity=None,
        translation_key=None,
        translation_placeholders=None,
    )

    # The integration starts again on the same storage (as after a restart), still overheating.
    await hass.config_entries.async_reload(ENTRY_ID)
    await hass.async_block_till_done()
    await tick(hass, freezer)

    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    assert issue.active
    assert issue.translation_key == "alert_gpu_temperature"


@pytest.fixture
async def raised_issue(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, gpu: FakeGpu
) -> None:
    """A GPU critical for 10 minutes: its repair issue is raised."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=12)
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ID) is not None


@pytest.mark.usefixtures("raised_issue")
async def test_snoozing_from_the_repair_silences_the_alert_for_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    alert_events: list[Event],
) -> None:
    flow = await start_fix(hass, ISSUE_ID)
    assert flow["type"] is FlowResultType.MENU
    assert flow["menu_options"] == ["snooze_hour", "snooze_day", "raise_threshold"]

    done = await fix_step(hass, flow["flow_id"], {"next_step_id": "snooze_hour"})
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await tick(hass, freezer)

    snoozed = hass.states.get(TEMPERATURE_ALERT)
    assert snoozed.state == STATE_OFF
    assert snoozed.attributes["level"] == "critical"
    assert snoozed.attributes["snoozed_until"] is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ID) is None
    assert alert_events[-1].data["type"] == "alert_cleared"
    assert alert_events[-1].data["snoozed_until"] is not None
    assert hass.states.get(HEALTH).state == "ok"

    await tick(hass, freezer, 59 * 60)
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_OFF
    await tick(hass, freezer, 60)  # the hour is over and the GPU is still hot
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_ON
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ID) is not None


@pytest.mark.usefixtures("raised_issue")
async def test_raising_the_threshold_from_the_repair_is_checked_then_clears_the_alert(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
) -> None:
    flow = await start_fix(hass, ISSUE_ID)
    form = await fix_step(hass, flow["flow_id"], {"next_step_id": "raise_threshold"})
    assert form["type"] is FlowResultType.FORM
    assert form["description_placeholders"]["value"] == "95 °C"

    refused = await fix_step(hass, flow["flow_id"], {"warning": 105, "critical": 99})
    assert refused["errors"] == {"warning": "threshold_wrong_order"}
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert RuleKey.GPU_TEMPERATURE not in entry.options[CONF_ALERT_RULES]

    done = await fix_step(hass, flow["flow_id"], {"warning": 99, "critical": 105})
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    saved = entry.options[CONF_ALERT_RULES][RuleKey.GPU_TEMPERATURE]
    assert (saved["warning"], saved["critical"], saved["for_minutes"]) == (99, 105, 2)

    await tick(hass, freezer)
    assert hass.states.get(TEMPERATURE_ALERT).state == STATE_OFF
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ID) is None


@pytest.mark.usefixtures("raised_issue")
@pytest.mark.parametrize(
    ("answer", "errors"),
    [
        # Below the current thresholds (83 and 90 °C): that is tightening, not raising.
        ({"warning": -5, "critical": -1}, "threshold_not_eased"),
        ({"warning": 80, "critical": 95}, {"warning": "threshold_not_eased"}),
        ({"warning": math.nan, "critical": 95}, {"warning": "threshold_not_a_number"}),
        ({"warning": 85, "critical": math.inf}, {"critical": "threshold_not_a_number"}),
    ],
)
async def test_the_raise_step_only_raises_and_says_which_field_is_wrong(
    hass: HomeAssistant, answer: dict[str, float], errors: Any
) -> None:
    flow = await start_fix(hass, ISSUE_ID)
    await fix_step(hass, flow["flow_id"], {"next_step_id": "raise_threshold"})

    refused = await fix_step(hass, flow["flow_id"], answer)

    if isinstance(errors, str):
        errors = dict.fromkeys(answer, errors)
    assert refused["errors"] == errors
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert RuleKey.GPU_TEMPERATURE not in entry.options[CONF_ALERT_RULES]


@pytest.mark.usefixtures("raised_issue")
async def test_a_fix_for_an_unloaded_entry_aborts_with_a_reason(
    hass: HomeAssistant,
) -> None:
    await hass.config_entries.async_unload(ENTRY_ID)

    flow = await start_fix(hass, ISSUE_ID)

    assert flow["type"] is FlowResultType.ABORT
    assert flow["reason"] == "entry_not_loaded"


async def test_a_raised_alert_survives_a_reload_and_is_not_announced_twice(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    alert_events: list[Event],
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))
    await overheat(hass, freezer, gpu, minutes=2)
    assert len(alert_events) == 1

    await hass.config_entries.async_reload(ENTRY_ID)
    await hass.async_block_till_done()

    state = hass.states.get(TEMPERATURE_ALERT)
    assert state.state == STATE_ON
    assert state.attributes["severity"] == "critical"
    assert len(alert_events) == 1


async def test_response_time_alerts_follow_reported_requests(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await setup_integration(hass, watching(RuleKey.RESPONSE_TIME))
    assert hass.states.get("binary_sensor.ai_performance_response_time_alert") is None

    for _ in range(11):  # 5 minutes of 6 s answers
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": "rag_service", "duration_ms": 6000},
            blocking=True,
        )
        await tick(hass, freezer)

    overall = hass.states.get("binary_sensor.ai_performance_response_time_alert")
    subject = hass.states.get("binary_sensor.rag_service_response_time_alert")
    # One problem, one alert: the agent's own names it, the overall one stays quiet.
    assert overall.state == STATE_OFF
    assert overall.attributes["covered_by"] == ["rag_service"]
    assert subject.state == STATE_ON
    assert subject.attributes["severity"] == "critical"
    assert subject.attributes["value"] == 6000
    assert subject.attributes["unit"] == "ms"

    await tick(hass, freezer, 300)  # no request in the last 5 minutes: nothing to judge
    assert hass.states.get("binary_sensor.rag_service_response_time_alert").state == (
        STATE_OFF
    )


async def test_a_disabled_rule_has_no_alerts(hass: HomeAssistant, gpu: FakeGpu) -> None:
    entry = our_entry({CONF_ALERT_RULES: {RuleKey.GPU_TEMPERATURE: {"enabled": False}}})
    await setup_integration(hass, entry)

    assert hass.states.get(TEMPERATURE_ALERT) is None
    assert hass.states.get(
        "binary_sensor.nvidia_geforce_rtx_4090_gpu_memory_alert"
    ).state in (STATE_OFF, STATE_UNKNOWN)


async def test_an_alert_raised_by_the_first_update_after_a_reload_reaches_the_event_entity(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    alert_events: list[Event],
) -> None:
    # The first update after a setup runs before the entities exist.
    entry = watching(RuleKey.GPU_TEMPERATURE)
    await setup_integration(hass, entry)
    gpu.temperature = 95
    await tick(hass, freezer)  # pending
    freezer.tick(150)  # past the rule's 2 minutes, with no update in between

    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert [e.data["type"] for e in alert_events] == ["alert_raised"]
    event_state = hass.states.get(EVENTS)
    assert event_state.attributes["event_type"] == "alert_raised"
    assert event_state.attributes["alert_id"] == ALERT_ID


OVERALL_ERROR_RATE = "error_rate:overview"
OVERALL_RESPONSE_TIME = "response_time:overview"


async def test_an_overall_alert_is_named_all_ai_requests_wherever_it_shows(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, alert_events: list[Event]
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    await setup_integration(
        hass, watching(RuleKey.ERROR_RATE, options={CONF_REPAIR_MINUTES: 0})
    )
    # Half the requests fail, over services each too quiet to be judged alone: only the
    # overall alert speaks for them.
    for subject in ("rag_service", "search_service"):
        await report(hass, subject, "timeout", "timeout", None, None)
    for _ in range(12):  # past 5 minutes
        await tick(hass, freezer)

    name = "all AI requests"
    # The event (and the event entity), the active alerts.
    raised = [e.data for e in alert_events if e.data["subject"] == "overview"]
    assert [data["name"] for data in raised] == [name]
    active = hass.states.get(ACTIVE).attributes["alerts"]
    assert [a["name"] for a in active if a["rule"] == RuleKey.ERROR_RATE] == [name]
    # The repair issue's title and its fix dialog ("Fix: {name}").
    issue_id = f"alert_{OVERALL_ERROR_RATE}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders["name"] == name
    flow = await start_fix(hass, issue_id)
    form = await fix_step(hass, flow["flow_id"], {"next_step_id": "raise_threshold"})
    assert form["description_placeholders"]["name"] == name
    # The report, once the hour of the alert is over.
    freezer.tick(3600)
    answer = await hass.services.async_call(
        DOMAIN, "get_report", {"period": "day"}, blocking=True, return_response=True
    )
    top = {a["alert_id"]: a["name"] for a in answer["overall"]["top_alerts"]}
    assert top[OVERALL_ERROR_RATE] == name


async def test_a_host_alert_is_named_the_home_assistant_host(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, alert_events: list[Event]
) -> None:
    # Thresholds every machine's memory use is past.
    low = {"target": 0.1, "warning": 0.2, "critical": 0.3, "hysteresis": 0.05}
    rules = {RuleKey.MEMORY: {**low, "for_minutes": 0}}
    entry = watching(RuleKey.MEMORY)
    entry = our_entry({CONF_ALERT_RULES: {**entry.options[CONF_ALERT_RULES], **rules}})
    await setup_integration(hass, entry)
    await tick(hass, freezer)

    assert [e.data["name"] for e in alert_events] == ["the Home Assistant host"]


async def test_alerts_saved_without_a_name_are_named_when_restored(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    # Earlier versions saved the overall alerts with an empty name.
    raised_at = time.time() - 2 * 3600
    hass_storage[f"{DOMAIN}.{ENTRY_ID}.alerts"] = {
        "version": 1,
        "key": f"{DOMAIN}.{ENTRY_ID}.alerts",
        "data": {
            "history": [
                [
                    raised_at,
                    OVERALL_RESPONSE_TIME,
                    "response_time",
                    "overview",
                    "",
                    "critical",
                ]
            ]
        },
    }
    await setup_integration(hass, watching(RuleKey.RESPONSE_TIME))

    report = await hass.services.async_call(
        DOMAIN, "get_report", {"period": "day"}, blocking=True, return_response=True
    )

    assert report["overall"]["top_alerts"][0]["name"] == "all AI requests"


async def report(hass: HomeAssistant, subject: str, *errors: str | None) -> None:
    """Report one request of ``subject`` per error (None: it succeeded)."""
    for error in errors:
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": subject, "duration_ms": 500}
            | ({"error": error} if error else {}),
            blocking=True,
        )


async def test_one_failing_agent_raises_one_alert_not_an_overall_one_too(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    alert_events: list[Event],
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, watching(RuleKey.ERROR_RATE))
    await report(hass, "rag", *["timeout"] * 10)
    await report(hass, "chat", *[None] * 10)

    for _ in range(
        2 + 2 * 15
    ):  # critical after 5 minutes, then 10 more: a repair issue
        await tick(hass, freezer)

    agent = hass.states.get("binary_sensor.rag_error_rate_alert")
    overall = hass.states.get("binary_sensor.ai_performance_error_rate_alert")
    assert agent.state == STATE_ON
    assert agent.attributes["severity"] == "critical"
    # Half of every request failed: past critical overall too, yet the agent's alert says it.
    assert overall.attributes["level"] == "critical"
    assert overall.state == STATE_OFF
    assert overall.attributes["severity"] is None
    assert overall.attributes["covered_by"] == ["rag"]
    raised = [
        e.data["alert_id"] for e in alert_events if e.data["type"] == "alert_raised"
    ]
    assert raised == ["error_rate:requests_rag"]
    issues = [i.issue_id for i in issue_registry.issues.values() if i.domain == DOMAIN]
    assert issues == ["alert_error_rate:requests_rag"]
    assert hass.states.get(ACTIVE).state == "1"
    assert hass.states.get(HEALTH).state == "critical"


async def test_the_overall_alert_speaks_for_errors_no_agent_alert_covers_and_names_them(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, alert_events: list[Event]
) -> None:
    await setup_integration(hass, watching(RuleKey.ERROR_RATE))
    # Each agent too quiet to judge alone (fewer than 5 requests), half failed together.
    for subject in ("rag", "chat", "notes"):
        await report(hass, subject, "timeout", "timeout", None, None)
    await report(hass, "calm", None, None)

    for _ in range(12):  # past 5 minutes
        await tick(hass, freezer)

    overall = hass.states.get("binary_sensor.ai_performance_error_rate_alert")
    assert overall.state == STATE_ON
    assert overall.attributes["severity"] == "critical"
    assert overall.attributes["covered_by"] == []
    assert overall.attributes["subjects"] == ["chat", "notes", "rag"]
    (event,) = [e for e in alert_events if e.data["type"] == "alert_raised"]
    assert event.data["alert_id"] == "error_rate:overview"
    assert event.data["subjects"] == ["chat", "notes", "rag"]
    assert hass.states.get("binary_sensor.rag_error_rate_alert") is None


async def test_a_raised_alert_shows_its_recommendation_in_words_and_keeps_the_id(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))

    await overheat(hass, freezer, gpu, minutes=12)

    # Automations read the id, on the alert's sensor and on the Alerts event entity ...
    recommendation = "improve_cooling"
    assert hass.states.get(TEMPERATURE_ALERT).attributes["recommendation"] == (
        recommendation
    )
    assert hass.states.get(EVENTS).attributes["recommendation"] == recommendation
    # ... which Home Assistant shows in words, and the repair issue says them too.
    entities = await async_get_translations(hass, "en", "entity", {DOMAIN})
    words = "Improve cooling, or lower the GPU's power limit"
    for platform, key in (
        ("binary_sensor", "gpu_temperature_alert"),
        ("event", "alerts"),
    ):
        shown = f"component.{DOMAIN}.entity.{platform}.{key}.state_attributes"
        assert entities[f"{shown}.recommendation.state.{recommendation}"] == words
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    issues = await async_get_translations(hass, "en", "issues", {DOMAIN})
    assert (
        words
        in issues[f"component.{DOMAIN}.issues.{issue.translation_key}.description"]
    )


@pytest.mark.parametrize("rule", list(RuleKey))
async def test_every_alert_issue_says_its_rules_recommendation(
    hass: HomeAssistant, rule: RuleKey
) -> None:
    entities = await async_get_translations(hass, "en", "entity", {DOMAIN})
    issues = await async_get_translations(hass, "en", "issues", {DOMAIN})
    recommendation = RULES_BY_KEY[rule].recommendation
    prefix = f"component.{DOMAIN}.entity"
    words = entities[
        f"{prefix}.event.alerts.state_attributes.recommendation.state.{recommendation}"
    ]

    description = issues[f"component.{DOMAIN}.issues.alert_{rule}.description"]
    assert words in description
    assert entities[f"{prefix}.event.alerts.state_attributes.rule.state.{rule}"]
    # It clears once back on the safe side: below a threshold, or above one where low is bad.
    safe = "below" if RULES_BY_KEY[rule].direction is Direction.ABOVE else "above"
    assert f"back {safe} the critical threshold" in description
    menu = f"component.{DOMAIN}.issues.alert_{rule}.fix_flow.step.init.menu_options"
    further = "Raise" if RULES_BY_KEY[rule].direction is Direction.ABOVE else "Lower"
    assert issues[f"{menu}.raise_threshold"] == f"{further} the thresholds"


async def test_the_alert_issue_says_since_when_in_home_assistants_time_zone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    issue_registry: ir.IssueRegistry,
) -> None:
    await hass.config.async_set_time_zone("Asia/Tokyo")
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))

    await overheat(hass, freezer, gpu, minutes=12)

    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    since = datetime.fromisoformat(issue.translation_placeholders["since"])
    assert since.utcoffset() == timedelta(hours=9)
    raised = hass.states.get(TEMPERATURE_ALERT).attributes["since"]
    assert since == datetime.fromisoformat(raised).replace(microsecond=0)
