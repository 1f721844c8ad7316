"""AI hosts through the flow and under faults: each exporter is its own source.

node_exporter's text is a real scrape (tests/fixtures/node_exporter.txt, Debian's 1.5.0), served
by a fake that can fail; the real node_exporter is in tests/real/test_ai_host.py.
"""

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import math
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigSubentryDataWithId
from homeassistant.const import CONF_SCAN_INTERVAL, CONF_VERIFY_SSL, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest

from custom_components.ai_performance.collectors.servers import client
from custom_components.ai_performance.const import (
    CONF_GPU_EXPORTER_URL,
    CONF_NODE_EXPORTER_URL,
    CONF_NODE_SELECTOR,
    CONF_OUTAGE_MINUTES,
    CONF_PROMETHEUS_URL,
    DEFAULT_OUTAGE_MINUTES,
    DOMAIN,
    SUBENTRY_AI_HOST,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration
from .conftest import poll, start_flow, submit_flow
from .fake_servers import FakeServer, fixture_text, serve

HOST_ID = "01JAIHOSTSUBENTRY000000001"
SUBJECT = f"ai_host_{HOST_ID}"


@asynccontextmanager
async def node_exporter_server(
    text: str | None = None,
) -> AsyncIterator[FakeServer]:
    """Serve node_exporter's text at /metrics."""
    body = text if text is not None else fixture_text("node_exporter.txt")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="text/plain")

    async with serve({("GET", "/metrics"): metrics}) as server:
        yield server


def ai_host_subentry(**urls: str) -> ConfigSubentryDataWithId:
    """Return an AI host's subentry, as the flow saves it."""
    return ConfigSubentryDataWithId(
        data={
            CONF_VERIFY_SSL: True,
            CONF_SCAN_INTERVAL: 30,
            CONF_OUTAGE_MINUTES: DEFAULT_OUTAGE_MINUTES,
            **urls,
        },
        subentry_id=HOST_ID,
        subentry_type=SUBENTRY_AI_HOST,
        title="AI host gpu-box",
        unique_id=None,
    )


async def set_up_ai_host(hass: HomeAssistant, **urls: str) -> None:
    """Set the integration up with one AI host read at ``urls``."""
    await setup_integration(hass, our_entry(subentries=[ai_host_subentry(**urls)]))


def host_entity(hass: HomeAssistant, key: str) -> str | None:
    """Return the entity id of the AI host's sensor ``key``."""
    return er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_{SUBJECT}_{key}"
    )


def host_value(hass: HomeAssistant, key: str) -> str:
    entity_id = host_entity(hass, key)
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, key
    return state.state


async def start_ai_host_flow(hass: HomeAssistant, way: str = "exporters") -> str:
    """Open the flow that adds an AI host, and choose how it is read; return its id."""
    result = await start_flow(hass, SUBENTRY_AI_HOST)
    assert result["type"] is FlowResultType.MENU
    result = await submit_flow(hass, result["flow_id"], {"next_step_id": way})
    assert result["step_id"] == way
    return result["flow_id"]


def form(**fields: Any) -> dict[str, Any]:
    """Return the AI host form as a user fills it in."""
    return {
        CONF_VERIFY_SSL: True,
        CONF_SCAN_INTERVAL: 30,
        CONF_OUTAGE_MINUTES: 15,
        **fields,
    }


async def test_an_exporter_outage_leaves_the_other_sources_alone_and_raises_its_repair(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with node_exporter_server() as server:
        await set_up_ai_host(hass, **{CONF_NODE_EXPORTER_URL: server.url})
        # The fixture's own figures: load 0.33, and 1.8 % of memory in use.
        assert host_value(hass, "load_1m") == "0.33"
        assert host_value(hass, "memory_usage") == "1.8"
        issues = ir.async_get(hass)
        issue_id = f"ai_host_unreachable_{HOST_ID}_node"

        server.behaviour.status = 503
        await poll(hass, freezer)
        assert host_value(hass, "load_1m") == STATE_UNAVAILABLE
        # Home Assistant's own host is measured as ever.
        assert hass.states.get("sensor.host_cpu_usage").state != STATE_UNAVAILABLE
        health = hass.states.get("sensor.ai_performance_health")
        assert health.attributes["failing_sources"] == [
            "AI host gpu-box: node_exporter"
        ]

        for _ in range(28):
            await poll(hass, freezer)
        assert issues.async_get_issue(DOMAIN, issue_id) is None  # 14 minutes down
        # Its own issue only: not also the issue of a source failing for 10 minutes.
        assert [i for (_, i) in issues.issues if i.startswith("source_failing")] == []
        await poll(hass, freezer, 60)
        issue = issues.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "ai_host_unreachable"
        assert issue.translation_placeholders == {
            "host": "AI host gpu-box",
            "exporter": "node_exporter",
            "minutes": "15",
            "error": "/metrics: HTTP 503",
        }

        server.behaviour.status = None
        await poll(hass, freezer)
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        assert host_value(hass, "load_1m") == "0.33"


@pytest.mark.parametrize(
    ("misbehave", "text"),
    [
        ({"status": 404}, None),
        ({"body": b"node_load1 not-a-number\n"}, None),
        ({}, "x" * (client.MAX_METRICS_BYTES + 1)),
        ({}, "# HELP up Whether the target is up.\nup 1\n"),
    ],
    ids=["404", "garbage", "huge", "another exporter"],
)
async def test_a_bad_answer_makes_only_the_ai_host_unavailable(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    misbehave: dict[str, Any],
    text: str | None,
) -> None:
    async with node_exporter_server() as good:
        await set_up_ai_host(hass, **{CONF_NODE_EXPORTER_URL: good.url})
        assert host_value(hass, "load_1m") == "0.33"
        async with node_exporter_server(text) as bad:
            for name, value in misbehave.items():
                setattr(bad.behaviour, name, value)
            entry = hass.config_entries.async_get_entry(ENTRY_ID)
            hass.config_entries.async_update_subentry(
                entry,
                entry.subentries[HOST_ID],
                data={
                    **entry.subentries[HOST_ID].data,
                    CONF_NODE_EXPORTER_URL: bad.url,
                },
            )
            await hass.async_block_till_done()
            await poll(hass, freezer)

            assert host_value(hass, "load_1m") == STATE_UNAVAILABLE
            assert hass.states.get("sensor.host_cpu_usage").state != STATE_UNAVAILABLE


async def test_a_slow_exporter_is_cut_off_without_delaying_the_others(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.ai_performance.collectors.servers import base  # noqa: PLC0415

    # The poll's own timeout runs on real time: shorten it for the test.
    monkeypatch.setattr(base, "POLL_TIMEOUT_S", 0.2)
    async with node_exporter_server() as server:
        server.behaviour.delay_s = 1.0
        await set_up_ai_host(hass, **{CONF_NODE_EXPORTER_URL: server.url})
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        sources = entry.runtime_data.coordinator.data.sources
        assert not sources[f"ai_host:{HOST_ID}"].ok
        assert sources["host"].ok
        assert sources[f"ai_host:{HOST_ID}"].duration_ms < 1000


async def test_a_host_down_at_start_keeps_its_entities_and_removing_it_removes_them(
    hass: HomeAssistant,
) -> None:
    async with node_exporter_server() as server:
        entry = our_entry(
            subentries=[ai_host_subentry(**{CONF_NODE_EXPORTER_URL: server.url})]
        )
        await setup_integration(hass, entry)
        before = host_entity(hass, "disk_usage_/")
        assert before is not None
        assert await hass.config_entries.async_unload(ENTRY_ID)
        await hass.async_block_till_done()
    # The exporter is gone for good now, and Home Assistant starts again.
    assert await hass.config_entries.async_setup(ENTRY_ID)
    await hass.async_block_till_done()

    assert host_entity(hass, "disk_usage_/") == before
    assert hass.states.get(before).state == STATE_UNAVAILABLE
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{ENTRY_ID}_{SUBJECT}"), ENTRY_ID
    )
    assert device is not None
    assert device.name == "AI host gpu-box"

    alert = er.async_get(hass).async_get_entity_id(
        "binary_sensor", DOMAIN, f"{ENTRY_ID}_{SUBJECT}_memory_alert"
    )
    assert alert is not None  # its memory is watched, as Home Assistant's host's is

    hass.config_entries.async_remove_subentry(entry, HOST_ID)
    await hass.async_block_till_done()
    # Gone with it: its alerts too, now and after the next start.
    assert await hass.config_entries.async_reload(ENTRY_ID)
    await hass.async_block_till_done()

    assert host_entity(hass, "disk_usage_/") is None
    assert (
        er.async_get(hass).async_get_entity_id(
            "binary_sensor", DOMAIN, f"{ENTRY_ID}_{SUBJECT}_memory_alert"
        )
        is None
    )
    assert not [
        status
        for status in entry.runtime_data.coordinator.data.alerts.values()
        if status.subject == SUBJECT
    ]
    assert (
        dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_{SUBJECT}"), ENTRY_ID
        )
        is None
    )


async def test_the_flow_checks_each_url_on_its_own_field(hass: HomeAssistant) -> None:
    await setup_integration(hass, our_entry())
    flow_id = await start_ai_host_flow(hass)

    empty = await submit_flow(hass, flow_id, form())
    assert empty["errors"] == {"base": "no_exporter"}

    async with node_exporter_server(fixture_text("vllm_metrics.txt")) as vllm:
        other = await submit_flow(
            hass, flow_id, form(**{CONF_NODE_EXPORTER_URL: vllm.url})
        )
        assert other["errors"] == {CONF_NODE_EXPORTER_URL: "not_node_exporter"}
    async with node_exporter_server() as node:
        gone = f"{vllm.url}/metrics"  # nothing listens there any more
        down = await submit_flow(
            hass,
            flow_id,
            form(**{CONF_NODE_EXPORTER_URL: node.url, CONF_GPU_EXPORTER_URL: gone}),
        )
        assert down["errors"] == {CONF_GPU_EXPORTER_URL: "cannot_connect"}
        assert down["description_placeholders"]["error"] == (
            "/metrics: connection refused"
        )
        bad_port = await submit_flow(
            hass, flow_id, form(**{CONF_NODE_EXPORTER_URL: "http://gpu-box:99999"})
        )
        assert bad_port["errors"] == {CONF_NODE_EXPORTER_URL: "invalid_port"}

        created = await submit_flow(
            hass, flow_id, form(**{CONF_NODE_EXPORTER_URL: node.url})
        )
        assert created["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        # Named after the machine, as node_exporter names it.
        assert created["title"] == "AI host vm"
        assert created["data"][CONF_NODE_EXPORTER_URL] == f"{node.url}/metrics"

        again = await start_ai_host_flow(hass)
        duplicate = await submit_flow(
            hass, again, form(**{CONF_NODE_EXPORTER_URL: node.url})
        )
        assert duplicate["type"] is FlowResultType.ABORT
        assert duplicate["reason"] == "already_configured"


async def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(
    hass: HomeAssistant,
) -> None:
    text = fixture_text("node_exporter.txt")
    expected = "Basic " + base64.b64encode(b"prom:s3cr%t").decode()

    async def metrics(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        return web.Response(text=text)

    async with serve({("GET", "/metrics"): metrics}) as server:
        await setup_integration(hass, our_entry())
        flow_id = await start_ai_host_flow(hass)
        host = server.url.removeprefix("http://")

        wrong = await submit_flow(
            hass, flow_id, form(**{CONF_NODE_EXPORTER_URL: f"http://prom:nope@{host}"})
        )
        assert wrong["errors"] == {CONF_NODE_EXPORTER_URL: "credentials_refused"}
        assert "nope" not in str(wrong)

        # A percent-encoded password, as the docs say to write one with special characters.
        right = await submit_flow(
            hass,
            flow_id,
            form(**{CONF_NODE_EXPORTER_URL: f"http://prom:s3cr%25t@{host}"}),
        )
        assert right["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        (subentry_id,) = entry.subentries
        load = er.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{ENTRY_ID}_ai_host_{subentry_id}_load_1m"
        )
        assert hass.states.get(load).state == "0.33"


async def test_an_exporter_that_redirects_is_not_followed(hass: HomeAssistant) -> None:
    async def moved(_request: web.Request) -> web.Response:
        location = "http://169.254.169.254/latest/meta-data"
        raise web.HTTPFound(location)

    async with serve({("GET", "/metrics"): moved}) as server:
        await setup_integration(hass, our_entry())
        flow_id = await start_ai_host_flow(hass)

        result = await submit_flow(
            hass, flow_id, form(**{CONF_NODE_EXPORTER_URL: server.url})
        )

        assert result["errors"] == {CONF_NODE_EXPORTER_URL: "server_error"}
        assert result["description_placeholders"]["error"] == "/metrics: HTTP 302"


async def test_an_unreadable_saved_layout_is_dropped_not_fatal(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    hass_storage[f"{DOMAIN}.{ENTRY_ID}.ai_hosts"] = {
        "version": 1,
        "data": {HOST_ID: {"cores": "many", "gpus": [{"uuid": None}]}},
    }
    async with node_exporter_server() as server:
        await set_up_ai_host(hass, **{CONF_NODE_EXPORTER_URL: server.url})

        assert host_value(hass, "load_1m") == "0.33"


async def test_reconfiguring_moves_the_host_to_a_new_address_and_keeps_its_entities(
    hass: HomeAssistant,
) -> None:
    async with node_exporter_server() as old, node_exporter_server() as new:
        entry = our_entry(
            subentries=[ai_host_subentry(**{CONF_NODE_EXPORTER_URL: old.url})]
        )
        await setup_integration(hass, entry)
        entity_id = host_entity(hass, "load_1m")

        result = await entry.start_subentry_reconfigure_flow(hass, HOST_ID)
        assert result["step_id"] == "reconfigure"
        result = await submit_flow(
            hass, result["flow_id"], form(**{CONF_NODE_EXPORTER_URL: new.url})
        )
        await hass.async_block_till_done()

        assert result["reason"] == "reconfigure_successful"
        assert entry.subentries[HOST_ID].data[CONF_NODE_EXPORTER_URL] == (
            f"{new.url}/metrics"
        )
        asked = len(new.requests)
        assert host_entity(hass, "load_1m") == entity_id
        assert host_value(hass, "load_1m") == "0.33"
        assert asked > 0  # read at the new address


async def test_an_ai_host_through_prometheus_is_reconfigured_in_its_own_form(
    hass: HomeAssistant,
) -> None:
    data = {
        CONF_PROMETHEUS_URL: "http://127.0.0.1:9",
        CONF_NODE_SELECTOR: 'instance="gpu-box:9100"',
    }
    entry = our_entry(subentries=[ai_host_subentry(**data)])
    await setup_integration(hass, entry)

    result = await entry.start_subentry_reconfigure_flow(hass, HOST_ID)

    assert result["step_id"] == "prometheus"
    schema = result["data_schema"].schema
    suggested = {
        str(key): key.description["suggested_value"]
        for key in schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested[CONF_NODE_SELECTOR] == 'instance="gpu-box:9100"'


# What node_exporter itself (Debian's 1.5.0) answers with status 200 at any path but /metrics.
LANDING_PAGE = "<html>\n\t\t\t<head><title>Node Exporter</title></head>\n\t\t\t<body>\n</body></html>"


async def test_a_web_page_in_the_node_exporter_field_is_refused_on_that_field(
    hass: HomeAssistant,
) -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=LANDING_PAGE, content_type="text/html")

    await setup_integration(hass, our_entry())
    flow_id = await start_ai_host_flow(hass)
    async with serve({("GET", "/status"): page}) as server:
        result = await submit_flow(
            hass, flow_id, form(**{CONF_NODE_EXPORTER_URL: f"{server.url}/status"})
        )
    assert result["errors"] == {CONF_NODE_EXPORTER_URL: "unexpected_answer"}


async def test_the_ai_host_device_belongs_to_its_subentry(hass: HomeAssistant) -> None:
    async with node_exporter_server() as server:
        await set_up_ai_host(hass, **{CONF_NODE_EXPORTER_URL: server.url})
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_{SUBJECT}"), ENTRY_ID
        )
        assert device is not None
        # 2026.11 names the one subentry; 2026.10 keeps a set per config entry.
        if hasattr(device, "config_subentry_id"):
            assert device.config_subentry_id == HOST_ID
        else:
            assert device.config_entries_subentries[ENTRY_ID] == {HOST_ID}


async def test_rates_are_known_from_the_first_tick_after_a_start_or_a_reload(
    hass: HomeAssistant,
) -> None:
    async with node_exporter_server() as server:
        await set_up_ai_host(hass, **{CONF_NODE_EXPORTER_URL: server.url})
        # A first scrape was taken at start: the first tick has something to compare with.
        assert host_value(hass, "cpu_usage") == "0.0"  # the fake's counters stand still
        assert host_value(hass, "network_in_rate") == "0.0"
        assert await hass.config_entries.async_reload(ENTRY_ID)
        await hass.async_block_till_done()
        assert host_value(hass, "cpu_usage") == "0.0"


@pytest.mark.parametrize("field", [CONF_SCAN_INTERVAL, CONF_OUTAGE_MINUTES])
async def test_a_nan_number_is_refused_on_its_field_and_changes_nothing(
    hass: HomeAssistant, field: str
) -> None:
    async with node_exporter_server() as server:
        await setup_integration(hass, our_entry())
        flow_id = await start_ai_host_flow(hass)
        node = {CONF_NODE_EXPORTER_URL: server.url}

        refused = await submit_flow(hass, flow_id, form(**node, **{field: math.nan}))

        # NaN passes every box's bounds: the flow's own error says what is wrong.
        assert refused["errors"] == {field: "number_not_finite"}
        assert not hass.config_entries.async_get_entry(ENTRY_ID).subentries
        saved = await submit_flow(hass, flow_id, form(**node))
        assert saved["type"] is FlowResultType.CREATE_ENTRY
        assert saved["data"][CONF_SCAN_INTERVAL] == 30
        await hass.async_block_till_done()
