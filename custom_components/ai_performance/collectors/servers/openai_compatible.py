"""An OpenAI-compatible server exposing Prometheus metrics (vLLM, llama.cpp, SGLang, TGI).

Each poll scrapes ``/metrics`` and lists ``/v1/models`` concurrently. Parsing runs on the event
loop: it takes well under a millisecond for a vLLM scrape (see docs/performance.md).
"""

import asyncio
from dataclasses import dataclass, replace
import time
from typing import Any, override

from homeassistant.core import HomeAssistant

from ...const import CONF_SERVER_KIND
from ...engine.server_metrics import ServerKind, ServerKpis, ServerMetrics, detect_kind
from .base import ServerCollector, ServerSettings
from .client import ServerError, ServerProblem


@dataclass(frozen=True, slots=True)
class OpenAICompatibleSample:
    """One poll of an OpenAI-compatible server."""

    kind: ServerKind
    models: tuple[str, ...]
    kpis: ServerKpis
    # True when the server was too busy to answer: the figures are from its last answer.
    busy: bool = False


def served_models(payload: Any) -> tuple[str, ...]:
    """Return the model ids of a ``/v1/models`` answer."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        msg = "no data list in /v1/models"
        raise ValueError(msg)  # noqa: TRY004 - a malformed payload, reported as such
    return tuple(
        item["id"]
        for item in data
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    )


def server_kind(text: str) -> ServerKind:
    """Return the kind of server whose metrics ``text`` is; ServerError for any other."""
    kind = detect_kind(text)
    if kind is None:
        raise ServerError(
            ServerProblem.MALFORMED,
            "/metrics: no vLLM, llama.cpp, SGLang or TGI metrics",
        )
    return kind


class OpenAICompatibleCollector(ServerCollector[OpenAICompatibleSample]):
    """Scrapes one vLLM, llama.cpp, SGLang or TGI server."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, settings: ServerSettings
    ) -> None:
        """Prepare scraping; the kind found when the server was added is expected."""
        super().__init__(hass, entry_id, settings)
        self.metrics = ServerMetrics(ServerKind(settings.data[CONF_SERVER_KIND]))

    @override
    def _busy_sample(self, error: ServerError) -> OpenAICompatibleSample | None:
        """Keep the last figures when the metrics time out while requests were running.

        llama.cpp answers /metrics from its task queue, between two steps of its work, so
        where one step takes long (a large model on the CPU) the answer waits for it: the
        server is busy, not down.
        """
        last = self._sample
        if error.problem is not ServerProblem.TIMEOUT or last is None:
            return None
        if not (last.kpis.running or last.kpis.waiting):
            return None
        return replace(last, busy=True)

    @override
    async def _async_poll(self) -> OpenAICompatibleSample:
        text, models = await asyncio.gather(
            self.client.get_text("/metrics"), self.client.get_json("/v1/models")
        )
        at = time.monotonic()
        kind = server_kind(text)
        if kind != self.metrics.kind:
            # Another server now answers at this address: start its rates afresh.
            self.metrics = ServerMetrics(kind)
        kpis = self.metrics.update(self.metrics.parse(text), at)
        return OpenAICompatibleSample(
            kind=kind, models=served_models(models), kpis=kpis
        )
