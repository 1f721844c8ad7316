"""KPIs of OpenAI-compatible model servers from their Prometheus metrics.

vLLM, llama.cpp, SGLang and Hugging Face TGI each name their series their own way, and names move
between releases, so each KPI lists its names newest first and the first one a server exposes is
used (vLLM renamed ``gpu_cache_usage_perc`` to ``kv_cache_usage_perc`` and
``time_per_output_token_seconds`` to ``inter_token_latency_seconds``; llama.cpp removed its KV
cache gauges and added ``prompt_tokens_cached_total``). Counters become rates between two scrapes
and survive server restarts; histograms become p50 / p95 / p99 of the requests of the last
interval. Where the names come from:

- vLLM: vllm-project/vllm ``vllm/v1/metrics/loggers.py`` (counters get ``_total`` on /metrics).
- llama.cpp: ggml-org/llama.cpp ``tools/server/README.md`` and ``server-task.cpp``
  (``to_metrics``), checked against a running llama-server (b11669) in tests/real.
- SGLang: sgl-project/sglang ``python/sglang/srt/metrics/collector.py``.
- TGI: huggingface/text-generation-inference ``router/src/server.rs`` and
  ``docs/source/reference/metrics.md`` (its counters carry no ``_total``; the token counts are
  the sums of its per-request histograms).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import math
import re
from typing import Final

from .prometheus import IntervalQuantiles, Series, parse_series
from .rates import CounterRate


class ServerKind(StrEnum):
    """Which server exposes the metrics, told by their prefix."""

    VLLM = "vllm"
    LLAMACPP = "llamacpp"
    SGLANG = "sglang"
    TGI = "tgi"


# How people call each kind of server (device models, server titles).
KIND_NAMES: Final = {
    ServerKind.VLLM: "vLLM",
    ServerKind.LLAMACPP: "llama.cpp",
    ServerKind.SGLANG: "SGLang",
    ServerKind.TGI: "Text Generation Inference",
}

type Names = tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricNames:
    """The names of each KPI's series on one kind of server, newest first."""

    running: Names = ()
    waiting: Names = ()
    # A gauge from 0 to 1.
    kv_cache: Names = ()
    prompt_tokens: Names = ()
    generation_tokens: Names = ()
    # Seconds the server spent reading prompts and generating (llama.cpp counts them).
    prompt_seconds: Names = ()
    generation_seconds: Names = ()
    requests: Names = ()
    prefix_queries: Names = ()
    prefix_hits: Names = ()
    # Prompt tokens served from the cache; ``prompt_tokens`` counts them too unless
    # ``prompt_excludes_cached`` (llama.cpp counts only the tokens it processed).
    cached_prompt_tokens: Names = ()
    prompt_excludes_cached: bool = False
    preemptions: Names = ()
    # Speculative decoding: tokens the draft model proposed, and those the model accepted.
    draft_tokens: Names = ()
    accepted_tokens: Names = ()
    # Histograms, in seconds.
    ttft: Names = ()
    e2e: Names = ()
    inter_token: Names = ()
    queue: Names = ()

    @property
    def values(self) -> frozenset[str]:
        """Return every gauge and counter name."""
        return frozenset(
            name
            for names in (
                self.running,
                self.waiting,
                self.kv_cache,
                self.prompt_tokens,
                self.generation_tokens,
                self.prompt_seconds,
                self.generation_seconds,
                self.requests,
                self.prefix_queries,
                self.prefix_hits,
                self.cached_prompt_tokens,
                self.preemptions,
                self.draft_tokens,
                self.accepted_tokens,
            )
            for name in names
        )

    @property
    def cache_hits(self) -> Names:
        """Return the series that say how much of the prompts the cache served."""
        return (*self.prefix_queries, *self.cached_prompt_tokens)

    @property
    def histograms(self) -> frozenset[str]:
        """Return every histogram name."""
        return frozenset((*self.ttft, *self.e2e, *self.inter_token, *self.queue))


METRIC_NAMES: Final[Mapping[ServerKind, MetricNames]] = {
    ServerKind.VLLM: MetricNames(
        running=("vllm:num_requests_running",),
        waiting=("vllm:num_requests_waiting",),
        kv_cache=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        prompt_tokens=(
            "vllm:prompt_tokens_total",
            "vllm:prompt_tokens_by_source_total",
        ),
        generation_tokens=("vllm:generation_tokens_total",),
        requests=("vllm:request_success_total",),
        prefix_queries=(
            "vllm:prefix_cache_queries_total",
            "vllm:gpu_prefix_cache_queries_total",
        ),
        prefix_hits=(
            "vllm:prefix_cache_hits_total",
            "vllm:gpu_prefix_cache_hits_total",
        ),
        ttft=("vllm:time_to_first_token_seconds",),
        e2e=("vllm:e2e_request_latency_seconds",),
        inter_token=(
            "vllm:inter_token_latency_seconds",
            "vllm:time_per_output_token_seconds",
        ),
        queue=("vllm:request_queue_time_seconds",),
        cached_prompt_tokens=("vllm:prompt_tokens_cached_total",),
        preemptions=("vllm:num_preemptions_total",),
    ),
    ServerKind.LLAMACPP: MetricNames(
        running=("llamacpp:requests_processing",),
        waiting=("llamacpp:requests_deferred",),
        # Removed from newer builds; older ones still expose it.
        kv_cache=("llamacpp:kv_cache_usage_ratio",),
        prompt_tokens=("llamacpp:prompt_tokens_total",),
        generation_tokens=("llamacpp:tokens_predicted_total",),
        prompt_seconds=("llamacpp:prompt_seconds_total",),
        generation_seconds=("llamacpp:tokens_predicted_seconds_total",),
        cached_prompt_tokens=("llamacpp:prompt_tokens_cached_total",),
        prompt_excludes_cached=True,
        draft_tokens=("llamacpp:spec_decode_num_draft_tokens_total",),
        accepted_tokens=("llamacpp:spec_decode_num_accepted_tokens_total",),
    ),
    ServerKind.SGLANG: MetricNames(
        running=("sglang:num_running_reqs",),
        waiting=("sglang:num_queue_reqs",),
        kv_cache=("sglang:token_usage",),
        prompt_tokens=("sglang:prompt_tokens_total",),
        generation_tokens=("sglang:generation_tokens_total",),
        requests=("sglang:num_requests_total",),
        cached_prompt_tokens=("sglang:cached_tokens_total",),
        ttft=("sglang:time_to_first_token_seconds",),
        e2e=("sglang:e2e_request_latency_seconds",),
        inter_token=(
            "sglang:inter_token_latency_seconds",
            "sglang:time_per_output_token_seconds",
        ),
        queue=("sglang:queue_time_seconds",),
    ),
    ServerKind.TGI: MetricNames(
        running=("tgi_batch_current_size",),
        waiting=("tgi_queue_size",),
        prompt_tokens=("tgi_request_input_length_sum",),
        generation_tokens=("tgi_request_generated_tokens_sum",),
        requests=("tgi_request_success",),
        e2e=("tgi_request_duration",),
        inter_token=("tgi_request_mean_time_per_token_duration",),
        queue=("tgi_request_queue_duration",),
    ),
}


_PREFIX = re.compile(
    r"^(?:# (?:HELP|TYPE) )?(?:(vllm|llamacpp|sglang):|(tgi)_)", re.MULTILINE
)


def detect_kind(text: str) -> ServerKind | None:
    """Return which server wrote an exposition, or None for one we do not know."""
    match = _PREFIX.search(text)
    return None if match is None else ServerKind(match.group(1) or match.group(2))


type Quantiles = tuple[float | None, float | None, float | None]
NO_QUANTILES: Final[Quantiles] = (None, None, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerKpis:
    """One scrape's KPIs; None where the server does not expose the series (or no interval)."""

    running: int | None = None
    waiting: int | None = None
    kv_cache_percent: float | None = None
    # Throughput: tokens per second of wall time between two polls.
    prompt_tokens_per_s: float | None = None
    generation_tokens_per_s: float | None = None
    # Speed: tokens per second of the server's own time spent reading or generating them.
    prompt_speed: float | None = None
    generation_speed: float | None = None
    requests_per_minute: float | None = None
    prefix_cache_hit_percent: float | None = None
    preemptions_per_minute: float | None = None
    # Share of the draft model's tokens the model accepted, over the last interval.
    draft_acceptance_percent: float | None = None
    # Seconds, over the last interval.
    ttft: Quantiles = NO_QUANTILES
    e2e: Quantiles = NO_QUANTILES
    inter_token: Quantiles = NO_QUANTILES
    queue: Quantiles = NO_QUANTILES


def _first(values: Mapping[str, float], names: Names) -> float | None:
    return next((values[name] for name in names if name in values), None)


def _first_histogram(
    buckets: Mapping[str, dict[float, float]], names: Names
) -> dict[float, float] | None:
    return next((buckets[name] for name in names if name in buckets), None)


@dataclass(slots=True)
class _Counter:
    """A counter's rate, and its increase between the last two scrapes."""

    rate: CounterRate = field(default_factory=CounterRate)
    last: float | None = None

    def update(self, value: float | None, at: float) -> tuple[float | None, float]:
        if value is None:
            self.rate, self.last = CounterRate(), None
            return None, 0.0
        previous = self.last
        self.last = value
        rate = self.rate.update(value, at)
        if previous is None:
            return rate, 0.0
        return rate, value - previous if value >= previous else value


@dataclass(slots=True)
class ServerMetrics:
    """Turns successive scrapes of one server into KPIs."""

    kind: ServerKind
    # Every series of ours a scrape of this server has shown (to offer only their sensors).
    exposed: set[str] = field(default_factory=set)
    _counters: dict[str, _Counter] = field(default_factory=dict)
    _quantiles: dict[str, IntervalQuantiles] = field(default_factory=dict)

    @property
    def names(self) -> MetricNames:
        """Return the metric names of this server's kind."""
        return METRIC_NAMES[self.kind]

    def parse(self, text: str) -> Series:
        """Read this kind's series out of an exposition."""
        names = self.names
        series = parse_series(text, names.values, names.histograms)
        self.exposed.update(series.values, series.buckets)
        return series

    def offers(self, names: Names) -> bool:
        """Return True when the server shows one of ``names`` (or was never read yet)."""
        return bool(names) and (
            not self.exposed or any(name in self.exposed for name in names)
        )

    def update(self, series: Series, at: float) -> ServerKpis:
        """Take one scrape read at monotonic time ``at``; return its KPIs."""
        names, values = self.names, series.values
        kv_cache = _first(values, names.kv_cache)
        prompt_rate, prompt = self._counter("prompt", values, names.prompt_tokens, at)
        generation_rate, generated = self._counter(
            "generation", values, names.generation_tokens, at
        )
        _, prompt_s = self._counter("prompt_s", values, names.prompt_seconds, at)
        _, generation_s = self._counter(
            "generation_s", values, names.generation_seconds, at
        )
        request_rate, _ = self._counter("requests", values, names.requests, at)
        preemption_rate, _ = self._counter("preemptions", values, names.preemptions, at)
        _, queries = self._counter("queries", values, names.prefix_queries, at)
        _, hits = self._counter("hits", values, names.prefix_hits, at)
        _, cached = self._counter("cached", values, names.cached_prompt_tokens, at)
        _, drafted = self._counter("drafted", values, names.draft_tokens, at)
        _, accepted = self._counter("accepted", values, names.accepted_tokens, at)
        if queries <= 0 and _first(values, names.cached_prompt_tokens) is not None:
            # No prefix-cache counters: the share of the prompt tokens the cache served.
            hits = cached
            queries = prompt + cached if names.prompt_excludes_cached else prompt
        return ServerKpis(
            running=_count(_first(values, names.running)),
            waiting=_count(_first(values, names.waiting)),
            kv_cache_percent=None if kv_cache is None else round(kv_cache * 100, 2),
            prompt_tokens_per_s=_round(prompt_rate),
            generation_tokens_per_s=_round(generation_rate),
            prompt_speed=_round(prompt / prompt_s) if prompt_s > 0 else None,
            generation_speed=(
                _round(generated / generation_s) if generation_s > 0 else None
            ),
            requests_per_minute=_round(
                None if request_rate is None else request_rate * 60
            ),
            prefix_cache_hit_percent=(
                round(min(hits / queries, 1.0) * 100, 2) if queries > 0 else None
            ),
            preemptions_per_minute=_round(
                None if preemption_rate is None else preemption_rate * 60
            ),
            draft_acceptance_percent=(
                round(min(accepted / drafted, 1.0) * 100, 2) if drafted > 0 else None
            ),
            ttft=self._histogram("ttft", series, names.ttft),
            e2e=self._histogram("e2e", series, names.e2e),
            inter_token=self._histogram("inter_token", series, names.inter_token),
            queue=self._histogram("queue", series, names.queue),
        )

    def _counter(
        self, key: str, values: Mapping[str, float], names: Names, at: float
    ) -> tuple[float | None, float]:
        return self._counters.setdefault(key, _Counter()).update(
            _first(values, names), at
        )

    def _histogram(self, key: str, series: Series, names: Names) -> Quantiles:
        quantiles = self._quantiles.setdefault(key, IntervalQuantiles())
        return quantiles.update(_first_histogram(series.buckets, names))


def _count(value: float | None) -> int | None:
    """Return a gauge of requests as the whole number it is."""
    return None if value is None or not math.isfinite(value) else round(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
