"""Defects a fresh-eyes walk through the AI host flow found (issue 21), each as a failing test.

Each is marked xfail(strict=True): it passes (as an expected failure) while the defect is there,
and fails the run once the defect is fixed, so whoever fixes it removes the mark.
"""

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.ai_performance.const import CONF_NODE_EXPORTER_URL, DOMAIN

from ..conftest import ENTRY_ID, our_entry, setup_integration
from .conftest import submit_flow
from .fake_servers import serve
from .test_ai_host import (
    HOST_ID,
    SUBJECT,
    ai_host_subentry,
    form,
    node_exporter_server,
    start_ai_host_flow,
)

# What node_exporter itself (Debian's 1.5.0) answers with status 200 at any path but /metrics.
LANDING_PAGE = "<html>\n\t\t\t<head><title>Node Exporter</title></head>\n\t\t\t<body>\n</body></html>"


@pytest.mark.xfail(
    strict=True,
    reason="a web page answering 200 fails the flow with 'Unexpected error' (ExpositionError)",
)
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


@pytest.mark.xfail(
    strict=True,
    reason="the AI host's device is listed under 'Devices that don't belong to a sub-entry'",
)
async def test_the_ai_host_device_belongs_to_its_subentry(hass: HomeAssistant) -> None:
    async with node_exporter_server() as server:
        await setup_integration(
            hass,
            our_entry(
                subentries=[ai_host_subentry(**{CONF_NODE_EXPORTER_URL: server.url})]
            ),
        )
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_{SUBJECT}"), ENTRY_ID
        )
        assert device is not None
        # 2026.11 names the one subentry; 2026.10 keeps a set per config entry.
        if hasattr(device, "config_subentry_id"):
            assert device.config_subentry_id == HOST_ID
        else:
            assert device.config_entries_subentries[ENTRY_ID] == {HOST_ID}
