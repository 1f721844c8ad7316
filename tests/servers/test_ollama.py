"""An Ollama server: loaded models as devices, outages, repair issues, probes and cold starts."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_API_KEY, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ai_performance import async_remove_config_entry_device
from custom_components.ai_performance.collectors.servers import base
from custom_components.ai_performance.collectors.servers.ollama import OllamaCollector
from custom_components.ai_performance.const import (
    CONF_PROBE_MINUTES,
    CONF_PROBE_MODEL,
    DOMAIN,
    SUBENTRY_OLLAMA,
)

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..real_servers import free_port
from .conftest import SERVER_ID, poll, server_state, server_subentry
from .fake_servers import OllamaState, ollama_server

LLAMA = f"server_{SERVER_ID}_model_llama3.2:3b"
QWEN = f"server_{SERVER_ID}_model_qwen3:8b"


async def _set_up_probing(hass: HomeAssistant, url: str) -> None:
    """Set up with one Ollama server probing qwen3:8b every 10 minutes."""
    subentry = server_subentry(
        SUBENTRY_OLLAMA, url, **{CONF_PROBE_MODEL: "qwen3:8b", CONF_PROBE_MINUTES: 10}
    )
    await setup_integration(hass, our_entry(subentries=[subentry]))


def _collector(hass: HomeAssistant) -> OllamaCollector:
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry is not None
    return next(
        c
        for c in entry.runtime_data.coordinator.collectors
        if isinstance(c, OllamaCollector)
    )


def _device(hass: HomeAssistant, subject: str) -> dr.DeviceEntry:
    registry = dr.async_get(hass)
    return next(
        device
        for device in dr.async_entries_for_config_entry(registry, ENTRY_ID)
        if (DOMAIN, f"{ENTRY_ID}_{subject}") in device.identifiers
    )


async def test_server_and_loaded_models_become_entities(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )

        assert server_state(hass, "binary_sensor", "reachable").state == STATE_ON
        assert server_state(hass, "sensor", "version").state == "0.12.6"
        assert server_state(hass, "sensor", "loaded_models").state == "2"
        vram = server_state(hass, "sensor", "models_vram")
        assert float(vram.state) == pytest.approx(
            (4023590912 + 6120000000) / 2**30, abs=0.01
        )
        assert server_state(hass, "binary_sensor", "loaded", LLAMA).state == STATE_ON
        assert server_state(hass, "sensor", "gpu_offload", QWEN).state == "75.0"
        assert server_state(hass, "sensor", "context_length", QWEN).state == "40960"
        assert server_state(hass, "sensor", "unloads_at", LLAMA).state == (
            "2026-11-21T21:38:31+00:00"
        )
        # Kept loaded forever: no unload time.
        assert server_state(hass, "sensor", "unloads_at", QWEN).state == "unknown"

        # The model is unloaded: it keeps its device, "Loaded" goes off, its figures unavailable.
        state.loaded = state.loaded[1:]
        await poll(hass, freezer)
        assert server_state(hass, "binary_sensor", "loaded", LLAMA).state == STATE_OFF
        assert (
            server_state(hass, "sensor", "model_size", LLAMA).state == STATE_UNAVAILABLE
        )
        assert server_state(hass, "sensor", "loaded_models").state == "1"

        # A model loaded later gets its device and entities on the next tick.
        state.loaded = [{**state.loaded[0], "name": "gemma3:4b", "model": "gemma3:4b"}]
        await poll(hass, freezer)
        gemma = f"server_{SERVER_ID}_model_gemma3:4b"
        assert server_state(hass, "binary_sensor", "loaded", gemma).state == STATE_ON
        device = _device(hass, gemma)
        try:  # Home Assistant 2026.11
            assert device.config_subentry_id == SERVER_ID
        except AttributeError:  # 2026.10
            assert device.config_entries_subentries[ENTRY_ID] == {SERVER_ID}


async def test_models_are_remembered_across_a_restart(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        entry = our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        await setup_integration(hass, entry)
        state.loaded = []
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()

        assert server_state(hass, "binary_sensor", "loaded", LLAMA).state == STATE_OFF
        assert set(_collector(hass).known_models) == {"llama3.2:3b", "qwen3:8b"}


async def test_an_unloaded_models_device_can_be_deleted_a_loaded_ones_cannot(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        llama = _device(hass, LLAMA)
        entry = hass.config_entries.async_get_entry(ENTRY_ID)

        assert not await async_remove_config_entry_device(hass, entry, llama)
        state.loaded = state.loaded[1:]
        await poll(hass, freezer)
        assert await async_remove_config_entry_device(hass, entry, llama)
        assert "llama3.2:3b" not in _collector(hass).known_models


async def test_an_outage_makes_entities_unavailable_and_raises_a_repair_after_15_minutes(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with ollama_server(OllamaState()) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        issues = ir.async_get(hass)
        issue_id = f"server_unreachable_{SERVER_ID}"

        server.behaviour.status = 503
        await poll(hass, freezer)
        # At once: unavailable, and Reachable off (itself available).
        assert server_state(hass, "sensor", "loaded_models").state == STATE_UNAVAILABLE
        assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF
        assert (
            server_state(hass, "sensor", "model_size", LLAMA).state == STATE_UNAVAILABLE
        )
        # The host is measured as ever.
        assert hass.states.get("sensor.host_cpu_usage").state != STATE_UNAVAILABLE

        for _ in range(28):
            await poll(hass, freezer)
        assert issues.async_get_issue(DOMAIN, issue_id) is None  # 14 minutes down
        await poll(hass, freezer, 60)
        issue = issues.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "server_unreachable"
        assert issue.translation_placeholders == {
            "server": "ollama test",
            "minutes": "15",
            "error": "/api/version: HTTP 503",
        }

        server.behaviour.status = None
        await poll(hass, freezer)
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        assert server_state(hass, "sensor", "loaded_models").state == "2"


async def test_the_repair_of_a_stopped_server_says_why_in_words(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    await setup_integration(
        hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, url)])
    )

    for _ in range(31):  # 15 minutes down
        await poll(hass, freezer)

    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"server_unreachable_{SERVER_ID}"
    )
    assert issue is not None
    assert issue.translation_placeholders["error"] in {
        "/api/version: connection refused",
        "/api/ps: connection refused",
    }


async def test_a_refused_key_is_an_outage_and_the_key_is_never_shown(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-very-secret-token"
    async with ollama_server(OllamaState()) as server:
        server.behaviour.token = "the-right-one"
        await setup_integration(
            hass,
            our_entry(
                subentries=[
                    server_subentry(
                        SUBENTRY_OLLAMA, server.url, **{CONF_API_KEY: secret}
                    )
                ]
            ),
        )
        assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF
        assert secret not in caplog.text
        for state in hass.states.async_all():
            assert secret not in str(state.attributes)


async def test_a_slow_server_is_cut_off_without_delaying_the_others(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The poll's own timeout runs on real time: shorten it for the test.
    monkeypatch.setattr(base, "POLL_TIMEOUT_S", 0.2)
    async with ollama_server(OllamaState()) as server:
        server.behaviour.delay_s = 5
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        coordinator = hass.config_entries.async_get_entry(
            ENTRY_ID
        ).runtime_data.coordinator
        result = coordinator.data.sources[f"server:{SERVER_ID}"]
        assert result.error == "ServerError: no answer within 0.2 s"
        assert result.duration_ms < 2000
        assert coordinator.data.source_ok("host")
        assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"models": [{"name": "x", "si', "not JSON"),
        (b'{"models": "none"}', "no models list"),
        (b"x" * (1024 * 1024 + 1), "answer larger than 1048576 bytes"),
    ],
    ids=["truncated", "wrong shape", "too large"],
)
async def test_bad_payloads_make_the_server_unavailable(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, body: bytes, error: str
) -> None:
    async with ollama_server(OllamaState()) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        server.behaviour.body = body
        await poll(hass, freezer)
        coordinator = hass.config_entries.async_get_entry(
            ENTRY_ID
        ).runtime_data.coordinator
        assert error in coordinator.data.sources[f"server:{SERVER_ID}"].error
        assert server_state(hass, "sensor", "loaded_models").state == STATE_UNAVAILABLE


async def test_probe_records_a_cold_start_and_keeps_the_models_keep_alive(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        await _set_up_probing(hass, server.url)
        collector = _collector(hass)

        record = await collector.async_probe()

        method, path, body = server.requests[-1]
        assert (method, path) == ("POST", "/api/generate")
        assert body["model"] == "qwen3:8b"
        assert body["stream"] is False
        # qwen3:8b is kept loaded forever: the probe must not shorten that.
        assert body["keep_alive"] == -1
        assert record is not None
        assert record.source == "probe"
        assert record.cold_start
        assert record.ttft_ms == pytest.approx(6468.298, abs=0.01)

        await poll(hass, freezer)
        probe = f"requests_probe_{SERVER_ID}_qwen3:8b"
        assert server_state(hass, "sensor", "cold_starts", probe).state == "1"
        delay = server_state(hass, "sensor", "cold_start_delay", probe)
        assert float(delay.state) == pytest.approx(6338.2, abs=0.1)
        tokens = server_state(hass, "sensor", "output_tokens_per_second", probe)
        assert tokens is not None
        # Probes are not use: they are left out of the overall figures.
        coordinator = hass.config_entries.async_get_entry(
            ENTRY_ID
        ).runtime_data.coordinator
        assert coordinator.data.sources["requests"].sample.overall[3600.0].count == 0

        # A model that is not loaded is unloaded again right after; one that expires keeps
        # its expiry.
        collector.probe_model = "llama3.2:3b"
        await collector.async_probe()
        assert server.requests[-1][2]["keep_alive"] > 0
        state.loaded = []
        await poll(hass, freezer)
        await collector.async_probe()
        assert server.requests[-1][2]["keep_alive"] == 0


async def test_probe_runs_on_its_interval_in_the_background(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up_probing(hass, server.url)
        assert not [r for r in server.requests if r[1] == "/api/generate"]
        freezer.tick(600)
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert len([r for r in server.requests if r[1] == "/api/generate"]) == 1


async def test_a_failed_probe_is_recorded_as_an_error(hass: HomeAssistant) -> None:
    state = OllamaState()
    async with ollama_server(state) as server:
        await _set_up_probing(hass, server.url)
        server.behaviour.status = 500
        record = await _collector(hass).async_probe()
        assert record is not None
        assert record.error == "bad_status"
        assert not record.cold_start


async def test_the_same_model_on_two_servers_gets_a_device_under_each_server(
    hass: HomeAssistant,
) -> None:
    second_id = "01JSERVERSUBENTRY000000002"
    async with ollama_server(OllamaState()) as one, ollama_server(OllamaState()) as two:
        await setup_integration(
            hass,
            our_entry(
                subentries=[
                    {**server_subentry(SUBENTRY_OLLAMA, one.url), "title": "Desk"},
                    {
                        **server_subentry(
                            SUBENTRY_OLLAMA, two.url, subentry_id=second_id
                        ),
                        "title": "Attic",
                    },
                ]
            ),
        )

        entities = er.async_get(hass)
        for server_id, title in ((SERVER_ID, "Desk"), (second_id, "Attic")):
            server = _device(hass, f"server_{server_id}")
            model = _device(hass, f"server_{server_id}_model_llama3.2:3b")
            assert server.name == title
            assert model.name == f"llama3.2:3b on {title}"
            assert model.via_device_id == server.id
            assert (
                entities.async_get_entity_id(
                    "binary_sensor",
                    DOMAIN,
                    f"{ENTRY_ID}_server_{server_id}_model_llama3.2:3b_loaded",
                )
                == f"binary_sensor.llama3_2_3b_on_{title.lower()}_loaded"
            )


@pytest.mark.parametrize("change", ["probe_off", "server_removed"])
async def test_a_probe_no_longer_made_leaves_no_device_behind(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, change: str
) -> None:
    probe = f"requests_probe_{SERVER_ID}_qwen3:8b"
    async with ollama_server(OllamaState()) as server:
        await _set_up_probing(hass, server.url)
        await _collector(hass).async_probe()
        await poll(hass, freezer)
        assert server_state(hass, "sensor", "cold_starts", probe) is not None
        device_id = _device(hass, probe).id

        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        subentry = entry.subentries[SERVER_ID]
        if change == "probe_off":
            hass.config_entries.async_update_subentry(
                entry, subentry, data={**subentry.data, CONF_PROBE_MINUTES: 0}
            )
        else:
            hass.config_entries.async_remove_subentry(entry, SERVER_ID)
        await hass.async_block_till_done()
        await poll(hass, freezer)

        assert dr.async_get(hass).async_get(device_id) is None
        assert server_state(hass, "sensor", "cold_starts", probe) is None
        ledger = entry.runtime_data.ledger
        assert f"probe_{SERVER_ID}_qwen3:8b" not in ledger.subjects


async def test_a_probes_device_is_named_with_its_server_and_shown_under_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with ollama_server(OllamaState()) as server:
        await _set_up_probing(hass, server.url)
        await _collector(hass).async_probe()
        await poll(hass, freezer)

        probe = _device(hass, f"requests_probe_{SERVER_ID}_qwen3:8b")
        assert probe.name == "qwen3:8b probe on ollama test"
        assert probe.via_device_id == _device(hass, f"server_{SERVER_ID}").id
        cold_starts = server_state(
            hass, "sensor", "cold_starts", f"requests_probe_{SERVER_ID}_qwen3:8b"
        )
        assert cold_starts.entity_id == (
            "sensor.qwen3_8b_probe_on_ollama_test_cold_starts"
        )
