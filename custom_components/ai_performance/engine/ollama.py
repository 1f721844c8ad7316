"""Ollama's API payloads: loaded models (``/api/ps``) and the timings of a generation.

Ollama reports every duration in nanoseconds. A model's GPU offload is worked out here, as
Ollama's own CLI does: the share of the model's memory that sits in VRAM (``size_vram / size``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .requests import RequestRecord, is_cold_start

NS_PER_MS: Final = 1_000_000
# Ollama writes a far-future expiry for models kept loaded forever (keep_alive -1), and Go's
# zero time where there is none.
FOREVER_AFTER_YEAR: Final = 2200
NO_TIME_BEFORE_YEAR: Final = 1970


class PayloadError(ValueError):
    """A payload does not have the shape of Ollama's API."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """One model in memory on an Ollama server."""

    name: str
    size_bytes: int
    vram_bytes: int
    # None while the model is kept loaded forever.
    expires_at: datetime | None
    context_length: int | None
    parameter_size: str | None
    quantization: str | None

    @property
    def gpu_offload_percent(self) -> float | None:
        """Return the share of the model held in VRAM, in %."""
        if self.size_bytes <= 0:
            return None
        return round(min(self.vram_bytes / self.size_bytes, 1.0) * 100, 1)


def _int(item: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{key} is not a count: {value!r}"
        raise PayloadError(msg)
    return value


def _expiry(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"expires_at is not a time: {value!r}"
        raise PayloadError(msg)
    try:
        expires = datetime.fromisoformat(value)
    except ValueError:
        msg = f"expires_at is not a time: {value[:40]!r}"
        raise PayloadError(msg) from None
    if not NO_TIME_BEFORE_YEAR <= expires.year < FOREVER_AFTER_YEAR:
        return None
    return expires


def parse_loaded_models(payload: Any) -> dict[str, LoadedModel]:
    """Return the models of an ``/api/ps`` answer by name."""
    models = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(models, list):
        msg = "no models list"
        raise PayloadError(msg)
    loaded: dict[str, LoadedModel] = {}
    for item in models:
        if not isinstance(item, dict) or not isinstance(name := item.get("name"), str):
            msg = "a model without a name"
            raise PayloadError(msg)
        details = item.get("details")
        details = details if isinstance(details, dict) else {}
        loaded[name] = LoadedModel(
            name=name,
            size_bytes=_int(item, "size") or 0,
            vram_bytes=_int(item, "size_vram") or 0,
            expires_at=_expiry(item.get("expires_at")),
            context_length=_int(item, "context_length", required=False),
            parameter_size=_text(details.get("parameter_size")),
            quantization=_text(details.get("quantization_level")),
        )
    return loaded


def parse_installed_models(payload: Any) -> list[str]:
    """Return the model names of an ``/api/tags`` answer."""
    models = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(models, list):
        msg = "no models list"
        raise PayloadError(msg)
    return [
        item["name"]
        for item in models
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    ]


def canonical_model(name: str) -> str:
    """Return a model name as Ollama lists it: "llama3.2" is "llama3.2:latest"."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_version(payload: Any) -> str:
    """Return the version of an ``/api/version`` answer."""
    version = payload.get("version") if isinstance(payload, dict) else None
    if not isinstance(version, str) or not version:
        msg = "no version"
        raise PayloadError(msg)
    return version


@dataclass(frozen=True, slots=True)
class GenerationTimings:
    """The timings of one finished generation, in milliseconds, and its token counts."""

    total_ms: float
    load_ms: float
    prompt_eval_ms: float
    eval_ms: float
    prompt_tokens: int
    output_tokens: int
    cached_prompt_tokens: int | None

    @property
    def ttft_ms(self) -> float:
        """Return the time to the first token: loading the model and reading the prompt."""
        return round(self.load_ms + self.prompt_eval_ms, 3)

    @property
    def output_tokens_per_s(self) -> float | None:
        """Return the generation speed, without the time to the first token."""
        if self.eval_ms <= 0:
            return None
        return round(self.output_tokens / self.eval_ms * 1000, 2)

    @property
    def cold_start(self) -> bool:
        """Return True when loading the model took most of the request's time."""
        return is_cold_start(self.load_ms, self.total_ms)

    def fill(self, record: RequestRecord) -> None:
        """Put the generation's own timings and token counts into its ``record``."""
        record.end = record.start + self.total_ms / 1000
        record.ttft_ms = self.ttft_ms
        record.load_ms = round(self.load_ms, 3)
        record.input_tokens = self.prompt_tokens
        record.output_tokens = self.output_tokens
        record.cached_input_tokens = self.cached_prompt_tokens
        # Ollama times the generation itself (eval_count tokens in eval_duration).
        if self.eval_ms > 0:
            record.decode_tokens = self.output_tokens
            record.decode_ms = self.eval_ms


def parse_generation(payload: Any) -> GenerationTimings:
    """Return the timings of a final (``done``) generate or chat answer."""
    if not isinstance(payload, dict) or payload.get("done") is not True:
        msg = "not a finished generation"
        raise PayloadError(msg)
    cached = _int(payload, "prompt_eval_cached_count", required=False)
    return GenerationTimings(
        total_ms=_ns_to_ms(payload, "total_duration"),
        load_ms=_ns_to_ms(payload, "load_duration", required=False),
        prompt_eval_ms=_ns_to_ms(payload, "prompt_eval_duration", required=False),
        eval_ms=_ns_to_ms(payload, "eval_duration", required=False),
        # prompt_eval_count is the whole prompt (cached tokens included, Ollama >= 0.30.1);
        # older builds left it out when the cache served it all.
        prompt_tokens=_int(payload, "prompt_eval_count", required=False) or 0,
        output_tokens=_int(payload, "eval_count", required=False) or 0,
        cached_prompt_tokens=cached,
    )


def _ns_to_ms(payload: Mapping[str, Any], key: str, *, required: bool = True) -> float:
    nanoseconds = _int(payload, key, required=required) or 0
    return nanoseconds / NS_PER_MS
