"""Ollama payloads: loaded models, generation timings in nanoseconds, cold starts."""

from datetime import UTC, datetime

import pytest

from custom_components.ai_performance.engine.ollama import (
    PayloadError,
    parse_generation,
    parse_loaded_models,
    parse_version,
)
from custom_components.ai_performance.engine.requests import is_cold_start

from ..servers.fake_servers import fixture_json


def test_loaded_models_from_the_documented_ps_answer() -> None:
    models = parse_loaded_models(fixture_json("ollama_ps.json"))

    llama, qwen = models["llama3.2:3b"], models["qwen3:8b"]
    assert llama.size_bytes == llama.vram_bytes == 4023590912
    assert llama.gpu_offload_percent == 100.0
    assert llama.context_length == 8192
    assert (llama.parameter_size, llama.quantization) == ("3.2B", "Q4_K_M")
    # Go writes nanoseconds; the offset is kept.
    assert llama.expires_at == datetime(
        2026, 11, 21, 21, 38, 31, 837530, tzinfo=UTC
    ).astimezone(llama.expires_at.tzinfo)
    # Partly on the CPU; kept loaded forever (keep_alive -1 gives a far-future expiry).
    assert qwen.gpu_offload_percent == 75.0
    assert qwen.expires_at is None


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"models": None},
        {"models": [{"size": 1}]},
        {"models": [{"name": "m", "size": -1, "size_vram": 0}]},
        {"models": [{"name": "m", "size": 1, "size_vram": "1"}]},
        {"models": [{"name": "m", "size": 1, "size_vram": 1, "expires_at": "soon"}]},
    ],
)
def test_malformed_ps_answers_are_refused(payload: object) -> None:
    with pytest.raises(PayloadError):
        parse_loaded_models(payload)


def test_version() -> None:
    assert parse_version({"version": "0.12.6"}) == "0.12.6"
    with pytest.raises(PayloadError):
        parse_version({"version": ""})


def test_generation_timings_are_converted_from_nanoseconds() -> None:
    timings = parse_generation(fixture_json("ollama_generate.json"))

    assert timings.total_ms == pytest.approx(10706.818083)
    assert timings.ttft_ms == pytest.approx(6338.219291 + 130.079)
    assert timings.output_tokens_per_s == pytest.approx(259 / 4.23271, rel=1e-3)
    assert (timings.prompt_tokens, timings.output_tokens) == (26, 259)
    assert timings.cold_start  # loading took 59 % of the request


def test_a_warm_generation_is_not_a_cold_start() -> None:
    warm = {**fixture_json("ollama_generate.json"), "load_duration": 12_000_000}
    assert not parse_generation(warm).cold_start


def test_an_unfinished_generation_is_refused() -> None:
    with pytest.raises(PayloadError):
        parse_generation({**fixture_json("ollama_generate.json"), "done": False})


def test_cold_start_needs_most_of_the_time_spent_loading() -> None:
    assert is_cold_start(500.0, 1000.0)
    assert not is_cold_start(499.0, 1000.0)
    assert not is_cold_start(None, 1000.0)
    assert not is_cold_start(0.0, 0.0)
