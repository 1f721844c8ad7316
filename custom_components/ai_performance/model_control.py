"""Loading and unloading models on the watched Ollama servers, for actions and optimisation.

Every change goes through the server's collector (and so through ``ServerClient``: bounded in
time and size, errors without secrets). After a change the coordinator polls again, so the
model's entities show it at once.
"""

from collections.abc import Iterable
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr

from .collectors.base import device_identifier
from .collectors.servers.base import server_subject
from .collectors.servers.client import ServerError, async_error_text
from .collectors.servers.ollama import OllamaCollector
from .const import DOMAIN
from .coordinator import AIPerformanceConfigEntry
from .engine.ollama import PayloadError, canonical_model
from .engine.recommend import ActionKind, ModelAction
from .entity import server_collectors
from .validation import shorten

# Ollama's keep-alive: -1 keeps a model loaded for good, 0 unloads it now.
KEEP_FOREVER: Final = -1
UNLOAD_NOW: Final = 0
# The longest finite keep-alive accepted (a year); longer is what -1 is for.
MAX_KEEP_ALIVE_S: Final = 365 * 24 * 3600


def ollama_servers(entry: AIPerformanceConfigEntry) -> list[OllamaCollector]:
    """Return the collectors of the entry's Ollama servers."""
    return [
        collector
        for collector in server_collectors(entry.runtime_data.coordinator)
        if isinstance(collector, OllamaCollector)
    ]


def ollama_server(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry, device_id: str | None
) -> OllamaCollector:
    """Return the Ollama server of device ``device_id``, or the only one when None."""
    servers = ollama_servers(entry)
    names = ", ".join(server.settings.title for server in servers)
    if not servers:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="no_ollama_server"
        )
    if device_id is None:
        if len(servers) == 1:
            return servers[0]
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="server_required",
            translation_placeholders={"servers": names},
        )
    device = dr.async_get(hass).async_get(device_id)
    for server in servers:
        identifier = device_identifier(
            entry.entry_id, server_subject(server.settings.subentry_id)
        )
        if device is not None and identifier in device.identifiers:
            return server
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_an_ollama_server",
        translation_placeholders={"device": shorten(device_id), "servers": names},
    )


def server_by_id(
    entry: AIPerformanceConfigEntry, subentry_id: str
) -> OllamaCollector | None:
    """Return the Ollama server of config subentry ``subentry_id``."""
    return next(
        (s for s in ollama_servers(entry) if s.settings.subentry_id == subentry_id),
        None,
    )


async def async_carry_out(
    entry: AIPerformanceConfigEntry, server: OllamaCollector, action: ModelAction
) -> dict[str, Any]:
    """Carry out ``action`` on ``server``; return what was done.

    Loading checks first that the server has the model; unloading a model that is not loaded
    changes nothing. Raise a translated error when the server cannot be reached or refuses.
    """
    model = canonical_model(action.model)
    done: dict[str, Any] = {
        "server": server.settings.title,
        "server_id": server.settings.subentry_id,
        "model": model,
        "action": action.kind.value,
        "keep_alive_s": action.keep_alive_s,
    }
    try:
        if action.kind is ActionKind.UNLOAD:
            if model not in await server.async_loaded_models():
                return done | {"changed": False, "reason": "not_loaded"}
            await server.async_keep_alive(model, UNLOAD_NOW)
        else:
            await async_check_installed(server, model)
            await server.async_keep_alive(model, action.keep_alive_s)
    except (ServerError, PayloadError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="server_action_failed",
            translation_placeholders={
                "server": server.settings.title,
                "model": shorten(model),
                "error": await _async_text(server, err),
            },
        ) from None
    server.poll_next_tick()
    await entry.runtime_data.coordinator.async_request_refresh()
    return done | {"changed": True}


async def _async_text(server: OllamaCollector, err: Exception) -> str:
    """Return a failure as a user reads it (a server's cause translated)."""
    if isinstance(err, ServerError):
        return await async_error_text(server.hass, err)
    return str(err)


def model_held(
    servers: Iterable[OllamaCollector], model: str, at: float
) -> bool | None:
    """Return whether any watched server held ``model`` at ``at``; None where none knows it."""
    answers = {server.holds(model, at) for server in servers}
    if True in answers:
        return True
    return False if False in answers else None


async def async_check_installed(server: OllamaCollector, model: str) -> None:
    """Raise a translated error unless ``server`` can be asked and has ``model``."""
    try:
        installed = await server.async_installed_models()
    except (ServerError, PayloadError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="server_request_failed",
            translation_placeholders={
                "server": server.settings.title,
                "model": shorten(model),
                "error": await _async_text(server, err),
            },
        ) from None
    if model not in installed:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="model_not_installed",
            translation_placeholders={
                "model": shorten(model),
                "server": server.settings.title,
                "models": ", ".join(sorted(installed)) or "none",
            },
        )
