"""Loading, unloading and keeping Ollama models loaded: the exact API calls, and what is refused."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.ai_performance.const import DOMAIN, SUBENTRY_OLLAMA

from ..conftest import ENTRY_ID, our_entry, setup_integration
from .conftest import SERVER_ID, poll, server_state, server_subentry
from .fake_servers import FakeServer, OllamaState, ollama_server

QWEN = f"server_{SERVER_ID}_model_qwen3:8b"
LLAMA = f"server_{SERVER_ID}_model_llama3.2:3b"
OTHER_ID = "01JSERVERSUBENTRY000000002"


async def act(hass: HomeAssistant, service: str, **data: Any) -> Any:
    """Call one of our actions as an administrator would, returning its response."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


def changes(server: FakeServer) -> list[tuple[str, str, Any]]:
    """Return the requests that could change the server (everything but reads)."""
    return [r for r in server.requests if r[0] != "GET"]


async def _set_up(hass: HomeAssistant, url: str) -> None:
    await setup_integration(
        hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, url)])
    )


async def test_preload_loads_the_model_with_its_keep_alive(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    state.loaded = [m for m in state.loaded if m["name"] != "qwen3:8b"]
    async with ollama_server(state) as server:
        await _set_up(hass, server.url)
        server.requests.clear()

        done = await act(hass, "preload_model", model="qwen3:8b", keep_alive=3600)

        # The installed models are checked, then one generate request without a prompt.
        assert server.requests[0] == ("GET", "/api/tags", None)
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "qwen3:8b", "keep_alive": 3600})
        ]
        assert done == {
            "server": "ollama test",
            "server_id": SERVER_ID,
            "model": "qwen3:8b",
            "action": "preload",
            "keep_alive_s": 3600,
            "changed": True,
        }
        await poll(hass, freezer, 1)
        assert server_state(hass, "binary_sensor", "loaded", QWEN).state == "on"


async def test_preload_without_keep_alive_leaves_it_to_the_server(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        # A name without a tag means :latest, as Ollama reads it.
        with pytest.raises(ServiceValidationError) as caught:
            await act(hass, "preload_model", model="qwen3")
        assert caught.value.translation_key == "model_not_installed"
        assert caught.value.translation_placeholders == {
            "model": "qwen3:latest",
            "server": "ollama test",
            "models": "llama3.2:3b, qwen3:8b",
        }
        assert changes(server) == []

        await act(hass, "preload_model", model="llama3.2:3b")
        assert changes(server) == [("POST", "/api/generate", {"model": "llama3.2:3b"})]


async def test_unload_unloads_a_loaded_model_and_leaves_others_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        await _set_up(hass, server.url)

        done = await act(hass, "unload_model", model="llama3.2:3b")
        assert done["changed"] is True
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})
        ]
        await poll(hass, freezer, 1)
        assert server_state(hass, "binary_sensor", "loaded", LLAMA).state == "off"

        again = await act(hass, "unload_model", model="llama3.2:3b")
        assert again["changed"] is False
        assert again["reason"] == "not_loaded"
        assert len(changes(server)) == 1


@pytest.mark.parametrize(
    ("keep_alive", "sent"),
    [(-1, {"model": "qwen3:8b", "keep_alive": -1}), (0, None), (900, None)],
    ids=["forever", "unload_now", "seconds"],
)
async def test_set_keep_alive(
    hass: HomeAssistant, keep_alive: int, sent: dict[str, Any] | None
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)

        done = await act(
            hass, "set_keep_alive", model="qwen3:8b", keep_alive=keep_alive
        )

        expected = sent or {"model": "qwen3:8b", "keep_alive": keep_alive}
        assert changes(server) == [("POST", "/api/generate", expected)]
        assert done["action"] == ("unload" if keep_alive == 0 else "keep_alive")


@pytest.mark.parametrize(
    ("service", "data", "key", "field"),
    [
        ("preload_model", {}, "missing_field", "model"),
        ("preload_model", {"model": "  "}, "invalid_field", "model"),
        (
            "preload_model",
            {"model": "m", "keep_alive": -2},
            "invalid_field",
            "keep_alive",
        ),
        (
            "preload_model",
            {"model": "m", "keep_alive": 1.5},
            "invalid_field",
            "keep_alive",
        ),
        (
            "preload_model",
            {"model": "m", "keep_alive": "soon"},
            "invalid_field",
            "keep_alive",
        ),
        (
            "preload_model",
            {"model": "m", "keep_alive": True},
            "invalid_field",
            "keep_alive",
        ),
        (
            "unload_model",
            {"model": "m", "keep_alive": 5},
            "unknown_fields",
            "keep_alive",
        ),
        ("set_keep_alive", {"model": "m"}, "missing_field", "keep_alive"),
        ("optimize", {"dry_run": "no"}, "invalid_field", "dry_run"),
        ("optimize", {"apply": True}, "unknown_fields", "apply"),
        ("optimize", {"kinds": ["faster"]}, "invalid_field", "kinds"),
        ("optimize", {"kinds": []}, "invalid_field", "kinds"),
    ],
)
async def test_bad_input_gets_a_translated_error_and_changes_nothing(
    hass: HomeAssistant, service: str, data: dict[str, Any], key: str, field: str
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        server.requests.clear()

        with pytest.raises(ServiceValidationError) as caught:
            await act(hass, service, **data)

        assert caught.value.translation_domain == DOMAIN
        assert caught.value.translation_key == key
        assert field in str(caught.value)  # the message is translated, naming the field
        assert server.requests == []


async def test_only_administrators_may_change_models(
    hass: HomeAssistant, hass_read_only_user: User
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        server.requests.clear()
        context = Context(user_id=hass_read_only_user.id)

        for service, data in (
            ("preload_model", {"model": "qwen3:8b"}),
            ("unload_model", {"model": "llama3.2:3b"}),
            ("set_keep_alive", {"model": "qwen3:8b", "keep_alive": -1}),
            ("optimize", {"dry_run": False}),
        ):
            with pytest.raises(Unauthorized):
                await hass.services.async_call(
                    DOMAIN, service, data, blocking=True, context=context
                )
        assert server.requests == []


async def test_the_server_is_chosen_by_its_device_when_there_are_several(
    hass: HomeAssistant,
) -> None:
    async with (
        ollama_server(OllamaState()) as first,
        ollama_server(OllamaState()) as second,
    ):
        await setup_integration(
            hass,
            our_entry(
                subentries=[
                    server_subentry(SUBENTRY_OLLAMA, first.url),
                    server_subentry(SUBENTRY_OLLAMA, second.url, subentry_id=OTHER_ID),
                ]
            ),
        )
        with pytest.raises(ServiceValidationError) as caught:
            await act(hass, "unload_model", model="llama3.2:3b")
        assert caught.value.translation_key == "server_required"

        with pytest.raises(ServiceValidationError) as caught:
            await act(hass, "unload_model", server="not-a-device", model="llama3.2:3b")
        assert caught.value.translation_key == "not_an_ollama_server"

        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_server_{OTHER_ID}"), ENTRY_ID
        )
        assert device is not None
        await act(hass, "unload_model", server=device.id, model="llama3.2:3b")
        assert changes(first) == []
        assert changes(second) == [
            ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})
        ]


async def test_without_an_ollama_server(hass: HomeAssistant) -> None:
    await setup_integration(hass, our_entry())
    with pytest.raises(ServiceValidationError) as caught:
        await act(hass, "preload_model", model="qwen3:8b")
    assert caught.value.translation_key == "no_ollama_server"


async def test_a_server_that_fails_the_change_gets_a_translated_error(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
        server.behaviour.status = 500

        with pytest.raises(HomeAssistantError) as caught:
            await act(hass, "unload_model", model="llama3.2:3b")

        assert caught.value.translation_key == "server_action_failed"
        assert caught.value.translation_placeholders["error"] == "/api/ps: HTTP 500"
        assert "did not carry out the change to llama3.2:3b" in str(caught.value)


async def test_a_server_that_stopped_is_told_in_words_in_the_action_error(
    hass: HomeAssistant,
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up(hass, server.url)
    # The server is gone: nothing listens at its port any more.

    with pytest.raises(HomeAssistantError) as caught:
        await act(hass, "preload_model", model="llama3.2:3b")

    assert caught.value.translation_key == "server_request_failed"
    assert caught.value.translation_placeholders["error"] == (
        "/api/tags: connection refused"
    )
