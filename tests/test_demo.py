"""The demo (scripts/demo) and scripts/develop: their own port only, and no noise of their own.

- A port something already listens on is refused, by both, before anything is deleted or started
  (the demo talked to the Home Assistant already there and deleted its own configuration first).
- A second demo on the same port stops before it deletes the first one's configuration.
- The demo's prompts make the real built-in agent log no error (a timer prompt, asked without a
  voice satellite, logged a traceback on every turn).
- Its configuration leaves out what cannot start here, so no "Invalid config" notification.
"""

from collections.abc import Iterator
import fcntl
import importlib
import json
import logging
import os
from pathlib import Path
import socket
import subprocess
from types import ModuleType

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import parse_yaml
import pytest

from .real_servers import free_port

ROOT = Path(__file__).parent.parent
SCRIPTS = ROOT / "scripts"
# The scripts stop at the port, before any environment is built: a few seconds at most.
REFUSAL_TIMEOUT_S = 60


@pytest.fixture
def scripts_lib(monkeypatch: pytest.MonkeyPatch) -> Path:
    """scripts/lib on the import path, as when its modules run as scripts."""
    monkeypatch.syspath_prepend(str(SCRIPTS / "lib"))
    return SCRIPTS / "lib"


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.fixture
def listening(socket_enabled: None) -> Iterator[int]:
    """A port on 127.0.0.1 that something listens on, as another Home Assistant would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen()
        yield int(server.getsockname()[1])


def _run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a script with its caches in ``tmp_path``; return what it did."""
    return subprocess.run(  # noqa: S603 - this repository's scripts
        [str(SCRIPTS / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=REFUSAL_TIMEOUT_S,
        env={**os.environ, "AIP_CACHE_DIR": str(tmp_path)},
    )


def test_demo_refuses_a_port_in_use_and_keeps_that_ports_configuration(
    tmp_path: Path, listening: int
) -> None:
    kept = tmp_path / f"demo-config-{listening}" / "configuration.yaml"
    kept.parent.mkdir()
    kept.write_text("default_config:\n", encoding="utf-8")

    result = _run(tmp_path, "demo", "-p", str(listening), "-n", "1")

    assert result.returncode == 1
    assert f"port {listening} on 127.0.0.1 is already in use" in result.stderr
    assert kept.is_file()
    assert not (tmp_path / "venvs").exists()  # stopped before building anything


def test_develop_refuses_a_port_in_use(tmp_path: Path, listening: int) -> None:
    result = _run(
        tmp_path, "develop", "-c", str(tmp_path / "new"), "-p", str(listening)
    )

    assert result.returncode == 1
    assert f"port {listening} on 127.0.0.1 is already in use" in result.stderr
    assert not (tmp_path / "new").exists()


def test_a_second_demo_on_a_port_leaves_the_first_ones_configuration(
    tmp_path: Path, socket_enabled: None
) -> None:
    port = (
        free_port()
    )  # nothing listens yet: the first demo's Home Assistant is starting
    kept = tmp_path / f"demo-config-{port}" / "configuration.yaml"
    kept.parent.mkdir()
    kept.write_text("default_config:\n", encoding="utf-8")

    log = tmp_path / f"demo-home-assistant-{port}.log"
    log.write_text("the first demo's Home Assistant\n", encoding="utf-8")
    with log.open("a") as first_demo:
        fcntl.flock(first_demo, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = _run(tmp_path, "demo", "-p", str(port), "-n", "1")

    assert result.returncode == 1
    assert f"another demo is starting or running on port {port}" in result.stderr
    assert kept.is_file()
    assert log.read_text(encoding="utf-8") == "the first demo's Home Assistant\n"


async def test_the_demos_prompts_make_the_built_in_agent_log_no_error(
    hass: HomeAssistant, scripts_lib: Path, caplog: pytest.LogCaptureFixture
) -> None:
    demo = _module("demo")
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "intent", {})

    answers = {}
    with caplog.at_level(logging.ERROR):
        for prompt in demo.PROMPTS:
            result = await conversation.async_converse(hass, prompt, None, Context())
            answers[prompt] = result.response.response_type

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # Some answered, some not (no such device, not understood): the demo shows both.
    assert {t.value for t in answers.values()} >= {"action_done", "error"}


def test_demo_configuration_spells_out_default_config_without_go2rtc(
    scripts_lib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a container without the go2rtc binary, go2rtc and so default_config fail to start."""
    demo_configuration = _module("demo_configuration")
    template = (ROOT / "config" / "configuration.yaml").read_text(encoding="utf-8")
    monkeypatch.setattr(demo_configuration, "is_docker_env", lambda: True)
    monkeypatch.setattr(demo_configuration.shutil, "which", lambda _: None)

    written = parse_yaml(
        demo_configuration.configuration(template, demo_configuration.left_out())
    )

    manifest = Path(demo_configuration.default_config.__file__).with_name(
        "manifest.json"
    )
    members = set(json.loads(manifest.read_text(encoding="utf-8"))["dependencies"])
    assert "default_config" not in written
    assert "go2rtc" not in written
    assert set(written) == (members - {"go2rtc"}) | {"logger"}


def test_demo_configuration_is_develops_where_go2rtc_can_start(
    scripts_lib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_configuration = _module("demo_configuration")
    template = (ROOT / "config" / "configuration.yaml").read_text(encoding="utf-8")

    monkeypatch.setattr(demo_configuration, "is_docker_env", lambda: False)
    assert demo_configuration.left_out() == set()
    monkeypatch.setattr(demo_configuration, "is_docker_env", lambda: True)
    monkeypatch.setattr(demo_configuration.shutil, "which", lambda _: "/usr/bin/go2rtc")
    assert demo_configuration.left_out() == set()
    assert demo_configuration.configuration(template, set()) == template
