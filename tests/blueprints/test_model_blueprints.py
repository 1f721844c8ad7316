"""The model blueprints against a real (fake) Ollama: they call our actions with the right data."""

from datetime import datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from custom_components.ai_performance.const import DOMAIN, SUBENTRY_OLLAMA

from ..conftest import ENTRY_ID, our_entry, setup_integration, tick
from ..fake_pynvml import GIB, FakeGpu, FakeNvml
from ..servers.conftest import SERVER_ID, server_subentry
from ..servers.fake_servers import OllamaState, ollama_server
from ..servers.test_model_actions import changes
from .helpers import advance, use_blueprint

VRAM = "sensor.nvidia_geforce_rtx_4090_vram_usage"
UNLOAD_LLAMA = ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})


@pytest.fixture(autouse=True)
def local_servers(socket_enabled: None) -> None:
    """Let the tests run a fake Ollama on 127.0.0.1."""


async def test_vram_pressure_unloads_the_idle_model_after_the_duration(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    gpu = FakeGpu(uuid="GPU-a", memory_used=12 * GIB)
    nvml.plug(gpu)
    notified = async_mock_service(hass, "test", "notify")
    async with ollama_server(OllamaState()) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        await use_blueprint(
            hass,
            "unload_idle_models_on_vram_pressure.yaml",
            vram_sensor=VRAM,
            threshold=92,
            duration={"minutes": 2},
            actions=[
                {
                    "action": "test.notify",
                    "data": {"message": "{{ unloaded | join(', ') }} at {{ vram }} %"},
                }
            ],
        )

        gpu.memory_used = 23 * GIB  # 95.8 %
        await tick(hass, freezer)
        await advance(hass, freezer, 1)
        assert changes(server) == []

        await tick(hass, freezer, 0)
        await advance(hass, freezer, 1.5)

        assert changes(server) == [UNLOAD_LLAMA]
        assert [c.data["message"] for c in notified] == ["llama3.2:3b at 95.83 %"]


async def test_preload_loads_the_model_at_the_time_on_the_chosen_days(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    # A Tuesday, just before 06:50 local time.
    freezer.move_to(
        dt_util.as_utc(
            datetime(2026, 11, 10, 6, 49, 30, tzinfo=dt_util.get_default_time_zone())
        )
    )
    async with ollama_server(OllamaState()) as server:
        await setup_integration(
            hass, our_entry(subentries=[server_subentry(SUBENTRY_OLLAMA, server.url)])
        )
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_server_{SERVER_ID}"), ENTRY_ID
        )
        assert device is not None
        await use_blueprint(
            hass,
            "preload_model_before_usual_hours.yaml",
            server=device.id,
            model="qwen3:8b",
            at="06:50:00",
            weekdays=["mon", "tue", "wed", "thu", "fri"],
            keep_loaded={"hours": 2, "minutes": 30},
        )

        await advance(hass, freezer, 1)
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "qwen3:8b", "keep_alive": 9000})
        ]

        # Saturday: not a chosen day.
        await advance(hass, freezer, 4 * 24 * 60)
        assert len(changes(server)) == 1
