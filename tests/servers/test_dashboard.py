"""The ready dashboard: laid out from the install's entities, created through Lovelace's API.

The reference install (one GPU, one Ollama server, one reporting subject) is also the dashboard
kept in docs/dashboards/; AIP_WRITE_DASHBOARD=1 rewrites that file from this test.
"""

import os
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigSubentryDataWithId
from homeassistant.const import CONF_SCAN_INTERVAL, CONF_URL
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, Unauthorized
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
import yaml

from custom_components.ai_performance.const import (
    CONF_GPU_MONITORING,
    DOMAIN,
    GPU_MONITORING_ON,
    SUBENTRY_OLLAMA,
)
from custom_components.ai_performance.dashboard import REFRESH_DELAY_S, build_dashboard

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..fake_pynvml import FakeGpu
from .conftest import SERVER_ID, poll, server_subentry
from .fake_servers import FakeServer, OllamaState, ollama_server

DOCS_DASHBOARD = (
    Path(__file__).parent.parent.parent / "docs" / "dashboards" / "ai_performance.yaml"
)
CARD_TYPES = {
    "heading",
    "tile",
    "gauge",
    "history-graph",
    "entities",
    "conditional",
    "markdown",
}


async def _reference_install(
    hass: HomeAssistant, server: FakeServer, freezer: FrozenDateTimeFactory
) -> None:
    """One GPU (the gpu fixture), one Ollama server and one subject with a request."""
    assert await async_setup_component(hass, "lovelace", {})
    ollama = ConfigSubentryDataWithId(
        data={CONF_URL: server.url, CONF_SCAN_INTERVAL: 30},
        subentry_id=SERVER_ID,
        subentry_type=SUBENTRY_OLLAMA,
        title="Ollama",
        unique_id=None,
    )
    await setup_integration(hass, our_entry(subentries=[ollama]))
    await hass.services.async_call(
        DOMAIN,
        "record_request",
        {"subject": "Kitchen assistant", "duration_ms": 900},
        blocking=True,
    )
    # The event loop's lag is probed on the loop's own timer: the first tick fires the probe,
    # the second one reads it (and the host gets its lag alert).
    await poll(hass, freezer)
    await poll(hass, freezer)
    await hass.async_block_till_done()


async def _create(hass: HomeAssistant, user: User) -> dict[str, Any]:
    return await hass.services.async_call(  # type: ignore[no-any-return]
        DOMAIN,
        "create_dashboard",
        {},
        blocking=True,
        return_response=True,
        context=Context(user_id=user.id),
    )


async def _ws(client: Any, command: str, **data: Any) -> Any:
    await client.send_json_auto_id({"type": command, **data})
    answer = await client.receive_json()
    assert answer["success"], answer
    return answer["result"]


def _cards(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        card
        for view in config["views"]
        for section in view["sections"]
        for card in section["cards"]
    ]


def _shown(config: dict[str, Any]) -> set[str]:
    shown = set()
    for card in _cards(config):
        inner = card.get("card", card)
        shown.update(inner.get("entities", []))
        if "entity" in inner:
            shown.add(inner["entity"])
    return shown


async def test_the_layout_covers_the_install_with_built_in_cards_only(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, gpu: FakeGpu
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _reference_install(hass, server, freezer)
        config = build_dashboard(hass, ENTRY_ID)

    assert [v["title"] for v in config["views"]] == [
        "Overview",
        "Agents",
        "Model servers",
    ]
    assert {card["type"] for card in _cards(config)} == CARD_TYPES
    shown = _shown(config)
    # Every entity shown exists; the key ones of each device are there.
    assert all(hass.states.get(entity_id) for entity_id in shown)
    for entity_id in (
        "sensor.ai_performance_health",
        "sensor.ai_performance_overall_latency_p95",
        "sensor.host_cpu_usage",
        "sensor.nvidia_geforce_rtx_4090_vram_usage",
        "sensor.nvidia_geforce_rtx_4090_temperature",
        "binary_sensor.nvidia_geforce_rtx_4090_gpu_temperature_alert",
        "sensor.kitchen_assistant_latency_p95",
        "binary_sensor.ollama_reachable",
        "sensor.ollama_loaded_models",
    ):
        assert entity_id in shown, entity_id
    # Diagnostic entities stay on the device page.
    assert "sensor.ai_performance_collection_duration" not in shown
    overview = {
        section["cards"][0]["heading"]: section["cards"][1:]
        for section in config["views"][0]["sections"]
    }
    # The first screen answers: why is it slow, what does it cost, is the GPU all right.
    assert list(overview) == [
        "AI Performance",
        "Alerts",
        "Why is it slow?",
        "What does it cost?",
        "NVIDIA GeForce RTX 4090",
        "Host",
        "Actions",
    ]
    (slowest, *graphs) = overview["Why is it slow?"]
    assert slowest["entity"] == "sensor.kitchen_assistant_slowest_stage"
    assert slowest["name"] == "Kitchen assistant"
    assert slowest["state_content"] == ["state", "waited"]
    assert [g["type"] for g in graphs] == ["history-graph", "history-graph"]
    # Without prices, the cost question is answered by how to set them.
    (no_prices,) = overview["What does it cost?"]
    assert no_prices["type"] == "markdown"
    assert "/config/energy" in no_prices["content"]
    tiles = [c for c in _cards(config) if c["type"] == "tile"]
    for tile in tiles:
        # A figure not known yet takes no room; a button shows no "Unknown" last press.
        if tile["entity"].startswith("sensor."):
            assert tile["visibility"] == [
                {"condition": "state", "entity": tile["entity"], "state_not": "unknown"}
            ]
        if tile["entity"].startswith("button."):
            assert tile["hide_state"] is True
        # Names fit half a phone's width; longer ones get the section's whole width.
        if "grid_options" not in tile:
            assert len(tile.get("name", "")) <= 15, tile
    alerts = [c for c in _cards(config) if c["type"] == "conditional"]
    assert alerts[0]["conditions"] == [
        {
            "condition": "state",
            "entity": "sensor.ai_performance_active_alerts",
            "state": "0",
        }
    ]
    assert len(alerts) > 3
    assert all(c["conditions"][0]["state"] == "on" for c in alerts[1:])
    # Every raised alert shows its value with its unit.
    assert all(
        c["card"]["state_content"] == ["severity", "reading"]
        for c in alerts[1:]
        if c["card"]["entity"].endswith("_alert")
    )

    if os.environ.get("AIP_WRITE_DASHBOARD"):
        DOCS_DASHBOARD.write_text(_docs_text(config), encoding="utf-8")
    assert yaml.safe_load(DOCS_DASHBOARD.read_text(encoding="utf-8")) == config, (
        "docs/dashboards/ai_performance.yaml is out of date: run this test with "
        "AIP_WRITE_DASHBOARD=1"
    )


def _docs_text(config: dict[str, Any]) -> str:
    header = (
        "# The AI Performance dashboard of a typical install: one NVIDIA GPU, an Ollama server\n"
        "# named Ollama and one agent (Kitchen assistant). Your entity ids differ: the\n"
        '# "Create dashboard" button (AI Performance device) or the create_dashboard action\n'
        "# builds it for your install. To paste it instead: Settings > Dashboards > Add\n"
        "# dashboard > New dashboard from scratch > Edit > Raw configuration editor.\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


async def test_created_through_lovelace_and_refreshed_only_while_unedited(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_admin_user: User,
    hass_ws_client: WebSocketGenerator,
    gpu: FakeGpu,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _reference_install(hass, server, freezer)
        client = await hass_ws_client(hass)
        # A user's own dashboard already has our address.
        await _ws(
            client,
            "lovelace/dashboards/create",
            url_path="ai-performance",
            title="Mine",
            mode="storage",
        )
        mine = {"views": [{"title": "Mine", "cards": []}]}
        await _ws(
            client, "lovelace/config/save", url_path="ai-performance", config=mine
        )

        made = await _create(hass, hass_admin_user)

        assert made["url_path"] == "ai-performance-2"
        assert made["updated"] is False
        assert made["views"] == 3
        listed = {
            d["url_path"]: d for d in await _ws(client, "lovelace/dashboards/list")
        }
        assert listed["ai-performance-2"]["mode"] == "storage"
        assert listed["ai-performance-2"]["title"] == "AI Performance"
        assert listed["ai-performance-2"]["show_in_sidebar"] is True
        saved = await _ws(client, "lovelace/config", url_path="ai-performance-2")
        assert saved == build_dashboard(hass, ENTRY_ID)
        assert await _ws(client, "lovelace/config", url_path="ai-performance") == mine

        # Unedited: refreshed in place.
        again = await _create(hass, hass_admin_user)
        assert (again["url_path"], again["updated"]) == ("ai-performance-2", True)

        # Edited by its user: left alone, and a new one is made.
        edited = {**saved, "title": "My AI"}
        await _ws(
            client, "lovelace/config/save", url_path="ai-performance-2", config=edited
        )
        third = await _create(hass, hass_admin_user)
        assert (third["url_path"], third["updated"]) == ("ai-performance-3", False)
        assert (
            await _ws(client, "lovelace/config", url_path="ai-performance-2") == edited
        )


async def test_the_button_creates_it_and_links_to_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hass_admin_user: User
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _reference_install(hass, server, freezer)
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": "button.ai_performance_create_dashboard"},
            blocking=True,
            context=Context(user_id=hass_admin_user.id),
        )

    notifications = persistent_notification._async_get_or_create_notifications(hass)
    message = notifications[f"{DOMAIN}_dashboard"]["message"]
    assert message.startswith(
        "Created the dashboard: [open it](/ai-performance) (3 views"
    )


async def test_only_administrators_and_signed_in_users_can_create_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_read_only_user: User,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _reference_install(hass, server, freezer)
        with pytest.raises(Unauthorized):
            await _create(hass, hass_read_only_user)
        # Pressed by an automation: no user to create it for.
        with pytest.raises(HomeAssistantError) as raised:
            await hass.services.async_call(
                "button",
                "press",
                {"entity_id": "button.ai_performance_create_dashboard"},
                blocking=True,
            )
    assert raised.value.translation_key == "dashboard_needs_user"


async def test_without_a_gpu_the_overview_says_why_and_what_to_do(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    # No NVML here (the nvml fixture's default), one Ollama here, one on another machine.
    assert await async_setup_component(hass, "lovelace", {})
    async with ollama_server(OllamaState()) as server:
        local = server_subentry(SUBENTRY_OLLAMA, server.url)
        remote = server_subentry(
            SUBENTRY_OLLAMA,
            "http://gpu-box.invalid:11434",
            subentry_id="01JSERVERSUBENTRY000000002",
        )
        await setup_integration(hass, our_entry(subentries=[local, remote]))
        await poll(hass, freezer)
        config = build_dashboard(hass, ENTRY_ID)

    sections = {
        section["cards"][0]["heading"]: section["cards"][1:]
        for section in config["views"][0]["sections"]
    }
    note, *vram = sections["Is the GPU all right?"]
    assert note["type"] == "markdown"
    assert note["content"].startswith("**GPU not monitored.** NVIDIA's NVML library")
    assert "(ollama test at gpu-box.invalid)" in note["content"]
    # Each Ollama server's models' VRAM is what can be shown; the unreachable one's too.
    assert [tile["entity"] for tile in vram] == [
        "sensor.ollama_test_vram_held_by_models",
        "sensor.ollama_test_vram_held_by_models_2",
    ]


async def test_our_unedited_dashboard_keeps_up_with_the_install_by_itself(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_admin_user: User,
    hass_ws_client: WebSocketGenerator,
    gpu: FakeGpu,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _reference_install(hass, server, freezer)
        await _create(hass, hass_admin_user)
        client = await hass_ws_client(hass)

        async def shown() -> set[str]:
            config = await _ws(client, "lovelace/config", url_path="ai-performance")
            return _shown(config)

        assert "sensor.garage_assistant_latency_p95" not in await shown()

        # A new agent appears: its device shows up on the dashboard once things settle.
        await _new_agent_settles(hass, freezer, "Garage assistant")
        assert "sensor.garage_assistant_latency_p95" in await shown()

        # Once its user edits it, it is theirs: nothing changes it any more.
        edited = await _ws(client, "lovelace/config", url_path="ai-performance")
        edited["title"] = "My AI"
        await _ws(
            client, "lovelace/config/save", url_path="ai-performance", config=edited
        )
        await _new_agent_settles(hass, freezer, "Porch assistant")
        assert await _ws(client, "lovelace/config", url_path="ai-performance") == edited


async def _new_agent_settles(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, name: str
) -> None:
    """Report a request of a new agent; wait until its entities exist and settled."""
    await hass.services.async_call(
        DOMAIN,
        "record_request",
        {"subject": name, "duration_ms": 700},
        blocking=True,
    )
    await poll(hass, freezer)
    await poll(hass, freezer, REFRESH_DELAY_S + 1)
    await hass.async_block_till_done()


async def test_a_device_renamed_by_its_user_is_renamed_on_the_dashboard(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    hass_admin_user: User,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _reference_install(hass, server, freezer)
        await _create(hass, hass_admin_user)
        registry = dr.async_get(hass)
        (kitchen,) = [
            d
            for d in dr.async_entries_for_config_entry(registry, ENTRY_ID)
            if d.name == "Kitchen assistant"
        ]

        registry.async_update_device(kitchen.id, name_by_user="Kitchen speaker")
        await poll(hass, freezer, REFRESH_DELAY_S + 1)
        await hass.async_block_till_done()

        client = await hass_ws_client(hass)
        config = await _ws(client, "lovelace/config", url_path="ai-performance")
    headings = {
        section["cards"][0]["heading"]
        for view in config["views"]
        for section in view["sections"]
    }
    assert "Kitchen speaker" in headings
    assert "Kitchen assistant" not in headings
    # Read through the registry, not through the device's deprecated list of entries.
    assert "DeviceEntry.config_entries" not in caplog.text


async def test_with_gpu_monitoring_on_the_gpu_note_points_to_the_repair(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    assert await async_setup_component(hass, "lovelace", {})
    await setup_integration(hass, our_entry({CONF_GPU_MONITORING: GPU_MONITORING_ON}))
    await poll(hass, freezer)

    config = build_dashboard(hass, ENTRY_ID)

    (note,) = [
        card
        for section in config["views"][0]["sections"]
        if section["cards"][0]["heading"] == "Is the GPU all right?"
        for card in section["cards"][1:]
    ]
    assert "GPU monitoring is On" in note["content"]
    assert "/config/repairs" in note["content"]
    # No advice to switch on what is on already.
    assert "set GPU monitoring to On" not in note["content"]
