"""The options flow: more disks besides the configuration directory's, costs, alerts, SLA."""

import math
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.collectors.requests import RequestsCollector
from custom_components.ai_performance.const import (
    CONF_ALERT_RULES,
    CONF_ANSWER_CODES,
    CONF_CURRENCY,
    CONF_DISKS,
    CONF_ELECTRICITY_PRICE,
    CONF_GPU_MONITORING,
    CONF_MONTHLY_BUDGET,
    CONF_PRICES,
    CONF_REPAIR_MINUTES,
    CONF_SLA_AGENTS,
    CONF_SLA_CLASSES,
    DOMAIN,
)
from custom_components.ai_performance.engine.cost import PriceProblem
from custom_components.ai_performance.engine.requests import Complexity

from .conftest import setup_integration

ROOT_USAGE = "sensor.host_disk_usage"


async def open_step(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> dict:
    """Open the options and pick ``step`` from the menu; return its form."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "disks",
        "gpu",
        "costs",
        "alerts",
        "sla",
        "optimization",
    ]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step
    return result


async def _choose(
    hass: HomeAssistant, entry: MockConfigEntry, disks: list[str]
) -> dict:
    result = await open_step(hass, entry, "disks")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DISKS: disks}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


def _disk_entities(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    registry = er.async_get(hass)
    return {
        e.unique_id.removeprefix(f"{entry.entry_id}_host_")
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if "disk_usage" in e.unique_id or "disk_free" in e.unique_id
    }


async def test_mounted_file_systems_are_offered(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    result = await open_step(hass, mock_config_entry, "disks")

    schema = result["data_schema"].schema
    (key,) = schema
    assert str(key) == CONF_DISKS
    assert "/" in schema[key].config["options"]


async def test_a_chosen_disk_gets_sensors_and_losing_it_removes_them(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    assert _disk_entities(hass, mock_config_entry) == {
        "config_disk_usage",
        "config_disk_free",
    }

    result = await _choose(hass, mock_config_entry, ["/"])

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {CONF_DISKS: ["/"]}
    assert _disk_entities(hass, mock_config_entry) == {
        "config_disk_usage",
        "config_disk_free",
        "disk_usage_/",
        "disk_free_/",
    }
    state = hass.states.get("sensor.host_disk_usage")
    assert state is not None
    assert 0 < float(state.state) <= 100
    assert state.attributes["friendly_name"] == "Host Disk usage /"

    await _choose(hass, mock_config_entry, [])

    assert _disk_entities(hass, mock_config_entry) == {
        "config_disk_usage",
        "config_disk_free",
    }


async def test_an_unreadable_disk_is_refused_then_a_readable_one_saved(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "disks")

    with patch("psutil.disk_usage", side_effect=PermissionError("/")):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_DISKS: ["/"]}
        )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DISKS: "disk_unreadable"}
    assert result["description_placeholders"] == {"mounts": "/"}
    assert mock_config_entry.options == {}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_DISKS: ["/"]}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {CONF_DISKS: ["/"]}


PRICES = {"gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6}}


async def test_costs_default_to_the_home_currency_and_keep_the_disks(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    hass.config.currency = "CHF"
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={CONF_DISKS: ["/"]}
    )
    await setup_integration(hass, mock_config_entry)

    result = await open_step(hass, mock_config_entry, "costs")
    schema = result["data_schema"].schema
    (currency_key,) = (key for key in schema if str(key) == CONF_CURRENCY)
    assert currency_key.default() == "CHF"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_CURRENCY: "EUR",
            CONF_PRICES: PRICES,
            CONF_MONTHLY_BUDGET: 20,
            CONF_ELECTRICITY_PRICE: 0.35,
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_DISKS: ["/"],
        CONF_CURRENCY: "EUR",
        CONF_PRICES: PRICES,
        CONF_MONTHLY_BUDGET: 20,
        CONF_ELECTRICITY_PRICE: 0.35,
    }
    # The reloaded entry prices requests with the table.
    assert mock_config_entry.runtime_data.ledger.prices["gpt-4o-mini"].output == 0.6


async def test_no_budget_and_no_prices_are_saved_as_none(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "costs")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CURRENCY: "USD", CONF_MONTHLY_BUDGET: 0}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_CURRENCY: "USD",
        CONF_PRICES: {},
        CONF_MONTHLY_BUDGET: None,
        CONF_ELECTRICITY_PRICE: None,
    }


@pytest.mark.parametrize(
    ("prices", "error", "placeholders"),
    [
        ("gpt: 1", PriceProblem.NOT_A_TABLE, {"model": "", "field": ""}),
        ({"gpt": 0.5}, PriceProblem.NOT_PRICES, {"model": "gpt", "field": ""}),
        (
            {"gpt": {"input": 1, "outptu": 2}},
            PriceProblem.UNKNOWN_FIELD,
            {"model": "gpt", "field": "outptu"},
        ),
        (
            {"gpt": {"input": 1}},
            PriceProblem.MISSING_FIELD,
            {"model": "gpt", "field": "output"},
        ),
        (
            {"gpt": {"input": -1, "output": 2}},
            PriceProblem.BAD_PRICE,
            {"model": "gpt", "field": "input"},
        ),
        (
            {"gpt": {"input": 1, "output": "two"}},
            PriceProblem.BAD_PRICE,
            {"model": "gpt", "field": "output"},
        ),
        (
            {"gpt": {"input": 1, "output": 2, "cached_input": 1e9}},
            PriceProblem.BAD_PRICE,
            {"model": "gpt", "field": "cached_input"},
        ),
        ({" ": {"input": 1, "output": 2}}, PriceProblem.BAD_MODEL, {"model": " "}),
    ],
)
async def test_a_bad_price_table_is_refused_with_what_is_wrong(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    prices: object,
    error: PriceProblem,
    placeholders: dict[str, str],
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "costs")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CURRENCY: "EUR", CONF_PRICES: prices}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PRICES: error.value}
    assert placeholders.items() <= result["description_placeholders"].items()
    assert mock_config_entry.options == {}


# --- Alert rules ------------------------------------------------------------------------------

RESPONSE_TIME_RULE = {
    "enabled": True,
    "target": 1500,
    "warning": 2500,
    "critical": 4000,
    "for_minutes": 3,
    "hysteresis": 100,
}


async def open_rule(hass: HomeAssistant, entry: MockConfigEntry, rule: str) -> dict:
    """Open the alerts step, choose ``rule`` and a 20-minute repair delay."""
    result = await open_step(hass, entry, "alerts")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"rule": rule, CONF_REPAIR_MINUTES: 20}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "alert_rule"
    return result


async def test_an_alert_rule_shows_its_defaults_and_saves_new_thresholds(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)

    result = await open_rule(hass, mock_config_entry, "response_time")
    assert result["description_placeholders"] == {"rule": "Response time", "unit": "ms"}
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
    }
    assert suggested == {
        "enabled": True,
        "target": 2000,
        "warning": 3000,
        "critical": 5000,
        "for_minutes": 5,
        "hysteresis": 250,
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], RESPONSE_TIME_RULE
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_ALERT_RULES: {"response_time": RESPONSE_TIME_RULE},
        CONF_REPAIR_MINUTES: 20,
    }
    settings = mock_config_entry.runtime_data.alerts.settings
    assert settings.rules[RuleKey.RESPONSE_TIME].thresholds.for_s == 180
    assert settings.repair_s == 1200


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"warning": 5000, "critical": 4000}, {"warning": "threshold_wrong_order"}),
        ({"warning": 4000, "critical": 4000}, {"warning": "threshold_wrong_order"}),
        ({"target": 2600}, {"target": "target_past_warning"}),
    ],
)
async def test_thresholds_in_the_wrong_order_are_refused_and_nothing_is_saved(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    change: dict[str, float],
    errors: dict[str, str],
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_rule(hass, mock_config_entry, "response_time")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**RESPONSE_TIME_RULE, **change}
    )

    assert refused["type"] is FlowResultType.FORM
    assert refused["errors"] == errors
    assert mock_config_entry.options == {}
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], RESPONSE_TIME_RULE
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


async def test_low_is_bad_for_the_cache_hit_rule(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_rule(hass, mock_config_entry, "cache_hit")
    rule = {
        **RESPONSE_TIME_RULE,
        "target": 80,
        "warning": 60,
        "critical": 40,
        "hysteresis": 5,
    }

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**rule, "warning": 40, "critical": 60}
    )
    assert refused["errors"] == {"warning": "threshold_wrong_order"}

    result = await hass.config_entries.options.async_configure(result["flow_id"], rule)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_a_negative_duration_is_refused_by_the_form(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_rule(hass, mock_config_entry, "cpu")

    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**RESPONSE_TIME_RULE, "for_minutes": -1}
        )
    assert mock_config_entry.options == {}


# --- Service levels ---------------------------------------------------------------------------

SLA_FORM = {
    "simple_latency_s": 2,
    "simple_availability": 99.9,
    "moderate_latency_s": 6,
    "moderate_availability": 99,
    "complex_latency_s": 20,
    "complex_availability": 98,
}


async def test_service_levels_show_the_defaults_and_save_each_class(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await _setup_conversation(hass)
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
    }
    assert suggested == {
        "simple_latency_s": 3,
        "simple_availability": 99.5,
        "moderate_latency_s": 8,
        "moderate_availability": 99.0,
        "complex_latency_s": 15,
        "complex_availability": 98.5,
        CONF_SLA_AGENTS: {},
        # Not understood and no such device are answers, not failures, by default.
        CONF_ANSWER_CODES: ["no_intent_match", "no_valid_targets"],
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SLA_FORM, CONF_SLA_AGENTS: {"conversation.home_assistant": "complex"}},
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_SLA_CLASSES]["simple"] == {
        "latency_s": 2,
        "availability": 99.9,
    }
    (requests,) = (
        c
        for c in mock_config_entry.runtime_data.coordinator.collectors
        if isinstance(c, RequestsCollector)
    )
    sla = requests.sla
    assert sla.classes[Complexity.SIMPLE].latency_ms == 2000
    assert sla.agent_classes == {"conversation.home_assistant": Complexity.COMPLEX}


async def test_the_answer_codes_are_saved_and_counted_by_the_service_levels(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SLA_FORM, CONF_ANSWER_CODES: ["no_intent_match", "stt-no-text-detected"]},
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_ANSWER_CODES] == [
        "no_intent_match",
        "stt-no-text-detected",
    ]
    (requests,) = (
        c
        for c in mock_config_entry.runtime_data.coordinator.collectors
        if isinstance(c, RequestsCollector)
    )
    answers = frozenset({"no_intent_match", "stt-no-text-detected"})
    assert requests.sla.answers == answers
    assert mock_config_entry.runtime_data.ledger.answers == answers


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("No Such Device", "No Such Device"),
        ("", ""),
        ("x" * 65, "x" * 60 + "…"),
        ("nan", None),  # a word is a code: accepted
    ],
)
async def test_an_answer_code_that_is_no_error_code_is_refused_on_its_field(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    code: str,
    shown: str | None,
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, CONF_ANSWER_CODES: ["no_intent_match", code]}
    )

    if shown is None:
        # Saved: the entry reloads; let it finish before the test ends.
        await hass.async_block_till_done(wait_background_tasks=True)
        assert refused["type"] is FlowResultType.CREATE_ENTRY
        assert sorted(mock_config_entry.options[CONF_ANSWER_CODES]) == [
            "nan",
            "no_intent_match",
        ]
        return
    assert refused["errors"] == {CONF_ANSWER_CODES: "answer_code_invalid"}
    assert refused["description_placeholders"]["code"] == shown
    assert mock_config_entry.options == {}
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, CONF_ANSWER_CODES: []}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_ANSWER_CODES] == []


async def test_more_answer_codes_than_allowed_are_refused(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SLA_FORM, CONF_ANSWER_CODES: [f"code_{n}" for n in range(51)]},
    )

    assert refused["errors"] == {CONF_ANSWER_CODES: "answer_codes_too_many"}
    assert refused["description_placeholders"]["code"] == "50"


@pytest.mark.parametrize(
    ("agents", "error", "agent"),
    [
        (["conversation.x"], "sla_agents_not_a_table", ""),
        ({"conversation.x": "urgent"}, "sla_agents_bad_class", "conversation.x"),
    ],
)
async def test_agents_held_to_an_unknown_class_are_refused(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    agents: Any,
    error: str,
    agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, CONF_SLA_AGENTS: agents}
    )

    assert refused["errors"] == {CONF_SLA_AGENTS: error}
    assert refused["description_placeholders"] == {"agent": agent, "code": ""}
    assert mock_config_entry.options == {}
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], SLA_FORM
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


async def test_gpu_monitoring_defaults_to_auto_and_keeps_the_other_options(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        mock_config_entry, options={CONF_DISKS: ["/"]}
    )
    await setup_integration(hass, mock_config_entry)

    result = await open_step(hass, mock_config_entry, "gpu")
    (key,) = result["data_schema"].schema
    assert key.default() == "auto"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_GPU_MONITORING: "on"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {CONF_DISKS: ["/"], CONF_GPU_MONITORING: "on"}
    # Reloaded with it: no NVML on this machine, so the repair issue is raised.
    assert ir.async_get(hass).async_get_issue(DOMAIN, "nvml_missing") is not None


async def test_auto_optimisation_needs_an_allowed_action_then_adds_its_sensor(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    assert hass.states.get("sensor.ai_performance_optimization_effectiveness") is None

    result = await open_step(hass, mock_config_entry, "optimization")
    settings = {
        "auto_optimize": True,
        "cooldown_minutes": 45,
        "max_actions_per_hour": 2,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], settings
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"auto_optimize_actions": "no_actions_allowed"}
    assert mock_config_entry.options == {}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**settings, "auto_optimize_actions": ["unload"]}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        **settings,
        "auto_optimize_actions": ["unload"],
    }
    optimizer = mock_config_entry.runtime_data.optimizer
    assert optimizer.settings.enabled
    assert optimizer.settings.cooldown_s == 45 * 60
    state = hass.states.get("sensor.ai_performance_optimization_effectiveness")
    assert state.state == "unknown"
    assert state.attributes["actions_taken"] == 0


# --- Numbers that cannot work -----------------------------------------------------------------

# NaN (typed or as text) passes every number box: the flow refuses it with its own error. An
# infinity past a box's bound is refused by the form itself (InvalidData naming the field); one
# with no bound on that side reaches the flow, which refuses it with its own error too.
NAN = [math.nan, "nan", "NaN"]
INFINITE = [math.inf, -math.inf, "inf", "-inf", "Infinity"]
SLA_FIELDS = list(SLA_FORM)


async def _configure(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Any:
    """Submit an options form; return its result, or the form's own refusal."""
    try:
        return await hass.config_entries.options.async_configure(flow_id, data)
    except InvalidData as err:
        return err


def _refused_on(result: Any, field: str) -> bool:
    """Return whether ``field`` was refused, by the flow's translated error or the form's."""
    if isinstance(result, InvalidData):
        return field in result.schema_errors
    return result["type"] is FlowResultType.FORM and result["errors"] == {
        field: "number_not_finite"
    }


async def _open_form(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> tuple[dict, dict[str, Any]]:
    """Open ``step`` (for a rule, the response time rule); return it and a good answer."""
    if step == "alert_rule":
        return await open_rule(hass, entry, "response_time"), RESPONSE_TIME_RULE
    result = await open_step(hass, entry, step)
    good: dict[str, Any] = {
        "alerts": {"rule": "response_time", CONF_REPAIR_MINUTES: 20},
        "sla": SLA_FORM,
        "costs": {CONF_CURRENCY: "EUR", CONF_MONTHLY_BUDGET: 20},
        "optimization": {
            "auto_optimize": False,
            "cooldown_minutes": 45,
            "max_actions_per_hour": 2,
        },
    }[step]
    return result, good


NUMBER_FIELDS = [
    ("alerts", CONF_REPAIR_MINUTES),
    *(("alert_rule", f) for f in RESPONSE_TIME_RULE if f != "enabled"),
    *(("sla", f) for f in SLA_FIELDS),
    ("costs", CONF_MONTHLY_BUDGET),
    ("costs", CONF_ELECTRICITY_PRICE),
    ("optimization", "cooldown_minutes"),
    ("optimization", "max_actions_per_hour"),
]


async def _recover(hass: HomeAssistant, result: dict, good: dict[str, Any]) -> None:
    """Submit the good answer after a refusal; the options are then saved."""
    fixed = await hass.config_entries.options.async_configure(result["flow_id"], good)
    if fixed["type"] is FlowResultType.FORM:  # the alerts step leads to a rule's form
        assert fixed["step_id"] == "alert_rule"
        fixed = await hass.config_entries.options.async_configure(
            fixed["flow_id"], RESPONSE_TIME_RULE
        )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("value", NAN)
@pytest.mark.parametrize(("step", "field"), NUMBER_FIELDS)
async def test_nan_is_refused_on_its_field_then_a_number_saved(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    step: str,
    field: str,
    value: object,
) -> None:
    await setup_integration(hass, mock_config_entry)
    result, good = await _open_form(hass, mock_config_entry, step)

    refused = await _configure(hass, result["flow_id"], {**good, field: value})

    assert refused["type"] is FlowResultType.FORM
    assert refused["errors"] == {field: "number_not_finite"}
    assert mock_config_entry.options == {}
    await _recover(hass, result, good)


@pytest.mark.parametrize("value", INFINITE)
@pytest.mark.parametrize(("step", "field"), NUMBER_FIELDS)
async def test_an_infinity_is_refused_on_its_field_then_a_number_saved(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    step: str,
    field: str,
    value: object,
) -> None:
    await setup_integration(hass, mock_config_entry)
    result, good = await _open_form(hass, mock_config_entry, step)

    refused = await _configure(hass, result["flow_id"], {**good, field: value})

    assert _refused_on(refused, field), refused
    assert mock_config_entry.options == {}
    await _recover(hass, result, good)


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ("alerts", CONF_REPAIR_MINUTES),
        ("alert_rule", "for_minutes"),
        ("sla", "simple_latency_s"),
        ("sla", "simple_availability"),
        ("costs", CONF_MONTHLY_BUDGET),
        ("optimization", "cooldown_minutes"),
    ],
)
async def test_a_huge_number_is_refused_by_the_form_then_a_number_saved(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, step: str, field: str
) -> None:
    await setup_integration(hass, mock_config_entry)
    result, good = await _open_form(hass, mock_config_entry, step)

    refused = await _configure(hass, result["flow_id"], {**good, field: 1e300})

    assert isinstance(refused, InvalidData)
    assert field in refused.schema_errors
    assert mock_config_entry.options == {}
    await _recover(hass, result, good)


async def test_huge_thresholds_are_saved_and_never_raise_an_alert(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_rule(hass, mock_config_entry, "response_time")
    rule = {**RESPONSE_TIME_RULE, "warning": 1e300, "critical": 1e308}

    result = await hass.config_entries.options.async_configure(result["flow_id"], rule)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    settings = mock_config_entry.runtime_data.alerts.settings
    assert settings.rules[RuleKey.RESPONSE_TIME].thresholds.critical == 1e308


@pytest.mark.parametrize(
    ("rule", "change"),
    [
        # Clearing below -97 s: a response time never does.
        ("response_time", {"hysteresis": 99_999}),
        ("response_time", {"hysteresis": 1e300}),
        # Back within 1 ms of the target is not enough room: 1 000 ms between them.
        ("response_time", {"hysteresis": 1001}),
        # Low is bad: clearing above 100 % of hits never happens.
        (
            "cache_hit",
            {"target": 80, "warning": 60, "critical": 40, "hysteresis": 45},
        ),
    ],
)
async def test_a_hysteresis_that_leaves_no_room_to_clear_is_refused(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    rule: str,
    change: dict[str, float],
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_rule(hass, mock_config_entry, rule)

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**RESPONSE_TIME_RULE, **change}
    )

    assert refused["type"] is FlowResultType.FORM
    assert refused["errors"] == {"hysteresis": "hysteresis_leaves_no_room"}
    assert refused["description_placeholders"]["room"]
    assert mock_config_entry.options == {}
    # A hysteresis that brings the value back to the target at most is saved.
    room = abs(
        {**RESPONSE_TIME_RULE, **change}["warning"]
        - {**RESPONSE_TIME_RULE, **change}["target"]
    )
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], {**RESPONSE_TIME_RULE, **change, "hysteresis": room}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"complex_latency_s": 1}, "complex_latency_s"),
        ({"moderate_latency_s": 1.5}, "moderate_latency_s"),
        ({"complex_latency_s": 5}, "complex_latency_s"),
    ],
)
async def test_latency_targets_out_of_order_are_refused_on_the_field(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    change: dict[str, float],
    field: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, **change}
    )

    assert refused["type"] is FlowResultType.FORM
    assert refused["errors"] == {field: "sla_latency_order"}
    assert mock_config_entry.options == {}
    # Equal targets are in order.
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SLA_FORM, "moderate_latency_s": 2, "complex_latency_s": 2},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


async def test_an_agent_that_does_not_exist_is_refused_then_a_real_one_saved(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await _setup_conversation(hass)
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SLA_FORM, CONF_SLA_AGENTS: {"conversation.nope": "simple"}},
    )

    assert refused["errors"] == {CONF_SLA_AGENTS: "sla_agents_unknown"}
    assert refused["description_placeholders"] == {
        "agent": "conversation.nope",
        "code": "",
    }
    assert mock_config_entry.options == {}
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**SLA_FORM, CONF_SLA_AGENTS: {"conversation.home_assistant": "simple"}},
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


async def test_a_reported_name_that_has_reported_can_be_held_to_a_class(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, mock_config_entry)
    await hass.services.async_call(
        DOMAIN,
        "record_request",
        {"subject": "rag_service", "duration_ms": 100},
        blocking=True,
    )
    result = await open_step(hass, mock_config_entry, "sla")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, CONF_SLA_AGENTS: {"rag_service": "complex"}}
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_SLA_AGENTS] == {"rag_service": "complex"}


# --- What a refused value echoes ----------------------------------------------------------------

HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("prices", "placeholder"),
    [
        ({HUGE: 0.5}, "model"),
        ({"gpt": {"input": 1, "output": 2, HUGE: 3}}, "field"),
        ({HUGE: {"input": 1, "output": -2}}, "model"),
    ],
)
async def test_a_huge_price_table_entry_is_echoed_as_a_short_prefix(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    prices: dict[str, Any],
    placeholder: str,
) -> None:
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "costs")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CURRENCY: "EUR", CONF_PRICES: prices}
    )

    shown = refused["description_placeholders"][placeholder]
    assert shown == "x" * 60 + "…"
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CURRENCY: "EUR", CONF_PRICES: PRICES}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    "agents", [{HUGE: "complex"}, {"conversation.home_assistant": HUGE}]
)
async def test_a_huge_sla_agent_is_echoed_as_a_short_prefix(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, agents: dict[str, str]
) -> None:
    await _setup_conversation(hass)
    await setup_integration(hass, mock_config_entry)
    result = await open_step(hass, mock_config_entry, "sla")

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, CONF_SLA_AGENTS: agents}
    )

    assert CONF_SLA_AGENTS in refused["errors"]
    assert len(refused["description_placeholders"]["agent"]) <= 61
    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], SLA_FORM
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fixed["type"] is FlowResultType.CREATE_ENTRY


async def _setup_conversation(hass: HomeAssistant) -> None:
    """Set up Home Assistant's conversation component: its own agent exists."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})


ERROR_RATE_RULE = {
    "enabled": True,
    "target": 1,
    "warning": 5,
    "critical": 15,
    "for_minutes": 5,
    "hysteresis": 1,
}


GOOD_RULES = {"error_rate": ERROR_RATE_RULE, "response_time": RESPONSE_TIME_RULE}


@pytest.mark.parametrize(
    ("rule", "changed", "error"),
    [
        ("error_rate", {"target": -1}, {"target": "threshold_negative"}),
        # Past 100 % the critical level would never be reached: silently off.
        ("error_rate", {"critical": 1e300}, {"critical": "threshold_over_100_percent"}),
        ("response_time", {"warning": -2500}, {"warning": "threshold_negative"}),
    ],
)
async def test_a_level_no_figure_can_have_is_refused_on_its_field(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    rule: str,
    changed: dict[str, float],
    error: dict[str, str],
) -> None:
    good = GOOD_RULES[rule]
    await setup_integration(hass, mock_config_entry)
    result = await open_rule(hass, mock_config_entry, rule)

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**good, **changed}
    )

    assert refused["errors"] == error
    assert CONF_ALERT_RULES not in mock_config_entry.options
    # A long response time is no share: no upper bound but the figure's own.
    saved = await hass.config_entries.options.async_configure(
        result["flow_id"], {**good, "critical": good["critical"] * 1000}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (saved["type"] is FlowResultType.CREATE_ENTRY) is (rule != "error_rate")
