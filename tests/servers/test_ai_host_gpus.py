"""An AI host's GPUs, read from dcgm-exporter and nvidia_gpu_exporter text.

The exporters' text is taken from their own repositories (tests/fixtures/gpu_exporters, each
file says where from); a fake serves it. What each entity shows is worked out here from the
fixture's own numbers and the exporters' documented units (MiB, mJ, W, ratios).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.ai_performance import async_remove_config_entry_device
from custom_components.ai_performance.collectors.ai_host import GpuExporterCollector
from custom_components.ai_performance.collectors.requests import RequestsCollector
from custom_components.ai_performance.const import (
    CONF_AI_HOST,
    CONF_ALERT_RULES,
    CONF_GPU_EXPORTER_URL,
    CONF_NODE_EXPORTER_URL,
    DOMAIN,
    SUBENTRY_OLLAMA,
)
from custom_components.ai_performance.dashboard import build_dashboard
from custom_components.ai_performance.engine.recommend import Kind
from custom_components.ai_performance.optimizer import recommendations

from ..conftest import ENTRY_ID, our_entry, setup_integration
from .conftest import poll, server_state, server_subentry
from .fake_servers import OllamaState, fixture_text, ollama_server, serve
from .test_ai_host import (
    HOST_ID,
    ai_host_subentry,
    node_exporter_server,
    set_up_ai_host,
)

H100 = "GPU-1c67088e-9ecb-4564-bb97-6151ecc2ef64"
H200 = "GPU-ef427e4f-1970-42f2-ab0c-ecf0e56a33b9"
MIB = 1024**2
MJ_PER_KWH = 3_600_000_000


@dataclass
class Served:
    """The text the fake exporter answers with now."""

    text: str


@asynccontextmanager
async def gpu_exporter(fixture: str) -> AsyncIterator[tuple[str, Served]]:
    """Serve a GPU exporter fixture at /metrics; the text can be changed meanwhile."""
    served = Served(fixture_text(f"gpu_exporters/{fixture}"))

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text=served.text, content_type="text/plain")

    async with serve({("GET", "/metrics"): metrics}) as server:
        yield server.url, served


def gpu_state(
    hass: HomeAssistant, uuid: str, key: str, platform: str = "sensor"
) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{ENTRY_ID}_gpu_{uuid}_{key}"
    )
    assert entity_id is not None, key
    return hass.states.get(entity_id).state


def gpu_entity(hass: HomeAssistant, uuid: str, key: str) -> str | None:
    return er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_gpu_{uuid}_{key}"
    )


async def test_dcgm_gpus_are_devices_under_the_ai_host_with_the_exporters_figures(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with gpu_exporter("dcgm_two_gpus.txt") as (url, served):
        await set_up_ai_host(hass, **{CONF_GPU_EXPORTER_URL: url})
        devices = dr.async_get(hass)
        host = devices.async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_ai_host_{HOST_ID}"), ENTRY_ID
        )
        h200 = devices.async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_gpu_{H200}"), ENTRY_ID
        )
        assert h200.via_device_id == host.id
        # Filed under the AI host, as its host device is (2026.10 keeps a set per entry).
        if hasattr(h200, "config_subentry_id"):
            assert h200.config_subentry_id == HOST_ID
        else:
            assert h200.config_entries_subentries[ENTRY_ID] == {HOST_ID}
        assert h200.serial_number == H200
        # Named with its machine: two AI hosts often hold the same model of GPU.
        assert h200.name == "NVIDIA H200 (gpu-box, GPU 1)"
        assert h200.sw_version == "Driver 590.48.01, dcgm-exporter"
        # The fixture's H200: 100 % busy, 52 °C, 627.4 W, FB used/free/reserved
        # 32362/110796/614 MiB, 22581873405 mJ since the driver loaded.
        assert gpu_state(hass, H200, "gpu_utilization") == "100"
        assert gpu_state(hass, H200, "temperature") == "52"
        assert gpu_state(hass, H200, "power") == "627.4"
        total = (32362 + 110796 + 614) * MIB
        assert float(gpu_state(hass, H200, "vram_usage")) == round(
            32362 * MIB / total * 100, 2
        )
        assert float(gpu_state(hass, H200, "energy")) == round(
            22581873405 / MJ_PER_KWH, 6
        )
        assert gpu_state(hass, H100, "gpu_utilization") == "0"

        # The driver reloaded on one GPU: its counter starts again, which the Energy
        # dashboard's total-increasing statistics take as a meter reset.
        # The later scrape: the H100's counter restarted (1520843 mJ), the H200's grew.
        served.text = fixture_text("gpu_exporters/dcgm_two_gpus_later.txt")
        await poll(hass, freezer)
        assert float(gpu_state(hass, H100, "energy")) == round(1520843 / MJ_PER_KWH, 6)
        assert float(gpu_state(hass, H200, "energy")) == round(
            22600695405 / MJ_PER_KWH, 6
        )


async def test_a_gpu_that_reports_less_gets_fewer_entities(hass: HomeAssistant) -> None:
    async with gpu_exporter("dcgm_missing_field.txt") as (url, _served):
        await set_up_ai_host(hass, **{CONF_GPU_EXPORTER_URL: url})
        collector = next(
            c
            for c in hass.config_entries.async_get_entry(
                ENTRY_ID
            ).runtime_data.coordinator.collectors
            if isinstance(c, GpuExporterCollector)
        )
        (uuid,) = collector.layout.gpus
        # No power, energy or memory temperature (DCGM's "not supported" value): no entity,
        # rather than a 0 or a nonsense number.
        for key in ("power", "energy", "memory_temperature", "energy_estimate"):
            assert gpu_entity(hass, uuid, key) is None, key
        assert gpu_entity(hass, uuid, "temperature") is not None


async def test_nvidia_gpu_exporter_gpus_are_keyed_as_nvml_keys_them(
    hass: HomeAssistant,
) -> None:
    async with gpu_exporter("nvidia_smi_two_gpus.txt") as (url, _served):
        await set_up_ai_host(hass, **{CONF_GPU_EXPORTER_URL: url})
        # nvidia_gpu_exporter labels "ef427e4f-...": the device is NVML's "GPU-ef427e4f-...",
        # so moving to dcgm-exporter keeps the same devices and their history.
        assert gpu_state(hass, H200, "temperature") == "52"
        assert gpu_state(hass, H200, "power") == "627.4"
        # 33934016512 of 150754820096 bytes in use.
        assert float(gpu_state(hass, H200, "vram_usage")) == round(
            33934016512 / 150754820096 * 100, 2
        )
        assert float(gpu_state(hass, H200, "energy")) == round(
            22581873.405 / 3_600_000, 6
        )


async def test_power_without_an_energy_counter_is_integrated_and_named_an_estimate(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    text = "\n".join(
        line
        for line in fixture_text("gpu_exporters/nvidia_smi_two_gpus.txt").splitlines()
        if "nvidia_smi_energy_joules_total" not in line
    )
    async with gpu_exporter("nvidia_smi_two_gpus.txt") as (url, served):
        served.text = text
        await set_up_ai_host(hass, **{CONF_GPU_EXPORTER_URL: url})
        assert gpu_entity(hass, H200, "energy") is None
        entity_id = gpu_entity(hass, H200, "energy_estimate")
        assert entity_id is not None
        state = hass.states.get(entity_id)
        assert state.name.endswith("Energy (estimated from power)")
        start = float(state.state)

        await poll(hass, freezer, 30)

        # 627.4 W for 30 s, the trapezoid of two equal readings.
        assert float(hass.states.get(entity_id).state) == pytest.approx(
            start + 627.4 * 30 / 3_600_000, abs=2e-6
        )


async def test_alerts_forecasts_and_the_dashboard_work_on_an_ai_hosts_gpus(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    rules = {
        CONF_ALERT_RULES: {
            "gpu_temperature": {"target": 40, "warning": 45, "critical": 50}
        }
    }
    async with gpu_exporter("dcgm_two_gpus.txt") as (url, _served):
        await setup_integration(
            hass,
            our_entry(
                options=rules,
                subentries=[ai_host_subentry(**{CONF_GPU_EXPORTER_URL: url})],
            ),
        )
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        snapshot = entry.runtime_data.coordinator.data
        # The H200 at 52 °C is past critical, the H100 at 41 °C is not.
        alert = snapshot.alerts[f"gpu_temperature:gpu_{H200}"]
        assert alert.value == 52
        assert f"vram:{H200}" in snapshot.forecasts
        for _ in range(5):  # past the rule's two minutes
            await poll(hass, freezer)
        assert (
            gpu_state(hass, H200, "gpu_temperature_alert", "binary_sensor") == STATE_ON
        )
        assert (
            gpu_state(hass, H100, "gpu_temperature_alert", "binary_sensor") == STATE_OFF
        )

        dashboard = build_dashboard(hass, ENTRY_ID)
        text = str(dashboard)
        assert "GPU not monitored" not in text
        assert "NVIDIA H200 (gpu-box, GPU 1)" in text


async def test_one_exporter_down_leaves_the_other_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with (
        gpu_exporter("dcgm_two_gpus.txt") as (url, _served),
        node_exporter_server() as node,
    ):
        await setup_integration(
            hass,
            our_entry(
                subentries=[
                    ai_host_subentry(
                        **{CONF_GPU_EXPORTER_URL: url, CONF_NODE_EXPORTER_URL: node.url}
                    )
                ]
            ),
        )
        node.behaviour.status = 500
        await poll(hass, freezer)

        assert gpu_state(hass, H200, "temperature") == "52"
        load = er.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{ENTRY_ID}_ai_host_{HOST_ID}_load_1m"
        )
        assert hass.states.get(load).state == STATE_UNAVAILABLE


async def test_a_server_on_the_ai_host_meters_energy_and_knows_its_gpu_memory(
    hass: HomeAssistant,
) -> None:
    async with (
        gpu_exporter("dcgm_two_gpus.txt") as (url, _served),
        ollama_server(OllamaState()) as ollama,
    ):
        await setup_integration(
            hass,
            our_entry(
                subentries=[
                    ai_host_subentry(**{CONF_GPU_EXPORTER_URL: url}),
                    server_subentry(
                        SUBENTRY_OLLAMA, ollama.url, **{CONF_AI_HOST: HOST_ID}
                    ),
                ]
            ),
        )
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        requests = next(
            c
            for c in entry.runtime_data.coordinator.collectors
            if isinstance(c, RequestsCollector)
        )
        # No NVML here: the requests' energy is the AI host's GPUs' counters, in J.
        assert requests.energy.available
        reading = requests.energy._read()
        assert reading is not None
        assert reading.gpus == {H100, H200}
        assert reading.joules == pytest.approx((6048000512 + 22581873405) / 1000)
        vram = server_state(hass, "sensor", "models_vram")
        total = (0 + 81081 + 479 + 32362 + 110796 + 614) * MIB
        assert vram.attributes["gpu_memory_total_gib"] == round(total / 1024**3, 2)
        held = sum(m["size_vram"] for m in OllamaState().loaded)
        assert vram.attributes["share_of_gpu_memory"] == round(held / total * 100, 1)


async def test_a_remote_gpu_held_back_by_its_power_limit_is_recommended_a_fix(
    hass: HomeAssistant,
) -> None:
    # dcgm_extra_counters.txt: the RTX 2080 SUPER's clock event reasons are 4, NVML's
    # "SW power cap" bit; the H200's are 0.
    rtx = "GPU-00000000-0000-0000-0000-000000000000"
    async with gpu_exporter("dcgm_extra_counters.txt") as (url, _served):
        await set_up_ai_host(hass, **{CONF_GPU_EXPORTER_URL: url})
        entry = hass.config_entries.async_get_entry(ENTRY_ID)

        found = recommendations(hass, entry)

        assert gpu_state(hass, rtx, "throttling", "binary_sensor") == STATE_ON
        assert gpu_state(hass, H200, "throttling", "binary_sensor") == STATE_OFF
        throttled = [item for item in found if item.kind is Kind.GPU_THROTTLING]
        assert [item.subject for item in throttled] == [rtx]
        assert "power limit" in throttled[0].rationale


async def test_a_gpu_taken_out_can_be_deleted_and_one_still_listed_cannot(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    async with gpu_exporter("dcgm_two_gpus.txt") as (url, served):
        await set_up_ai_host(hass, **{CONF_GPU_EXPORTER_URL: url})
        # The H100 is taken out of the machine: the exporter lists the H200 only.
        served.text = "\n".join(
            line for line in served.text.splitlines() if "GPU-1c67088e" not in line
        )
        await poll(hass, freezer)
        assert gpu_state(hass, H100, "temperature") == STATE_UNAVAILABLE
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        devices = dr.async_get(hass)
        gone = devices.async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_gpu_{H100}"), ENTRY_ID
        )
        listed = devices.async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_gpu_{H200}"), ENTRY_ID
        )

        assert not await async_remove_config_entry_device(hass, entry, listed)
        assert await async_remove_config_entry_device(hass, entry, gone)

        # Forgotten: after a restart it does not come back.
        assert await hass.config_entries.async_reload(ENTRY_ID)
        await hass.async_block_till_done()
        assert gpu_entity(hass, H100, "temperature") is None
        assert gpu_state(hass, H200, "temperature") == "52"


async def test_an_ai_host_moved_to_another_machine_forgets_the_old_gpus(
    hass: HomeAssistant,
) -> None:
    async with (
        gpu_exporter("dcgm_two_gpus.txt") as (old, _old),
        gpu_exporter("dcgm_missing_field.txt") as (new, _new),
    ):
        entry = our_entry(
            subentries=[ai_host_subentry(**{CONF_GPU_EXPORTER_URL: f"{old}/metrics"})]
        )
        await setup_integration(hass, entry)
        assert gpu_entity(hass, H200, "temperature") is not None

        hass.config_entries.async_update_subentry(
            entry,
            entry.subentries[HOST_ID],
            data={
                **entry.subentries[HOST_ID].data,
                CONF_GPU_EXPORTER_URL: f"{new}/metrics",
            },
        )
        await hass.async_block_till_done()

        # The machine at the new address has one GPU of its own: the old two are gone.
        assert gpu_entity(hass, H200, "temperature") is None
        assert gpu_entity(hass, H100, "temperature") is None
        assert (
            dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, f"{ENTRY_ID}_gpu_{H200}"), ENTRY_ID
            )
            is None
        )
