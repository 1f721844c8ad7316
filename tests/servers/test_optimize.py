"""The optimize action: recommendations from real evidence; a dry run changes nothing."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.ai_performance.const import DOMAIN, SUBENTRY_OLLAMA
from custom_components.ai_performance.optimizer import (
    EXPOSED_TTL_S,
    exposed_entity_count,
)

from ..conftest import our_entry, setup_integration
from ..fake_pynvml import GIB, FakeGpu, FakeNvml
from .conftest import SERVER_ID, poll, server_subentry
from .fake_servers import FakeServer, OllamaState, ollama_server
from .test_model_actions import act, changes


async def _requests(hass: HomeAssistant, count: int, duration_ms: float) -> None:
    for _ in range(count):
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": "rag", "duration_ms": duration_ms, "model": "qwen3:8b"},
            blocking=True,
        )


def _by_id(response: Any) -> dict[str, Any]:
    return {item["id"]: item for item in response["recommendations"]}


async def test_cold_starts_are_found_and_only_fixed_without_dry_run(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        # 20 answers while qwen3:8b is loaded; then it is unloaded and 5 answers wait for it.
        await _requests(hass, 20, 1000)
        state.loaded = [m for m in state.loaded if m["name"] != "qwen3:8b"]
        await poll(hass, freezer)
        await _requests(hass, 5, 30_000)

        dry = await act(hass, "optimize")

        assert dry["dry_run"] is True
        assert dry["actions"] == []
        item = _by_id(dry)["cold_starts:rag"]
        # Titled in words for people; the kind stays an id for automations.
        assert (item["title"], item["kind"]) == ("Cold starts", "cold_starts")
        assert item["severity"] == "warning"
        assert item["rationale"].startswith(
            "5 of 25 requests to rag in the last day found the model unloaded and took "
            "30.0 s (median) instead of 1.0 s."
        )
        assert item["action"]["kind"] == "preload"
        assert changes(server) == []

        applied = await act(hass, "optimize", dry_run=False)

        assert changes(server) == [
            ("POST", "/api/generate", {"model": "qwen3:8b", "keep_alive": 1800})
        ]
        assert applied["actions"] == [
            {
                "id": "cold_starts:rag",
                "server": "ollama test",
                "server_id": SERVER_ID,
                "model": "qwen3:8b",
                "action": "preload",
                "keep_alive_s": 1800,
                "changed": True,
            }
        ]


@asynccontextmanager
async def _short_of_vram(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> AsyncIterator[FakeServer]:
    """23 of 24 GiB in use; qwen3:8b answered a minute ago, llama3.2:3b was never used."""
    nvml.plug(FakeGpu(uuid="GPU-a", memory_used=23 * GIB))
    async with ollama_server(OllamaState()) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        await _requests(hass, 1, 800)
        await poll(hass, freezer, 60)
        yield server


async def test_vram_pressure_unloads_the_idle_model(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    async with _short_of_vram(hass, nvml, freezer) as server:
        dry = await act(hass, "optimize", dry_run=True)
        item = _by_id(dry)["vram_pressure:GPU-a"]
        assert item["severity"] == "warning"  # 23 of 24 GiB: 95.8 %
        assert item["action"]["model"] == "llama3.2:3b"
        assert "95.8 %" in item["rationale"]
        assert changes(server) == []

        # qwen3:8b is partly on the CPU (the fixture's 75 %): unloading llama3.2:3b helps it
        # too. The same change is made once.
        offload = f"cpu_offload:{SERVER_ID}/qwen3:8b"
        assert _by_id(dry)[offload]["action"] == item["action"]

        applied = await act(hass, "optimize", dry_run=False)
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})
        ]
        assert [a["id"] for a in applied["actions"]] == [offload]


async def test_kinds_limit_what_is_recommended_and_done(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    async with _short_of_vram(hass, nvml, freezer) as server:
        cold = await act(hass, "optimize", dry_run=False, kinds=["cold_starts"])
        assert cold["recommendations"] == []
        assert cold["actions"] == []
        assert changes(server) == []

        # As the VRAM blueprint calls it: GPU memory only, not the CPU offload it also helps.
        vram = await act(hass, "optimize", dry_run=False, kinds="vram_pressure")
        assert list(_by_id(vram)) == ["vram_pressure:GPU-a"]
        assert [a["id"] for a in vram["actions"]] == ["vram_pressure:GPU-a"]
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})
        ]


async def test_nothing_to_do_on_a_quiet_install(hass: HomeAssistant) -> None:
    await setup_integration(hass, our_entry())
    assert await act(hass, "optimize") == {
        "dry_run": True,
        "recommendations": [],
        "actions": [],
    }


async def test_large_prompts_quote_the_entities_exposed_to_assist(
    hass: HomeAssistant,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    for index in range(60):
        entity_id = f"light.lamp_{index}"
        hass.states.async_set(entity_id, "off")
        async_expose_entity(hass, "conversation", entity_id, True)  # noqa: FBT003
    await setup_integration(hass, our_entry())
    for _ in range(10):
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": "rag", "duration_ms": 4000, "input_tokens": 9000},
            blocking=True,
        )

    item = _by_id(await act(hass, "optimize"))["large_prompts:rag"]

    assert "60 entities are exposed to Assist" in item["rationale"]
    assert "an estimated 1,500 tokens" in item["rationale"]
    # The count is reused for ten minutes: exposing more shows later.
    for index in range(60, 80):
        hass.states.async_set(f"light.lamp_{index}", "off")
        async_expose_entity(hass, "conversation", f"light.lamp_{index}", True)  # noqa: FBT003
    again = _by_id(await act(hass, "optimize"))["large_prompts:rag"]
    assert "60 entities" in again["rationale"]
    assert exposed_entity_count(hass, time.time() + EXPOSED_TTL_S) == 80
