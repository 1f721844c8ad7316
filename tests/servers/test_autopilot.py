"""Auto-optimization through Home Assistant: it waits for the hold, acts once, logs, measures."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
import pytest

from custom_components.ai_performance.const import (
    CONF_AUTO_OPTIMIZE,
    CONF_AUTO_OPTIMIZE_ACTIONS,
    CONF_COOLDOWN_MINUTES,
    CONF_MAX_ACTIONS_PER_HOUR,
    DOMAIN,
    EVENT_OPTIMIZATION,
    SUBENTRY_OLLAMA,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration, tick
from ..fake_pynvml import GIB, FakeGpu, FakeNvml
from .conftest import server_subentry
from .fake_servers import OllamaState, ollama_server
from .test_model_actions import changes
from .test_optimize import _requests

EFFECTIVENESS = "sensor.ai_performance_optimization_effectiveness"


async def _tick(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    await tick(hass, freezer, seconds)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("allowed", [["unload"], ["preload"]])
async def test_vram_pressure_unloads_the_idle_model_after_two_minutes(
    hass: HomeAssistant,
    nvml: FakeNvml,
    freezer: FrozenDateTimeFactory,
    allowed: list[str],
) -> None:
    gpu = FakeGpu(uuid="GPU-a", memory_used=23 * GIB)
    nvml.plug(gpu)
    events: list[Event] = []
    hass.bus.async_listen(EVENT_OPTIMIZATION, events.append)
    logbook: list[Event] = []
    hass.bus.async_listen("logbook_entry", logbook.append)
    async with ollama_server(OllamaState()) as server:
        options = {
            CONF_AUTO_OPTIMIZE: True,
            CONF_AUTO_OPTIMIZE_ACTIONS: allowed,
            CONF_COOLDOWN_MINUTES: 30,
            CONF_MAX_ACTIONS_PER_HOUR: 4,
        }
        await setup_integration(
            hass,
            our_entry(
                options, subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)]
            ),
        )
        await _tick(hass, freezer, 60)
        assert changes(server) == []  # held for one minute only

        await _tick(hass, freezer, 60)  # two minutes: the VRAM rule's duration

        if allowed == ["preload"]:
            assert changes(server) == []  # unloading is not allowed
            return
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})
        ]
        (event,) = events
        assert event.data["recommendation_id"] == "vram_pressure:GPU-a"
        assert event.data["description"] == "unload llama3.2:3b"
        assert event.data["changed"] is True
        (entry,) = [e for e in logbook if e.data.get("domain") == DOMAIN]
        assert entry.data["message"].startswith(
            "optimized on its own: unload llama3.2:3b (done)."
        )

        # VRAM drops; the same model is not touched again, and the effect is measured.
        gpu.memory_used = 18 * GIB
        for _ in range(30):
            await _tick(hass, freezer, 60)
        assert len(changes(server)) == 1
        state = hass.states.get(EFFECTIVENESS)
        before, after = 23 / 24 * 100, 18 / 24 * 100
        assert float(state.state) == pytest.approx(
            (before - after) / before * 100, abs=0.01
        )
        (action,) = state.attributes["actions"]
        assert action["kpi"] == "vram:GPU-a"
        assert action["before"] == pytest.approx(before, abs=0.01)


async def test_actions_taken_survive_a_restart_and_still_count_against_the_cap(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a", memory_used=23 * GIB))
    async with ollama_server(OllamaState()) as server:
        options = {
            CONF_AUTO_OPTIMIZE: True,
            CONF_AUTO_OPTIMIZE_ACTIONS: ["unload"],
            CONF_COOLDOWN_MINUTES: 30,
            CONF_MAX_ACTIONS_PER_HOUR: 1,
        }
        await setup_integration(
            hass,
            our_entry(
                options, subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)]
            ),
        )
        for _ in range(2):
            await _tick(hass, freezer, 60)
        assert len(changes(server)) == 1  # llama3.2:3b unloaded

        await hass.config_entries.async_reload(ENTRY_ID)
        await hass.async_block_till_done()
        # VRAM is still short and qwen3:8b is idle now, but one action an hour is the cap.
        for _ in range(10):
            await _tick(hass, freezer, 60)
        assert len(changes(server)) == 1
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        (record,) = entry.runtime_data.optimizer.records
        assert record.description == "unload llama3.2:3b"

        # An hour after the first action, the next one may go.
        for _ in range(50):
            await _tick(hass, freezer, 60)
        assert changes(server)[-1] == (
            "POST",
            "/api/generate",
            {"model": "qwen3:8b", "keep_alive": 0},
        )


async def test_a_cold_start_preload_is_measured_on_the_agents_latency(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        options = {
            CONF_AUTO_OPTIMIZE: True,
            CONF_AUTO_OPTIMIZE_ACTIONS: ["preload", "keep_alive"],
            CONF_COOLDOWN_MINUTES: 30,
            CONF_MAX_ACTIONS_PER_HOUR: 4,
        }
        await setup_integration(
            hass,
            our_entry(
                options, subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)]
            ),
        )
        # Warm answers of a second; then qwen3:8b is unloaded and five answers wait 30 s.
        await _requests(hass, 20, 1000)
        state.loaded = [m for m in state.loaded if m["name"] != "qwen3:8b"]
        await _tick(hass, freezer, 30)
        await _requests(hass, 5, 30_000)

        await _tick(hass, freezer, 30)  # cold starts need no hold: preloaded at once

        assert changes(server) == [
            ("POST", "/api/generate", {"model": "qwen3:8b", "keep_alive": 1800})
        ]
        # Warm again: every answer in the next half hour takes a second.
        for _ in range(30):
            await _tick(hass, freezer, 60)
            await _requests(hass, 1, 1000)
        state_ = hass.states.get(EFFECTIVENESS)
        (action,) = state_.attributes["actions"]
        assert action["kpi"] == "latency:rag"
        # Before: 20 answers of 1 s and 5 of 30 s in the half hour before.
        assert action["before"] == pytest.approx((20 * 1000 + 5 * 30_000) / 25)
        assert action["after"] == pytest.approx(1000)
        assert float(state_.state) == pytest.approx(
            (6800 - 1000) / 6800 * 100, abs=0.01
        )
