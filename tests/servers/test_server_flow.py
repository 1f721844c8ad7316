"""Adding and reconfiguring model servers: each error shown, and a way back to success."""

from typing import Any

from homeassistant.const import CONF_API_KEY, CONF_SCAN_INTERVAL, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance import server_flow
from custom_components.ai_performance.const import (
    CONF_PROBE_MINUTES,
    CONF_PROBE_MODEL,
    CONF_SERVER_KIND,
    DOMAIN,
    SUBENTRY_OLLAMA,
    SUBENTRY_OPENAI_COMPATIBLE,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration
from .conftest import flow_input, start_flow, submit_flow
from .fake_servers import OllamaState, VllmState, ollama_server, vllm_server


async def test_add_ollama_offering_home_assistants_own_and_recovering_from_errors(
    hass: HomeAssistant,
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        MockConfigEntry(domain="ollama", data={CONF_URL: server.url}).add_to_hass(hass)
        await setup_integration(hass, our_entry())

        result = await start_flow(hass, SUBENTRY_OLLAMA)
        assert result["type"] is FlowResultType.FORM
        url_field = next(k for k in result["data_schema"].schema if k == CONF_URL)
        selector = result["data_schema"].schema[url_field]
        assert selector.config["options"] == [server.url]  # HA's own Ollama offered

        result = await submit_flow(hass, result["flow_id"], flow_input("ftp://nas"))
        assert result["errors"] == {CONF_URL: "invalid_url"}

        server.behaviour.status = 500
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "server_error"}
        assert result["description_placeholders"]["error"] == "/api/version: HTTP 500"

        # Something answers, but has no such path: not an Ollama.
        server.behaviour.status = 404
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "unexpected_answer"}
        assert result["description_placeholders"]["error"] == "/api/version: HTTP 404"

        server.behaviour.status = None
        server.behaviour.token = "right"
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "invalid_auth"}

        server.behaviour.body = b"<html>not ollama</html>"
        result = await submit_flow(
            hass, result["flow_id"], flow_input(server.url, **{CONF_API_KEY: "right"})
        )
        assert result["errors"] == {"base": "unexpected_answer"}

        server.behaviour.body = None
        result = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(server.url, **{CONF_API_KEY: "right", CONF_PROBE_MINUTES: 10}),
        )
        assert result["errors"] == {CONF_PROBE_MODEL: "probe_model_missing"}

        result = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(
                server.url,
                **{
                    CONF_API_KEY: "right",
                    CONF_PROBE_MODEL: "nope",
                    CONF_PROBE_MINUTES: 10,
                },
            ),
        )
        assert result["errors"] == {CONF_PROBE_MODEL: "probe_model_unknown"}
        assert result["description_placeholders"]["models"] == "llama3.2:3b, qwen3:8b"

        result = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(
                server.url + "/",
                **{
                    CONF_API_KEY: "right",
                    CONF_PROBE_MODEL: "qwen3:8b",
                    CONF_PROBE_MINUTES: 10,
                },
            ),
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == f"Ollama {server.url.removeprefix('http://')}"
        assert result["data"][CONF_URL] == server.url
        await hass.async_block_till_done()

        # Saved: the entry reloaded with the server's entities.
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        (subentry,) = entry.subentries.values()
        assert subentry.data[CONF_PROBE_MODEL] == "qwen3:8b"
        reachable = f"{ENTRY_ID}_server_{subentry.subentry_id}_reachable"
        entity_id = er.async_get(hass).async_get_entity_id(
            "binary_sensor", DOMAIN, reachable
        )
        assert hass.states.get(entity_id).state == "on"

        # The same server again is refused.
        result = await start_flow(hass, SUBENTRY_OLLAMA)
        result = await submit_flow(
            hass, result["flow_id"], flow_input(server.url, **{CONF_API_KEY: "right"})
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"


async def test_a_payload_of_the_wrong_shape_and_an_unexpected_error(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with ollama_server(OllamaState()) as server:
        await setup_integration(hass, our_entry())
        server.behaviour.body = b'{"version": 7}'
        result = await start_flow(hass, SUBENTRY_OLLAMA)
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "unexpected_answer"}
        assert result["description_placeholders"]["error"] == "no version"

        def broken(_payload: Any) -> str:
            raise RuntimeError

        monkeypatch.setattr(server_flow, "parse_version", broken)
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "unknown"}


async def test_reconfigure_keeps_the_saved_key_and_reloads(hass: HomeAssistant) -> None:
    async with ollama_server(OllamaState()) as server:
        server.behaviour.token = "secret"
        await setup_integration(hass, our_entry())
        result = await start_flow(hass, SUBENTRY_OLLAMA)
        result = await submit_flow(
            hass, result["flow_id"], flow_input(server.url, **{CONF_API_KEY: "secret"})
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        (subentry,) = entry.subentries.values()

        result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
        assert result["step_id"] == "reconfigure"
        # The key is never sent back to the browser.
        key_field = next(k for k in result["data_schema"].schema if k == CONF_API_KEY)
        assert not (key_field.description or {}).get("suggested_value")
        url_field = next(k for k in result["data_schema"].schema if k == CONF_URL)
        assert url_field.description["suggested_value"] == server.url
        result = await submit_flow(
            hass, result["flow_id"], flow_input(server.url, **{CONF_SCAN_INTERVAL: 120})
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        subentry = entry.subentries[subentry.subentry_id]
        assert subentry.data[CONF_SCAN_INTERVAL] == 120
        assert subentry.data[CONF_API_KEY] == "secret"


async def test_add_vllm_detects_the_kind(hass: HomeAssistant) -> None:
    async with vllm_server(VllmState()) as server:
        await setup_integration(hass, our_entry())
        server.behaviour.body = b"# HELP up\nup 1\n"
        result = await start_flow(hass, SUBENTRY_OPENAI_COMPATIBLE)
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "no_metrics"}

        server.behaviour.body = None
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_SERVER_KIND] == "vllm"
        await hass.async_block_till_done()
