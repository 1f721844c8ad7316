"""The options flow: more disks besides the configuration directory's."""

from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance.const import CONF_DISKS

from .conftest import setup_integration

ROOT_USAGE = "sensor.host_disk_usage"


async def _choose(
    hass: HomeAssistant, entry: MockConfigEntry, disks: list[str]
) -> dict:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
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

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)

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
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)

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
