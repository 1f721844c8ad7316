"""./scripts/develop's Home Assistant listens on 127.0.0.1:PORT only, and never falls back.

Home Assistant 2026.10+ tries the http: section of configuration.yaml as an unconfirmed trial and,
unless it is confirmed within five minutes, restarts on its confirmed settings: every interface,
port 8123. scripts/lib/http_settings.py writes host and port into the confirmed slot instead. These
tests run that script as develop does (with this venv's Home Assistant, so its storage version),
start Home Assistant's real http component on what it wrote, and let more than the trial pass.
"""

from datetime import timedelta
import json
from pathlib import Path
import subprocess
import sys
from typing import Any

from aiohttp import ClientSession
from homeassistant.components.http.config import DATA_STORE, STORAGE_KEY
from homeassistant.const import EVENT_HOMEASSISTANT_START
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import psutil
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

from .real_servers import free_port

SCRIPT = Path(__file__).parent.parent / "scripts" / "lib" / "http_settings.py"
# Longer than Home Assistant's trial of an unconfirmed HTTP configuration (5 minutes).
PAST_THE_TRIAL = timedelta(minutes=6)


@pytest.fixture
def disable_http_server() -> None:
    """Replace the plugin's fixture of that name, which stops the HTTP server from binding."""


@pytest.fixture
def port(socket_enabled: None) -> int:
    """A port free on 127.0.0.1; the test's server binds it and the test asks it over HTTP."""
    return free_port()


def _develop_store(config_dir: Path, port: int) -> dict[str, Any]:
    """Run the script as scripts/develop does; return the store file it wrote."""
    subprocess.run(  # noqa: S603 - our own script, with this interpreter
        [sys.executable, str(SCRIPT), str(config_dir), str(port)], check=True
    )
    path = config_dir / ".storage" / STORAGE_KEY
    assert path.stat().st_mode & 0o077 == 0  # private, as Home Assistant keeps it
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _listening(port: int) -> set[str]:
    """The addresses this process listens on at ``port``, as the kernel reports them."""
    return {
        connection.laddr.ip
        for connection in psutil.Process().net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }


async def _start_http(hass: HomeAssistant, config: dict[str, Any]) -> None:
    assert await async_setup_component(hass, "http", config)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_START)  # the server starts serving
    await hass.async_block_till_done()


async def test_develop_settings_hold_past_the_trial_on_loopback_only(
    hass: HomeAssistant, hass_storage: dict[str, Any], tmp_path: Path, port: int
) -> None:
    hass_storage[STORAGE_KEY] = await hass.async_add_executor_job(
        _develop_store, tmp_path, port
    )
    restarts: list[ServiceCall] = async_mock_service(hass, "homeassistant", "restart")

    await _start_http(hass, {})
    async_fire_time_changed(hass, dt_util.utcnow() + PAST_THE_TRIAL)
    await hass.async_block_till_done()

    assert hass.data[DATA_STORE].revert_deadline is None  # nothing on trial
    assert restarts == []
    assert _listening(port) == {"127.0.0.1"}
    async with (
        ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/api/") as answer,
    ):
        # Home Assistant's server answers (no api integration here, so not found), with the
        # header its own middleware adds.
        assert answer.status == 404
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    # No repair about HTTP settings: none came from YAML.
    assert not [
        issue
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == "http"
    ]
    await hass.http.stop()


async def test_http_yaml_alone_is_a_trial_that_restarts(
    hass: HomeAssistant, hass_storage: dict[str, Any], port: int
) -> None:
    """What develop did before: the same host and port in YAML, never confirmed."""
    restarts: list[ServiceCall] = async_mock_service(hass, "homeassistant", "restart")

    await _start_http(hass, {"http": {"server_host": "127.0.0.1", "server_port": port}})
    async_fire_time_changed(hass, dt_util.utcnow() + PAST_THE_TRIAL)
    await hass.async_block_till_done()

    # Home Assistant restarts onto its confirmed default: every interface, port 8123.
    assert len(restarts) == 1
    assert hass_storage[STORAGE_KEY]["data"]["pending"]["error"] == "not_promoted"
    assert "server_host" not in hass_storage[STORAGE_KEY]["data"]["stable"]
    await hass.http.stop()


def test_an_existing_store_keeps_its_settings_but_not_a_trial(tmp_path: Path) -> None:
    """A store left by an earlier start: other settings stay, host, port and trial are develop's."""
    first = _develop_store(tmp_path, 8123)
    first["data"]["stable"] |= {
        "server_host": ["0.0.0.0"],  # noqa: S104 - what a user may have set in the frontend
        "use_x_frame_options": False,
    }
    first["data"]["pending"] = {**first["data"]["stable"], "server_port": 9999}
    (tmp_path / ".storage" / STORAGE_KEY).write_text(json.dumps(first), "utf-8")

    again = _develop_store(tmp_path, 8124)

    stable = again["data"]["stable"]
    assert (stable["server_host"], stable["server_port"]) == (["127.0.0.1"], 8124)
    assert stable["use_x_frame_options"] is False
    assert stable["created_at"] == first["data"]["stable"]["created_at"]
    assert again["data"]["pending"] is None
    assert again["data"]["yaml_migration_done"] is True
