"""Adding and reconfiguring model servers: each error shown, and a way back to success."""

import base64
import math
import re
from typing import Any

from aiohttp import web
from homeassistant.const import CONF_API_KEY, CONF_SCAN_INTERVAL, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance import server_flow
from custom_components.ai_performance.const import (
    CONF_OUTAGE_MINUTES,
    CONF_PROBE_MINUTES,
    CONF_PROBE_MODEL,
    CONF_QUERIES,
    CONF_SERVER_KIND,
    DOMAIN,
    SUBENTRY_OLLAMA,
    SUBENTRY_OPENAI_COMPATIBLE,
    SUBENTRY_PROMETHEUS,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..real_servers import free_port
from .conftest import flow_input, start_flow, submit_flow
from .fake_servers import OllamaState, VllmState, ollama_server, serve, vllm_server


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
        assert result["errors"] == {CONF_URL: "unexpected_answer"}
        assert result["description_placeholders"]["error"] == "/api/version: HTTP 404"

        server.behaviour.status = None
        server.behaviour.token = "right"
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {CONF_API_KEY: "invalid_auth"}

        server.behaviour.body = b"<html>not ollama</html>"
        result = await submit_flow(
            hass, result["flow_id"], flow_input(server.url, **{CONF_API_KEY: "right"})
        )
        assert result["errors"] == {CONF_URL: "unexpected_answer"}

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
        assert result["errors"] == {CONF_URL: "unexpected_answer"}
        assert result["description_placeholders"]["error"] == "no version"

        def broken(_payload: Any) -> str:
            raise RuntimeError

        monkeypatch.setattr(server_flow, "parse_version", broken)
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["errors"] == {"base": "unknown"}


async def test_a_closed_port_is_told_in_words_not_a_python_class_name(
    hass: HomeAssistant,
) -> None:
    await setup_integration(hass, our_entry())
    result = await start_flow(hass, SUBENTRY_OLLAMA)

    refused = await submit_flow(
        hass, result["flow_id"], flow_input(f"http://127.0.0.1:{free_port()}")
    )

    assert refused["errors"] == {"base": "cannot_connect"}
    assert refused["description_placeholders"]["error"] == (
        "/api/version: connection refused"
    )


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


# --- Numbers, URLs and credentials that cannot work ---------------------------------------------


async def _submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Any:
    """Submit a server form; return its result, or the form's own refusal."""
    try:
        return await submit_flow(hass, flow_id, data)
    except InvalidData as err:
        return err


@pytest.mark.parametrize(
    "value", [math.nan, "nan", math.inf, -math.inf, "-inf", "Infinity", 1e300]
)
@pytest.mark.parametrize(
    "field", [CONF_SCAN_INTERVAL, CONF_OUTAGE_MINUTES, CONF_PROBE_MINUTES]
)
async def test_a_number_that_cannot_work_is_refused_on_its_field_then_saved(
    hass: HomeAssistant, field: str, value: float | str
) -> None:
    async with ollama_server(OllamaState()) as server:
        await setup_integration(hass, our_entry())
        result = await start_flow(hass, SUBENTRY_OLLAMA)

        refused = await _submit(
            hass, result["flow_id"], flow_input(server.url, **{field: value})
        )

        if isinstance(refused, InvalidData):  # past the box's bounds
            assert field in refused.schema_errors
        else:
            assert refused["errors"] == {field: "number_not_finite"}
        # NaN passes every box's bounds: the flow's own error says what is wrong.
        if math.isnan(float(value)):
            assert not isinstance(refused, InvalidData)
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_SCAN_INTERVAL] == 60
        await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:0", "invalid_port"),
        ("http://127.0.0.1:65536", "invalid_port"),
        ("http://127.0.0.1:99999", "invalid_port"),
        ("http://127.0.0.1:-1", "invalid_port"),
        ("http://127.0.0.1:port", "invalid_port"),
        ("http://127.0.0.1:11434?token=x", "url_query"),
        ("http://127.0.0.1:11434/?token=x", "url_query"),
        ("http://127.0.0.1:11434#top", "url_query"),
    ],
)
async def test_a_url_that_cannot_work_is_refused_on_the_url_then_saved(
    hass: HomeAssistant, url: str, error: str
) -> None:
    async with ollama_server(OllamaState()) as server:
        await setup_integration(hass, our_entry())
        result = await start_flow(hass, SUBENTRY_OLLAMA)

        refused = await submit_flow(hass, result["flow_id"], flow_input(url))

        assert refused["type"] is FlowResultType.FORM
        assert refused["errors"] == {CONF_URL: error}
        assert not server.requests
        result = await submit_flow(hass, result["flow_id"], flow_input(server.url))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()


@pytest.mark.parametrize(
    ("kind", "ports"),
    [
        (SUBENTRY_OLLAMA, {"11434"}),
        (SUBENTRY_OPENAI_COMPATIBLE, {"8000", "8080", "30000"}),
        (SUBENTRY_PROMETHEUS, {"9090"}),
    ],
)
async def test_each_server_kind_shows_example_urls_with_its_own_ports(
    hass: HomeAssistant, kind: str, ports: set[str]
) -> None:
    await setup_integration(hass, our_entry())
    result = await start_flow(hass, kind)

    refused = await submit_flow(
        hass, result["flow_id"], flow_input("http://127.0.0.1:99999")
    )

    assert refused["errors"] == {CONF_URL: "invalid_port"}
    translations = await async_get_translations(
        hass, "en", "config_subentries", {DOMAIN}
    )
    prefix = f"component.{DOMAIN}.config_subentries.{kind}."
    texts = [text for key, text in translations.items() if key.startswith(prefix)]
    error = translations[f"{prefix}error.invalid_port"]
    assert set(re.findall(r"https?://[^\s:]+:(\d+)", error)) & ports
    shown = {
        port for text in texts for port in re.findall(r"https?://[^\s:]+:(\d+)", text)
    }
    assert shown <= ports


async def test_url_credentials_with_an_api_key_get_our_error_then_basic_auth_works(
    hass: HomeAssistant,
) -> None:
    seen: list[str | None] = []
    basic = "Basic " + base64.b64encode(b"me:pw").decode()

    async def version(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != basic:
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"version": "0.12.6"})

    async with serve({("GET", "/api/version"): version}) as server:
        await setup_integration(hass, our_entry())
        with_credentials = server.url.replace("http://", "http://me:pw@")
        result = await start_flow(hass, SUBENTRY_OLLAMA)

        refused = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(with_credentials, **{CONF_API_KEY: "token"}),
        )

        assert refused["errors"] == {CONF_API_KEY: "credentials_and_api_key"}
        assert not seen
        result = await submit_flow(
            hass, result["flow_id"], flow_input(with_credentials)
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert seen == [basic]
        # The title names the host, never the credentials.
        assert "pw" not in result["title"]
        await hass.async_block_till_done()


async def test_refused_url_credentials_are_shown_on_the_url_then_right_ones_work(
    hass: HomeAssistant,
) -> None:
    basic = "Basic " + base64.b64encode(b"me:pw").decode()

    async def version(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != basic:
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"version": "0.12.6"})

    async with serve({("GET", "/api/version"): version}) as server:
        await setup_integration(hass, our_entry())
        result = await start_flow(hass, SUBENTRY_OLLAMA)

        refused = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(server.url.replace("http://", "http://me:wrong@")),
        )

        assert refused["errors"] == {CONF_URL: "credentials_refused"}
        result = await submit_flow(
            hass,
            result["flow_id"],
            flow_input(server.url.replace("http://", "http://me:pw@")),
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()


async def test_reconfiguring_to_url_credentials_drops_the_saved_api_key(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await setup_integration(hass, our_entry())
        result = await start_flow(hass, SUBENTRY_OLLAMA)
        result = await submit_flow(
            hass, result["flow_id"], flow_input(server.url, **{CONF_API_KEY: "old"})
        )
        await hass.async_block_till_done()
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        (subentry,) = entry.subentries.values()

        result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
        with_credentials = server.url.replace("http://", "http://me:pw@")
        result = await submit_flow(
            hass, result["flow_id"], flow_input(with_credentials)
        )

        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert not entry.subentries[subentry.subentry_id].data.get(CONF_API_KEY)


HUGE = "q" * 1_000_000


@pytest.mark.parametrize(
    "queries",
    [
        [{"name": HUGE, "query": ""}],
        [{"name": HUGE, "query": "up"}, {"name": HUGE, "query": "up"}],
    ],
)
async def test_a_huge_query_name_is_echoed_as_a_short_prefix(
    hass: HomeAssistant, queries: list[dict[str, str]]
) -> None:
    await setup_integration(hass, our_entry())
    result = await start_flow(hass, SUBENTRY_PROMETHEUS)

    refused = await submit_flow(
        hass,
        result["flow_id"],
        flow_input("http://127.0.0.1:9090", **{CONF_QUERIES: queries}),
    )

    assert refused["errors"] == {CONF_QUERIES: "query_invalid"}
    assert refused["description_placeholders"]["name"] == "q" * 60 + "…"
