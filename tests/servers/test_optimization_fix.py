"""An alert's repair offers the recommended safe action when there is one, and carries it out."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.const import DOMAIN, SUBENTRY_OLLAMA

from ..conftest import fix_step, setup_integration, start_fix, tick
from ..fake_pynvml import GIB, FakeGpu, FakeNvml
from ..test_alerts import watching
from .conftest import server_subentry
from .fake_servers import OllamaState, ollama_server
from .test_model_actions import changes

ISSUE_ID = "alert_vram:gpu_GPU-a"


async def test_the_vram_alerts_repair_unloads_the_idle_model(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    nvml.plug(FakeGpu(uuid="GPU-a", memory_used=int(23.5 * GIB)))
    async with ollama_server(OllamaState()) as server:
        subentry = server_subentry(SUBENTRY_OLLAMA, server.url)
        await setup_integration(hass, watching(RuleKey.VRAM, subentries=[subentry]))
        for _ in range(31):  # 5 minutes to critical, then 10 minutes critical
            await tick(hass, freezer)
        assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_ID) is not None

        flow = await start_fix(hass, ISSUE_ID)
        assert flow["menu_options"] == [
            "apply_optimization",
            "snooze_hour",
            "snooze_day",
            "raise_threshold",
        ]
        form = await fix_step(
            hass, flow["flow_id"], {"next_step_id": "apply_optimization"}
        )
        assert form["type"] is FlowResultType.FORM
        assert form["description_placeholders"]["action"] == "unload llama3.2:3b"
        assert (
            "97.9 % of its memory in use"
            in form["description_placeholders"]["rationale"]
        )
        assert changes(server) == []

        done = await fix_step(hass, flow["flow_id"], {})

        assert done["type"] is FlowResultType.CREATE_ENTRY
        assert changes(server) == [
            ("POST", "/api/generate", {"model": "llama3.2:3b", "keep_alive": 0})
        ]


async def test_without_a_safe_action_the_repair_offers_none(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    nvml.plug(FakeGpu(uuid="GPU-a", memory_used=int(23.5 * GIB)))
    await setup_integration(hass, watching(RuleKey.VRAM))  # no Ollama server watched
    for _ in range(31):
        await tick(hass, freezer)

    flow = await start_fix(hass, ISSUE_ID)

    assert flow["menu_options"] == ["snooze_hour", "snooze_day", "raise_threshold"]


async def test_a_recommendation_gone_meanwhile_aborts_and_changes_nothing(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    gpu = FakeGpu(uuid="GPU-a", memory_used=int(23.5 * GIB))
    nvml.plug(gpu)
    state = OllamaState()
    async with ollama_server(state) as server:
        subentry = server_subentry(SUBENTRY_OLLAMA, server.url)
        await setup_integration(hass, watching(RuleKey.VRAM, subentries=[subentry]))
        for _ in range(31):
            await tick(hass, freezer)
        flow = await start_fix(hass, ISSUE_ID)
        # Meanwhile someone else unloads every model; the next poll sees them gone.
        state.loaded = []
        await tick(hass, freezer)

        result = await fix_step(
            hass, flow["flow_id"], {"next_step_id": "apply_optimization"}
        )

        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "optimization_gone"
        assert changes(server) == []


async def test_a_model_unloaded_before_the_confirmation_aborts_in_words(
    hass: HomeAssistant, nvml: FakeNvml, freezer: FrozenDateTimeFactory
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    nvml.plug(FakeGpu(uuid="GPU-a", memory_used=int(23.5 * GIB)))
    state = OllamaState()
    async with ollama_server(state) as server:
        subentry = server_subentry(SUBENTRY_OLLAMA, server.url)
        await setup_integration(hass, watching(RuleKey.VRAM, subentries=[subentry]))
        for _ in range(31):
            await tick(hass, freezer)
        flow = await start_fix(hass, ISSUE_ID)
        await fix_step(hass, flow["flow_id"], {"next_step_id": "apply_optimization"})
        # Unloaded by someone else while the form is open, before any poll sees it.
        state.loaded = []

        result = await fix_step(hass, flow["flow_id"], {})

        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "optimization_gone"
        assert changes(server) == []
