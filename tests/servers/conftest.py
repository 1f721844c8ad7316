"""Helpers for the model server tests: subentries, entity lookup, polling on."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigSubentryDataWithId
from homeassistant.const import CONF_SCAN_INTERVAL, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.ai_performance.const import (
    CONF_OUTAGE_MINUTES,
    DEFAULT_OUTAGE_MINUTES,
    DOMAIN,
)

from ..conftest import ENTRY_ID, tick

SERVER_ID = "01JSERVERSUBENTRY000000001"


def server_subentry(
    subentry_type: str, url: str, *, subentry_id: str = SERVER_ID, **data: Any
) -> ConfigSubentryDataWithId:
    """Return the subentry of one model server, as the flow saves it."""
    return ConfigSubentryDataWithId(
        data={
            CONF_URL: url,
            CONF_SCAN_INTERVAL: 30,
            CONF_OUTAGE_MINUTES: DEFAULT_OUTAGE_MINUTES,
            **data,
        },
        subentry_id=subentry_id,
        subentry_type=subentry_type,
        title=f"{subentry_type} test",
        unique_id=None,
    )


def server_state(
    hass: HomeAssistant, platform: str, key: str, subject: str | None = None
) -> State | None:
    """Return the state of a server entity (or of one of its models' with ``subject``)."""
    subject = subject or f"server_{SERVER_ID}"
    entity_id = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{ENTRY_ID}_{subject}_{key}"
    )
    return None if entity_id is None else hass.states.get(entity_id)


async def poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 30
) -> None:
    """Let ``seconds`` pass and run one coordinator tick."""
    await tick(hass, freezer, seconds)


def flow_input(url: str, **extra: Any) -> dict[str, Any]:
    """Return a server flow's form as a user fills it in."""
    return {
        CONF_URL: url,
        CONF_VERIFY_SSL: True,
        CONF_SCAN_INTERVAL: 60,
        CONF_OUTAGE_MINUTES: 15,
        **extra,
    }


async def start_flow(hass: HomeAssistant, subentry_type: str) -> dict[str, Any]:
    """Open the flow that adds a server of ``subentry_type``."""
    return await hass.config_entries.subentries.async_init(
        (ENTRY_ID, subentry_type), context={"source": SOURCE_USER}
    )


async def submit_flow(
    hass: HomeAssistant, flow_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Submit a server flow's form."""
    return await hass.config_entries.subentries.async_configure(flow_id, data)


@pytest.fixture(autouse=True)
def local_servers(socket_enabled: None) -> None:
    """Let the tests run real servers; they bind to 127.0.0.1 and stop with the test."""
