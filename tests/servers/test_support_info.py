"""What a user copies into a bug report: diagnostics (complete, every secret redacted) through the
real download endpoint, and system health with each model server's reachability."""

import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import get_system_health_info
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.const import (
    DOMAIN,
    SUBENTRY_OLLAMA,
    SUBENTRY_OPENAI_COMPATIBLE,
)
from custom_components.ai_performance.diagnostics import redact_url

from ..conftest import ENTRY_ID, our_entry, setup_integration, tick
from ..fake_pynvml import FakeGpu
from ..test_alerts import watching
from .conftest import server_subentry
from .fake_servers import OllamaState, VllmState, ollama_server, vllm_server

VLLM_ID = "01JSERVERSUBENTRY000000002"
# Figures that differ from run to run (timings, the host's load) are checked by type only.
VOLATILE = path_type(
    {
        r"sources\..*_ms": (float,),
        r"last_snapshot\.(collection_ms|.*_overhead_percent)": (float,),
        r"last_snapshot\.host\..*": (float, int, dict, list, str, type(None)),
        r"alerts\.history\.\d+\.at": (float,),
        r"alerts\.raised\.\d+\.since": (float,),
        r"last_snapshot\.servers\..*\.expires_at": (str, type(None)),
    },
    regex=True,
)


async def _diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> dict[str, Any]:
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client()
    response = await client.get(f"/api/diagnostics/config_entry/{ENTRY_ID}")
    assert response.status == 200
    return dict((await response.json())["data"])


async def test_diagnostics_are_complete_and_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    snapshot: SnapshotAssertion,
) -> None:
    async with (
        ollama_server(OllamaState()) as ollama,
        vllm_server(VllmState()) as vllm,
    ):
        # Credentials in one URL, an API key on the other server.
        vllm_url = vllm.url.replace("http://", "http://admin:hunter2@")
        await setup_integration(
            hass,
            watching(
                RuleKey.GPU_TEMPERATURE,
                subentries=[
                    server_subentry(SUBENTRY_OLLAMA, ollama.url, api_key="sk-secret"),
                    server_subentry(
                        SUBENTRY_OPENAI_COMPATIBLE,
                        vllm_url,
                        subentry_id=VLLM_ID,
                        server_kind="vllm",
                    ),
                ],
            ),
        )
        gpu.temperature = 95
        for _ in range(5):  # past the rule's 2 minutes
            await tick(hass, freezer)

        diagnostics = await _diagnostics(hass, hass_client)

    text = json.dumps(diagnostics)
    for secret in ("sk-secret", "hunter2", "admin"):
        assert secret not in text
    servers = {s["title"]: s["data"] for s in diagnostics["subentries"]}
    assert servers["ollama test"]["api_key"] == "**REDACTED**"
    assert servers["openai_compatible test"]["url"] == (
        f"http://**REDACTED**@{vllm.url.removeprefix('http://')}"
    )
    assert [item["severity"] for item in diagnostics["alerts"]["history"]] == [
        "critical"
    ]
    assert {s["status"] for s in diagnostics["sources"].values()} == {"ok"}
    # Ports and the configuration directory differ from run to run.
    stable = json.loads(
        text.replace(_port(ollama.url), "OLLAMA_PORT")
        .replace(_port(vllm.url), "VLLM_PORT")
        .replace(hass.config.config_dir, "CONFIG_DIR")
    )
    assert stable == snapshot(matcher=VOLATILE)


def test_urls_keep_what_is_not_secret() -> None:
    assert redact_url("http://gpu-box:11434") == "http://gpu-box:11434"
    assert (
        redact_url("https://u:p@prom.lan:9090/api?query=up&api_key=k&step=30")
        == "https://**REDACTED**@prom.lan:9090/api?query=up&api_key=**REDACTED**&step=30"
    )


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


async def test_system_health_says_which_servers_answer(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with ollama_server(OllamaState()) as ollama:
        vllm_url = ""
        async with vllm_server(VllmState()) as vllm:
            vllm_url = vllm.url.replace("http://", "http://admin:hunter2@")
        # The vLLM server has stopped: its port is closed now.
        await setup_integration(
            hass,
            our_entry(
                subentries=[
                    server_subentry(SUBENTRY_OLLAMA, ollama.url),
                    server_subentry(
                        SUBENTRY_OPENAI_COMPATIBLE,
                        vllm_url,
                        subentry_id=VLLM_ID,
                        server_kind="vllm",
                    ),
                ]
            ),
        )
        assert await async_setup_component(hass, "system_health", {})
        info = await get_system_health_info(hass, DOMAIN)
        # Reachability is checked when the page asks: awaitables, as the frontend gets them.
        reachable = {
            "ollama test: reachable": await info.pop("ollama test: reachable"),
            "openai_compatible test: reachable": await info.pop(
                "openai_compatible test: reachable"
            ),
        }

    assert reachable == {
        "ollama test: reachable": "ok",
        "openai_compatible test: reachable": {"type": "failed", "error": "unreachable"},
    }
    assert info["ollama test"] == "ok"
    assert info["openai_compatible test"].startswith("failing: ServerError")
    assert info["requests"] == "ok"
