"""Benchmarks of Ollama models: the exact API calls, the figures from Ollama's own timings,
a background run cancelled half way, and the overview's buttons."""

import asyncio

from homeassistant.components.persistent_notification import (
    _async_get_or_create_notifications,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest

from custom_components.ai_performance.const import DOMAIN, SUBENTRY_OLLAMA

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..requests.test_benchmark import benchmark
from .conftest import server_subentry
from .fake_servers import OllamaState, ollama_server

LLAMA = "llama3.2:3b on ollama test"
QWEN = "qwen3:8b on ollama test"


async def _set_up(hass: HomeAssistant, url: str) -> None:
    await setup_integration(
        hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, url)])
    )


def _generations(requests: list[tuple[str, str, object]]) -> list[object]:
    return [body for method, path, body in requests if path == "/api/generate"]


async def test_two_models_compared_from_ollamas_own_timings(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        server.requests.clear()

        run = await benchmark(
            hass, models=["llama3.2:3b", "qwen3:8b"], prompts=["Hi"], count=2, warm_up=1
        )

        sent = _generations(server.requests)
        assert len(sent) == 6  # per model: one warm-up, two measured
        assert sent[0] == {
            "model": "llama3.2:3b",
            "prompt": "Hi",
            "stream": False,
            "options": {"num_predict": 128, "temperature": 0, "seed": 0},
        }
        # The fixture's answer: 10 706.818083 ms in all, loading 6 338.219291 ms and reading
        # the prompt 130.079 ms before the first token; 259 tokens in Ollama's own 4 232.71 ms.
        llama = run["results"][LLAMA]
        assert llama["requests"] == 2
        assert llama["latency_p50_ms"] == pytest.approx(10706.818, abs=1e-3)
        assert llama["ttft_p50_ms"] == pytest.approx(6338.219 + 130.079, abs=1e-3)
        assert llama["output_tokens_per_s"] == pytest.approx(259 / 4.23271, abs=1e-2)
        assert run["comparison"] == {
            QWEN: {"latency_p50_ratio": 1.0, "output_tokens_per_s_ratio": 1.0}
        }


async def test_a_model_that_fails_counts_its_errors(hass: HomeAssistant) -> None:
    async with ollama_server(OllamaState(generate_status=500)) as server:
        await _set_up(hass, server.url)
        run = await benchmark(
            hass, models=["qwen3:8b"], prompts=["Hi"], count=3, warm_up=0
        )

        figures = run["results"][QWEN]
        assert figures["errors"] == 3
        assert figures["errors_by_code"] == {"bad_status": 3}
        assert figures["error_rate_percent"] == 100


async def test_a_model_not_on_the_server_is_refused(hass: HomeAssistant) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        with pytest.raises(ServiceValidationError) as caught:
            await benchmark(hass, models=["mistral"])
        assert caught.value.translation_key == "model_not_installed"
        assert _generations(server.requests) == []


async def test_a_background_run_shows_progress_and_can_be_cancelled(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        server.behaviour.delay_s = 0.05
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        runner = entry.runtime_data.benchmark

        # No response asked for: the action returns at once and the run goes on.
        await hass.services.async_call(
            DOMAIN,
            "run_benchmark",
            {"models": ["qwen3:8b"], "count": 40, "warm_up": 0},
            blocking=True,
        )
        state = hass.states.get("sensor.ai_performance_benchmark")
        assert state.state == "running"
        with pytest.raises(ServiceValidationError) as caught:
            await benchmark(hass, models=["qwen3:8b"])
        assert caught.value.translation_key == "benchmark_running"

        three_done = asyncio.Event()
        runner.async_add_listener(
            lambda: three_done.set() if runner.run.completed >= 3 else None
        )
        await three_done.wait()
        progress = hass.states.get("sensor.ai_performance_benchmark").attributes
        assert 0 < progress["progress"] < 100
        cancelled = await hass.services.async_call(
            DOMAIN, "cancel_benchmark", {}, blocking=True, return_response=True
        )
        await runner.async_wait()
        sent = len(_generations(server.requests))
        await asyncio.sleep(0.2)

        assert cancelled == {"cancelled": True}
        assert len(_generations(server.requests)) == sent  # nothing more was sent
        state = hass.states.get("sensor.ai_performance_benchmark")
        assert state.state == "cancelled"
        assert 3 <= state.attributes["completed"] < 40
        measured = state.attributes["results"][QWEN]["requests"]
        assert measured == state.attributes["completed"]
        note = _async_get_or_create_notifications(hass)[f"{DOMAIN}_benchmark"]
        assert note["message"].startswith(f"Benchmark cancelled: {measured} of 40")
        assert f"| {QWEN} | {measured} | 0 | 10,707 ms |" in note["message"]

        # Nothing left to cancel.
        again = await hass.services.async_call(
            DOMAIN, "cancel_benchmark", {}, blocking=True, return_response=True
        )
        assert again == {"cancelled": False}


async def test_the_buttons_benchmark_and_optimize_into_notifications(
    hass: HomeAssistant,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        entry = hass.config_entries.async_get_entry(ENTRY_ID)

        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": "button.ai_performance_run_benchmark"},
            blocking=True,
        )
        await entry.runtime_data.benchmark.async_wait()
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": "button.ai_performance_optimize_now"},
            blocking=True,
        )

        notes = _async_get_or_create_notifications(hass)
        assert (
            "| conversation.home_assistant | 5 |"
            in notes[f"{DOMAIN}_benchmark"]["message"]
        )
        # The fixture's qwen3:8b is a quarter on the CPU; llama3.2:3b was never used.
        optimize = notes[f"{DOMAIN}_optimize"]["message"]
        assert optimize.startswith(
            "**Model partly on the CPU: qwen3:8b** (warning): Only 75 % of qwen3:8b"
        )
        assert "Safe action: unload llama3.2:3b" in optimize
        assert server.requests[-1][0] == "GET"  # a dry run: nothing changed


async def test_an_unreachable_server_is_refused_before_the_run(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        server.behaviour.status = 503
        with pytest.raises(HomeAssistantError) as caught:
            await benchmark(hass, models=["qwen3:8b"])
        assert caught.value.translation_key == "server_request_failed"
        assert "/api/tags: HTTP 503" in str(caught.value)
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        assert entry.runtime_data.benchmark.run is None


async def test_a_malformed_answer_counts_as_an_error(hass: HomeAssistant) -> None:
    state = OllamaState()
    state.generate = {"done": False}
    async with ollama_server(state) as server:
        await _set_up(hass, server.url)
        run = await benchmark(hass, models=["qwen3:8b"], count=2, warm_up=0)
        assert run["results"][QWEN]["errors_by_code"] == {"malformed": 2}
