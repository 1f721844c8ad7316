"""An Ollama server: its version, the models it holds in memory, and opt-in probes.

Ollama has no metrics endpoint, so its state comes from ``/api/version`` and ``/api/ps``. A model
gets a device when it is first seen loaded and keeps it (remembered in the device registry
across restarts) with "Loaded" off while it is unloaded.

The probe is off by default: it loads the model. It sends a short fixed prompt every N minutes
in a background task (a cold load can take a minute; no tick waits for it) and records the
answer's timings as a request of source ``probe``. It leaves the server as it found it: a model
kept loaded forever stays so, one with an expiry keeps that expiry, and a model that was not
loaded is unloaded again right after.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
import time
from typing import Any, Final, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util, ulid as ulid_util

from ...const import CONF_PROBE_MINUTES, CONF_PROBE_MODEL, DOMAIN, LOGGER
from ...engine.ollama import (
    LoadedModel,
    canonical_model,
    parse_generation,
    parse_installed_models,
    parse_loaded_models,
    parse_version,
)
from ...engine.requests import RequestRecord, RequestSource
from ...ledger import RequestLedger
from ..base import device_identifier
from .base import ServerCollector, ServerSettings, model_subject, probe_subject
from .client import ServerError, ServerProblem

PROBE_PROMPT: Final = "Reply with the single word: ready"
PROBE_MAX_TOKENS: Final = 16
# A cold load of a large model can take a minute or more.
PROBE_TIMEOUT_S: Final = 180.0
# Models remembered per server (a device each).
MAX_KNOWN_MODELS: Final = 64
# Loading a model from disk into VRAM can take minutes.
LOAD_TIMEOUT_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class OllamaSample:
    """One poll of an Ollama server."""

    version: str
    loaded: Mapping[str, LoadedModel]
    # Every model with a device: loaded now or seen loaded before.
    known: tuple[str, ...]

    @property
    def vram_bytes(self) -> int:
        """Return the VRAM the loaded models hold together."""
        return sum(model.vram_bytes for model in self.loaded.values())


class OllamaCollector(ServerCollector[OllamaSample]):
    """Polls an Ollama server and probes one of its models when asked to."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        settings: ServerSettings,
        ledger: RequestLedger,
    ) -> None:
        """Prepare polling; probes are recorded in ``ledger``."""
        super().__init__(hass, entry_id, settings)
        self.ledger = ledger
        self.probe_model: str | None = settings.data.get(CONF_PROBE_MODEL) or None
        self.probe_minutes: int = int(settings.data.get(CONF_PROBE_MINUTES) or 0)
        self._known: dict[str, None] = {}
        self._loaded: Mapping[str, LoadedModel] = {}
        self._cancel_probes: CALLBACK_TYPE | None = None
        self._probe_task: asyncio.Task[None] | None = None

    @property
    def probing(self) -> str | None:
        """Return the requests subject the probes are counted under; None without probes."""
        if self.probe_model and self.probe_minutes > 0:
            return probe_subject(self.settings.subentry_id, self.probe_model)
        return None

    @override
    async def async_start(self) -> None:
        """Remember the models that had devices, and start probing if asked to."""
        prefix = device_identifier(
            self.entry_id, model_subject(self.settings.subentry_id, "")
        )[1]
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.entry_id):
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier.startswith(prefix):
                    self._remember(identifier.removeprefix(prefix))
        if self.probing is not None:
            self._cancel_probes = async_track_time_interval(
                self.hass,
                self._start_probe,
                timedelta(minutes=self.probe_minutes),
                name=f"{DOMAIN} probe {self.settings.title}",
            )

    @override
    async def async_stop(self) -> None:
        """Stop probing, cancelling a probe under way."""
        if self._cancel_probes is not None:
            self._cancel_probes()
            self._cancel_probes = None
        if self._probe_task is not None:
            self._probe_task.cancel()
            self._probe_task = None

    @property
    def known_models(self) -> tuple[str, ...]:
        """Return every model with a device: loaded now or seen loaded before."""
        return tuple(self._known)

    def _remember(self, model: str) -> None:
        self._known[model] = None
        while len(self._known) > MAX_KNOWN_MODELS:
            del self._known[next(iter(self._known))]

    @property
    def loaded(self) -> Mapping[str, LoadedModel]:
        """Return the models loaded at the last poll."""
        return self._loaded

    def holds(self, model: str, at: float) -> bool | None:
        """Return whether ``model`` was loaded at ``at`` (wall-clock s), as far as we know.

        None for a model this server was never seen to hold. An expiry past ``at`` counts as
        loaded: Ollama unloads a model when its keep-alive runs out, between our polls.
        """
        model = canonical_model(model)
        loaded = self._loaded.get(model)
        if loaded is not None:
            return loaded.expires_at is None or loaded.expires_at.timestamp() > at
        return False if model in self._known else None

    async def async_installed_models(self) -> list[str]:
        """Return the names of the models installed on the server (``/api/tags``)."""
        return parse_installed_models(await self.client.get_json("/api/tags"))

    async def async_loaded_models(self) -> dict[str, LoadedModel]:
        """Return the models loaded now, read afresh (``/api/ps``)."""
        return parse_loaded_models(await self.client.get_json("/api/ps"))

    async def async_keep_alive(self, model: str, keep_alive_s: int | None) -> None:
        """Load ``model`` if needed and keep it loaded ``keep_alive_s`` from now.

        Ollama's own way: a generate request without a prompt. -1 keeps the model loaded for
        good, 0 unloads it now, None leaves it to the server's default.
        """
        request: dict[str, Any] = {"model": model}
        if keep_alive_s is not None:
            request["keep_alive"] = keep_alive_s
        await self.client.post_json("/api/generate", request, LOAD_TIMEOUT_S)

    @callback
    def forget(self, model: str) -> bool:
        """Forget a model that is not loaded (its device was deleted); False if it is loaded."""
        if model in self._loaded:
            return False
        self._known.pop(model, None)
        return True

    @override
    async def _async_poll(self) -> OllamaSample:
        version, loaded = await asyncio.gather(
            self.client.get_json("/api/version"), self.client.get_json("/api/ps")
        )
        self._loaded = parse_loaded_models(loaded)
        for name in self._loaded:
            self._remember(name)
        return OllamaSample(
            version=parse_version(version),
            loaded=self._loaded,
            known=self.known_models,
        )

    @callback
    def _start_probe(self, _now: Any = None) -> None:
        """Start a probe unless one is still running."""
        if self._probe_task is None or self._probe_task.done():
            self._probe_task = self.hass.async_create_background_task(
                self._async_probe_in_background(),
                f"{DOMAIN} probe {self.settings.title}",
            )

    async def _async_probe_in_background(self) -> None:
        await self.async_probe()

    async def async_probe(self) -> RequestRecord | None:
        """Send the probe prompt, record its timings, and return the record."""
        model = self.probe_model
        if model is None:
            return None
        request = {
            "model": model,
            "prompt": PROBE_PROMPT,
            "stream": False,
            "options": {"num_predict": PROBE_MAX_TOKENS, "temperature": 0, "seed": 0},
            "keep_alive": self._keep_alive(model),
        }
        started = time.time()
        record = RequestRecord(
            id=ulid_util.ulid_now(),
            source=RequestSource.PROBE,
            subject=probe_subject(self.settings.subentry_id, model),
            start=started,
            end=started,
            model=model,
        )
        try:
            answer = await self.client.post_json(
                "/api/generate", request, PROBE_TIMEOUT_S
            )
            timings = parse_generation(answer)
        except (ServerError, ValueError) as err:
            record.end = time.time()
            problem = (
                err.problem if isinstance(err, ServerError) else ServerProblem.MALFORMED
            )
            record.error = problem.value
            LOGGER.debug(
                "Probe of %s on %s failed: %s", model, self.settings.title, err
            )
        else:
            timings.fill(record)
        self.ledger.add(record, name=f"{self.settings.title} probe: {model}")
        return record

    def _keep_alive(self, model: str) -> int:
        """Return the keep-alive that leaves the model as loaded as it is now, in seconds."""
        loaded = self._loaded.get(model)
        if loaded is None:
            return 0
        if loaded.expires_at is None:
            return -1
        return max(1, round((loaded.expires_at - dt_util.utcnow()).total_seconds()))
