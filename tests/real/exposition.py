"""Series of a vLLM engine pair and a two-GPU DCGM exporter, named as their own sources name them.

Prometheus scrapes these from our exporter, so that the presets and every query in the tests are
evaluated by the real Prometheus. Where each name comes from:

- vLLM V1: vllm-project/vllm ``vllm/v1/metrics/loggers.py`` (commit ea5790cc): labels
  ``model_name`` and ``engine`` on every series; counters registered without ``_total``, which
  prometheus_client adds on /metrics; ``prompt_tokens_by_source_total{source}`` with
  ``local_compute``, ``local_cache_hit``, ``external_kv_transfer`` (``vllm/v1/metrics/stats.py``).
- DCGM: NVIDIA/dcgm-exporter ``etc/default-counters.csv`` (commit d5e5f510) for the names and
  units, and ``internal/pkg/rendermetrics/render_metrics.go`` for the labels (``gpu``, ``UUID``,
  ``pci_bus_id``, ``device``, ``modelName``, ``hostname``).

Counters grow at fixed rates (``Exporter.rates``), so ``rate()`` over them is known: the vLLM
fleet makes 210 tokens/s (prompt 100 + 50, generation 40 + 20), its time-to-first-token
histogram puts 9 of every 10 requests under 0.25 s and all under 0.5 s (p95 = 0.375 s).
"""

from typing import Final

from ..real_servers import Exporter

VLLM_MODEL: Final = "Qwen/Qwen3-8B"
# Per engine: prompt and generation tokens per second, and requests waiting.
VLLM_ENGINES: Final = {"0": (100.0, 40.0, 2.0), "1": (50.0, 20.0, 3.0)}
# Time-to-first-token buckets (le -> observations per second), the same on both engines.
TTFT_BUCKETS: Final = {"0.05": 1.0, "0.1": 2.5, "0.25": 4.5, "0.5": 5.0, "+Inf": 5.0}
TTFT_P95_S: Final = 0.375
VLLM_TOKENS_PER_S: Final = sum(p + g for p, g, _ in VLLM_ENGINES.values())
VLLM_WAITING: Final = sum(w for _, _, w in VLLM_ENGINES.values())

# Per GPU: utilisation %, framebuffer used MiB, power W.
DCGM_GPUS: Final = {
    "0": ("GPU-5f3c1a8e-2b1d-4c7e-9a0b-1c2d3e4f5a6b", 63.0, 40960.0, 412.5),
    "1": ("GPU-9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", 37.0, 20480.0, 210.25),
}
DCGM_UTILIZATION_MEAN: Final = 50.0
DCGM_MEMORY_USED: Final = 61440.0
DCGM_POWER: Final = 622.75

# Series with many labels, for a query whose answer passes our 1 MiB cap.
BULK_SERIES: Final = 4000
BULK_PAD: Final = "x" * 200


def _vllm(name: str, engine: str, extra: str = "") -> str:
    return f'vllm:{name}{{engine="{engine}",model_name="{VLLM_MODEL}"{extra}}}'


def _dcgm(name: str, gpu: str, uuid: str) -> str:
    return (
        f'{name}{{gpu="{gpu}",UUID="{uuid}",pci_bus_id="00000000:0{gpu}:00.0",'
        f'device="nvidia{gpu}",modelName="NVIDIA H200",hostname="gpu-box"}}'
    )


def fleet_exporter() -> Exporter:
    """Return the exporter's series: two vLLM engines, two DCGM GPUs, and the bulk series."""
    served = Exporter()
    for engine, (prompt, generation, waiting) in VLLM_ENGINES.items():
        served.gauges[_vllm("num_requests_waiting", engine)] = waiting
        served.gauges[_vllm("num_requests_running", engine)] = 1.0
        served.gauges[_vllm("kv_cache_usage_perc", engine)] = 0.42
        served.rates[_vllm("prompt_tokens_total", engine)] = prompt
        served.rates[_vllm("generation_tokens_total", engine)] = generation
        served.rates[_vllm("prompt_tokens_cached_total", engine)] = prompt / 4
        for source, share in (
            ("local_compute", 0.75),
            ("local_cache_hit", 0.25),
            ("external_kv_transfer", 0.0),
        ):
            served.rates[
                _vllm("prompt_tokens_by_source_total", engine, f',source="{source}"')
            ] = prompt * share
        served.rates[_vllm("num_preemptions_total", engine)] = 0.0
        for le, per_s in TTFT_BUCKETS.items():
            served.rates[
                _vllm("time_to_first_token_seconds_bucket", engine, f',le="{le}"')
            ] = per_s
        served.rates[_vllm("time_to_first_token_seconds_count", engine)] = 5.0
        served.rates[_vllm("time_to_first_token_seconds_sum", engine)] = 0.6
    for gpu, (uuid, utilization, memory, power) in DCGM_GPUS.items():
        served.gauges[_dcgm("DCGM_FI_DEV_GPU_UTIL", gpu, uuid)] = utilization
        served.gauges[_dcgm("DCGM_FI_DEV_FB_USED", gpu, uuid)] = memory
        served.gauges[_dcgm("DCGM_FI_DEV_POWER_USAGE", gpu, uuid)] = power
    served.raw = "".join(
        f'aip_bulk{{i="{i}",pad="{BULK_PAD}"}} 1\n' for i in range(BULK_SERIES)
    )
    return served
