"""Real servers for these tests, one of each per session: llama-server with a real model, and
Prometheus scraping it and an exporter of series named as the servers' own docs name them.

Home Assistant's own LLM integrations are the agents under test: ``openai_conversation`` pointed
at llama-server (``OPENAI_BASE_URL``, as a user of a local OpenAI-compatible server sets it) and
the core ``llama_cpp`` integration.
"""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
import tempfile
import time

from homeassistant.components import assist_pipeline
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
import pytest_socket

from ..real_servers import (
    Exporter,
    LlamaServer,
    PrometheusServer,
    exporter,
    llama_server,
    node_exporter,
    prometheus_server,
    provisioned,
)
from .agents import add_llm_agent
from .exposition import fleet_exporter

# Short answers: enough tokens to time the generation, few enough to keep the suite quick.
MAX_TOKENS = 40


@pytest.fixture(scope="session")
def real_paths() -> dict[str, str]:
    """Return where the provisioned servers are."""
    return provisioned()


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """A folder for the servers' logs and data, removed with the session."""
    with tempfile.TemporaryDirectory(prefix="aip-real-") as path:
        yield Path(path)


@pytest.fixture(scope="session")
def llama(real_paths: dict[str, str], workdir: Path) -> Iterator[LlamaServer]:
    """llama-server with Gemma 3 270M, its metrics on, for the whole session."""
    pytest_socket.enable_socket()
    with llama_server(real_paths, workdir) as server:
        yield server


@pytest.fixture
def llama_without_metrics(
    real_paths: dict[str, str], workdir: Path
) -> Iterator[LlamaServer]:
    """Another llama-server, started without --metrics (its default), for one test."""
    pytest_socket.enable_socket()
    with llama_server(real_paths, workdir, metrics=False) as server:
        yield server


@pytest.fixture(scope="session")
def node(real_paths: dict[str, str], workdir: Path) -> Iterator[str]:
    """Debian's node_exporter on 127.0.0.1, for the whole session; its URL."""
    pytest_socket.enable_socket()
    with node_exporter(real_paths, workdir) as url:
        yield url


@pytest.fixture(scope="session")
def node_prometheus(
    real_paths: dict[str, str], workdir: Path, node: str
) -> Iterator[PrometheusServer]:
    """Prometheus scraping the node_exporter every second (job "node")."""
    pytest_socket.enable_socket()
    targets = {"node": node.removeprefix("http://")}
    with prometheus_server(real_paths, workdir / "node", targets) as server:
        server.wait_for('up{job="node"} == 1')
        yield server


@pytest.fixture(scope="session")
def fleet(workdir: Path) -> Iterator[Exporter]:
    """Our exporter of vLLM and DCGM series, for the whole session."""
    pytest_socket.enable_socket()
    with exporter(fleet_exporter(), workdir) as served:
        yield served


@pytest.fixture(scope="session")
def prometheus(
    real_paths: dict[str, str], workdir: Path, llama: LlamaServer, fleet: Exporter
) -> Iterator[PrometheusServer]:
    """Prometheus scraping llama-server and the exporter every second."""
    targets = {"llama": llama.url.removeprefix("http://"), "fleet": fleet.target}
    with prometheus_server(real_paths, workdir, targets) as server:
        server.wait_for('up{job="fleet"} == 1')
        server.wait_for('up{job="llama"} == 1')
        yield server


@pytest.fixture(autouse=True)
def local_servers(socket_enabled: None) -> None:
    """Let the tests reach the servers on 127.0.0.1."""


@pytest.fixture
async def openai_agent(
    hass: HomeAssistant, llama: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Home Assistant's OpenAI integration, its model served by llama-server."""
    monkeypatch.setenv("OPENAI_BASE_URL", f"{llama.url}/v1")
    return await add_llm_agent(
        hass,
        "openai_conversation",
        {CONF_API_KEY: "sk-local"},
        model=llama.alias,
        max_tokens=MAX_TOKENS,
    )


@pytest.fixture
async def llama_cpp_agent(hass: HomeAssistant, llama: LlamaServer) -> str:
    """Home Assistant's llama.cpp integration, streaming from llama-server."""
    return await add_llm_agent(
        hass,
        "llama_cpp",
        {"base_url": f"{llama.url}/v1", "streaming": True},
        model=llama.alias,
        max_tokens=MAX_TOKENS,
    )


async def use_in_pipeline(hass: HomeAssistant, agent: str) -> str:
    """Make ``agent`` the preferred Assist pipeline's agent; return the pipeline's id."""
    assert await async_setup_component(hass, "assist_pipeline", {})
    pipeline = assist_pipeline.async_get_pipeline(hass)
    await assist_pipeline.async_update_pipeline(
        hass, pipeline, conversation_engine=agent, prefer_local_intents=False
    )
    return pipeline.id


async def wait_until(
    hass: HomeAssistant, condition: Callable[[], bool], within_s: float = 60.0
) -> None:
    """Wait (real time) until ``condition`` holds, letting Home Assistant run meanwhile."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
        await hass.async_block_till_done()
