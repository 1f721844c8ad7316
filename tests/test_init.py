"""Setting up and unloading the entry: real collectors in, nothing left behind."""

from datetime import timedelta
import math
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryDataWithId
from homeassistant.const import (
    CONF_SCAN_INTERVAL,
    CONF_URL,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.ai_performance import async_remove_config_entry_device
from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.collectors.host import HostCollector
from custom_components.ai_performance.const import (
    CONF_ALERT_RULES,
    CONF_AVAILABILITY,
    CONF_COOLDOWN_MINUTES,
    CONF_LATENCY_S,
    CONF_MAX_ACTIONS_PER_HOUR,
    CONF_MONTHLY_BUDGET,
    CONF_OUTAGE_MINUTES,
    CONF_PROBE_MINUTES,
    CONF_REPAIR_MINUTES,
    CONF_SLA_AGENTS,
    CONF_SLA_CLASSES,
    DEFAULT_REPAIR_MINUTES,
    DOMAIN,
    SUBENTRY_OLLAMA,
)
from custom_components.ai_performance.request_sensors import SLA_SENSORS
from custom_components.ai_performance.trend_entities import FULL_IN

from .conftest import ENTRY_ID, our_entry, setup_integration
from .fakes import ScriptedCollector


async def test_setup_loads_the_entry_with_numeric_sensors(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    await setup_integration(hass, mock_config_entry)

    assert mock_config_entry.state is ConfigEntryState.LOADED
    entries = er.async_entries_for_config_entry(
        entity_registry, mock_config_entry.entry_id
    )
    enabled = [e for e in entries if not e.disabled]
    assert {"collection_duration", "cpu_usage", "memory_usage"} <= {
        e.translation_key for e in enabled
    }
    for entity in enabled:
        state = hass.states.get(entity.entity_id)
        assert state is not None
        if (
            entity.domain != "sensor"
        ):  # binary sensors; buttons and events never used yet
            assert state.state in {"on", "off", STATE_UNKNOWN}, entity.entity_id
        elif entity.translation_key == "health":
            assert state.state in {"ok", "degraded"}
        elif entity.translation_key == "benchmark":
            assert state.state == "idle"
        elif entity.translation_key in (
            "loop_lag_p95",
            "loop_lag_max",
            "overall_latency_p95",
            "overall_error_rate",
            "overall_unanswered_rate",
            *(spec.key for spec in SLA_SENSORS),
            *(description.key for description in FULL_IN.values()),
        ):
            # No probe has run and no request was made yet in the first snapshot; nothing is
            # recorded to forecast from.
            assert state.state == STATE_UNKNOWN
        else:
            assert 0 <= float(state.state) < 1e15, entity.entity_id


async def test_unload_leaves_nothing_behind(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup_integration(hass, mock_config_entry)
    coordinator = mock_config_entry.runtime_data.coordinator
    assert coordinator._listeners

    with patch.object(
        HostCollector,
        "async_stop",
        autospec=True,
        side_effect=HostCollector.async_stop,
    ) as stop:
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)

    assert mock_config_entry.state is ConfigEntryState.NOT_LOADED
    stop.assert_awaited_once()
    assert not coordinator._listeners
    assert coordinator._unsub_refresh is None
    assert not mock_config_entry._tasks
    assert not mock_config_entry._background_tasks

    with patch.object(HostCollector, "async_collect", autospec=True) as collect:
        freezer.tick(timedelta(minutes=5))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    collect.assert_not_called()


async def test_polling_continues_every_interval(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    collector = ScriptedCollector("counting")
    with patch(
        "custom_components.ai_performance.build_collectors", return_value=[collector]
    ):
        await setup_integration(hass, mock_config_entry)
    assert collector.collect_calls == 1

    for _ in range(3):
        freezer.tick(timedelta(seconds=31))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    assert collector.collect_calls == 4


async def test_a_source_not_ready_retries_setup_and_stops_started_sources(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    events: list[str] = []
    collectors = [
        ScriptedCollector("ready", events=events),
        ScriptedCollector("not_ready", not_ready=True, events=events),
    ]
    with patch(
        "custom_components.ai_performance.build_collectors", return_value=collectors
    ):
        await setup_integration(hass, mock_config_entry)

    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert events == ["start ready", "stop ready"]


async def test_sensors_become_unavailable_after_unload(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    await setup_integration(hass, mock_config_entry)
    entity_ids = [
        e.entity_id
        for e in er.async_entries_for_config_entry(
            entity_registry, mock_config_entry.entry_id
        )
        if not e.disabled
    ]

    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert all(hass.states.get(e).state == STATE_UNAVAILABLE for e in entity_ids)


async def test_only_devices_of_gone_subjects_can_be_deleted(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await setup_integration(hass, mock_config_entry)
    host = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{ENTRY_ID}_host"), ENTRY_ID
    )
    gone = device_registry.async_get_or_create(
        config_entry_id=ENTRY_ID, identifiers={(DOMAIN, f"{ENTRY_ID}_gpu_GPU-gone")}
    )
    assert host is not None

    assert not await async_remove_config_entry_device(hass, mock_config_entry, host)
    assert await async_remove_config_entry_device(hass, mock_config_entry, gone)


async def test_stale_devices_are_removed_at_setup(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    mock_config_entry.add_to_hass(hass)
    device_registry.async_get_or_create(
        config_entry_id=ENTRY_ID, identifiers={(DOMAIN, f"{ENTRY_ID}_gpu_GPU-gone")}
    )

    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    identifiers = {
        next(iter(d.identifiers))[1]
        for d in dr.async_entries_for_config_entry(device_registry, ENTRY_ID)
    }
    assert identifiers == {f"{ENTRY_ID}_host", f"{ENTRY_ID}_overview"}


# Options saved by earlier versions that cannot work: NaN (stored as null in JSON) and null.
BROKEN_OPTIONS = {
    CONF_REPAIR_MINUTES: None,
    CONF_MONTHLY_BUDGET: math.nan,
    CONF_COOLDOWN_MINUTES: None,
    CONF_MAX_ACTIONS_PER_HOUR: math.inf,
    CONF_ALERT_RULES: {
        "response_time": {
            "enabled": True,
            "target": 1500,
            "warning": None,
            "critical": 4000,
            "for_minutes": 3,
            "hysteresis": math.nan,
        },
        # Only its critical threshold is left: the default warning is past it.
        "cpu": {"warning": None, "critical": 50, "target": math.nan},
        "cache_hit": {"target": -math.inf},
    },
    CONF_SLA_CLASSES: {
        "simple": {CONF_LATENCY_S: None, CONF_AVAILABILITY: 99},
        "moderate": {CONF_LATENCY_S: 6, CONF_AVAILABILITY: math.nan},
        "complex": {CONF_LATENCY_S: 20, CONF_AVAILABILITY: 98},
    },
    CONF_SLA_AGENTS: {"conversation.home_assistant": None, "rag_service": "complex"},
}


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf, "nan"])
async def test_a_stored_option_that_cannot_work_is_reset_and_the_entry_sets_up(
    hass: HomeAssistant, bad: object
) -> None:
    options: dict[str, Any] = {
        **BROKEN_OPTIONS,
        CONF_REPAIR_MINUTES: bad,
        CONF_COOLDOWN_MINUTES: bad,
    }
    entry = our_entry(options)

    await setup_integration(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    assert entry.options == {
        CONF_ALERT_RULES: {
            "response_time": {
                "enabled": True,
                "target": 1500,
                "critical": 4000,
                "for_minutes": 3,
            },
            "cache_hit": {},
        },
        CONF_SLA_CLASSES: {"complex": {CONF_LATENCY_S: 20, CONF_AVAILABILITY: 98}},
        CONF_SLA_AGENTS: {"rag_service": "complex"},
    }
    settings = entry.runtime_data.alerts.settings
    assert settings.repair_s == DEFAULT_REPAIR_MINUTES * 60
    assert settings.rules[RuleKey.RESPONSE_TIME].thresholds.warning == 3000
    assert settings.rules[RuleKey.CPU].thresholds.critical == 95
    assert entry.runtime_data.costs.monthly_budget is None
    # Saved so: a restart sets up with the same options, and no figure goes NaN.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_a_server_stored_with_a_number_that_cannot_work_sets_up(
    hass: HomeAssistant,
    socket_enabled: None,  # the server's collector tries to reach it (a closed port)
) -> None:
    subentry = ConfigSubentryDataWithId(
        data={
            CONF_URL: "http://127.0.0.1:9",
            CONF_SCAN_INTERVAL: None,
            CONF_OUTAGE_MINUTES: math.nan,
            CONF_PROBE_MINUTES: None,
        },
        subentry_id="01JSERVERSUBENTRY000000001",
        subentry_type=SUBENTRY_OLLAMA,
        title="Ollama test",
        unique_id=None,
    )
    entry = our_entry(subentries=[subentry])

    await setup_integration(hass, entry)

    assert entry.state is ConfigEntryState.LOADED
    (saved,) = entry.subentries.values()
    assert saved.data == {CONF_URL: "http://127.0.0.1:9"}
