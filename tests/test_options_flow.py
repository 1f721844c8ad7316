"""The options flow: more disks besides the configuration directory's, costs, alerts, SLA."""

from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.collectors.requests import RequestsCollector
from custom_components.ai_performance.const import (
    CONF_ALERT_RULES,
    CONF_CURRENCY,
    CONF_DISKS,
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
        {CONF_CURRENCY: "EUR", CONF_PRICES: PRICES, CONF_MONTHLY_BUDGET: 20},
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {
        CONF_DISKS: ["/"],
        CONF_CURRENCY: "EUR",
        CONF_PRICES: PRICES,
        CONF_MONTHLY_BUDGET: 20,
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
        ({"warning": 5000, "critical": 4000}, {"base": "threshold_wrong_order"}),
        ({"warning": 4000, "critical": 4000}, {"base": "threshold_wrong_order"}),
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
    rule = {**RESPONSE_TIME_RULE, "target": 80, "warning": 60, "critical": 40}

    refused = await hass.config_entries.options.async_configure(
        result["flow_id"], {**rule, "warning": 40, "critical": 60}
    )
    assert refused["errors"] == {"base": "threshold_wrong_order"}

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
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**SLA_FORM, CONF_SLA_AGENTS: {"conversation.x": "complex"}}
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
    assert sla.agent_classes == {"conversation.x": Complexity.COMPLEX}


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
    assert refused["description_placeholders"] == {"agent": agent}
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
