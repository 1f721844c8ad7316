"""Repair issues of the sources: one failing for too long, and NVML missing when a GPU is expected."""

from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pynvml

from custom_components.ai_performance.collectors import gpu as gpu_collector
from custom_components.ai_performance.collectors.host import HostCollector
from custom_components.ai_performance.const import (
    CONF_GPU_MONITORING,
    CONF_REPAIR_MINUTES,
    DOMAIN,
)
from custom_components.ai_performance.engine.snapshot import Snapshot, SourceResult
from custom_components.ai_performance.source_health import SourceHealth

from .conftest import ENTRY_ID, fix_step, our_entry, setup_integration, start_fix, tick
from .fake_pynvml import FakeGpu, FakeNvml

HOST_ISSUE = "source_failing_host"
GPU_ISSUE = "source_failing_gpu"
NVML_ISSUE = "nvml_missing"
GPU_UTILIZATION = "sensor.nvidia_geforce_rtx_4090_gpu_utilization"
GPU_0_UTILIZATION = "sensor.nvidia_geforce_rtx_4090_gpu_0_gpu_utilization"
GPU_1_UTILIZATION = "sensor.nvidia_geforce_rtx_4090_gpu_1_gpu_utilization"


async def test_a_source_failing_for_the_repair_delay_raises_an_issue_until_it_recovers(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, our_entry({CONF_REPAIR_MINUTES: 5}))
    with patch.object(
        HostCollector, "async_collect", side_effect=OSError("/proc is gone")
    ):
        for _ in range(10):  # failing from the first of these ticks: 4.5 minutes
            await tick(hass, freezer)
        assert issue_registry.async_get_issue(DOMAIN, HOST_ISSUE) is None
        assert hass.states.get("sensor.host_memory_usage").state == STATE_UNAVAILABLE
        # Another source is not affected.
        assert hass.states.get("sensor.ai_performance_collection_duration").state != (
            STATE_UNAVAILABLE
        )

        await tick(hass, freezer)  # 5 minutes

        issue = issue_registry.async_get_issue(DOMAIN, HOST_ISSUE)
        assert issue is not None
        assert not issue.is_fixable
        assert issue.severity is ir.IssueSeverity.ERROR
        assert issue.translation_key == "source_failing"
        assert issue.translation_placeholders["source"] == "the host"
        assert issue.translation_placeholders["error"] == "/proc is gone"
        # The class stays where it helps: the diagnostics (and the log).
        entry = hass.config_entries.async_get_entry(ENTRY_ID)
        assert (
            entry.runtime_data.coordinator.data.sources["host"].error
            == "OSError: /proc is gone"
        )
        translations = await async_get_translations(hass, "en", "issues", {DOMAIN})
        assert (
            "{error}"
            in translations[f"component.{DOMAIN}.issues.source_failing.description"]
        )

    await tick(hass, freezer)

    assert issue_registry.async_get_issue(DOMAIN, HOST_ISSUE) is None
    assert hass.states.get("sensor.host_memory_usage").state != STATE_UNAVAILABLE


async def test_the_source_issue_says_since_when_in_home_assistants_time_zone(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    await hass.config.async_set_time_zone("Asia/Tokyo")
    await setup_integration(hass, our_entry({CONF_REPAIR_MINUTES: 0}))

    with patch.object(
        HostCollector, "async_collect", side_effect=OSError("/proc is gone")
    ):
        await tick(hass, freezer)
        failing_from = dt_util.utcnow().replace(microsecond=0)

    issue = issue_registry.async_get_issue(DOMAIN, HOST_ISSUE)
    assert issue is not None
    since = datetime.fromisoformat(issue.translation_placeholders["since"])
    assert since == failing_from
    assert since.utcoffset() == timedelta(hours=9)


async def test_a_gpu_answering_only_errors_is_unavailable_and_raises_the_issue_until_it_recovers(
    hass: HomeAssistant,
    gpu: FakeGpu,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, our_entry({CONF_REPAIR_MINUTES: 5}))
    assert hass.states.get(GPU_UTILIZATION).state == "37"

    gpu.error = pynvml.NVML_ERROR_UNKNOWN  # NVML initialised, then every call fails
    for _ in range(10):  # failing from the first of these ticks: 4.5 minutes
        await tick(hass, freezer)
    assert hass.states.get(GPU_UTILIZATION).state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.nvidia_geforce_rtx_4090_power").state == (
        STATE_UNAVAILABLE
    )
    assert issue_registry.async_get_issue(DOMAIN, GPU_ISSUE) is None
    assert hass.states.get("sensor.host_memory_usage").state != STATE_UNAVAILABLE

    await tick(hass, freezer)  # 5 minutes

    issue = issue_registry.async_get_issue(DOMAIN, GPU_ISSUE)
    assert issue is not None
    assert issue.translation_key == "source_failing"
    assert issue.translation_placeholders["source"] == "the NVIDIA GPUs"
    assert issue.translation_placeholders["error"] == (
        "GPU 0 (NVIDIA GeForce RTX 4090): Unknown Error"
    )

    gpu.error = None
    await tick(hass, freezer)

    assert issue_registry.async_get_issue(DOMAIN, GPU_ISSUE) is None
    assert hass.states.get(GPU_UTILIZATION).state == "37"


async def test_a_lost_gpu_raises_the_issue_which_stays_after_its_device_is_removed(
    hass: HomeAssistant,
    gpu: FakeGpu,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    await setup_integration(hass, our_entry({CONF_REPAIR_MINUTES: 5}))

    gpu.lost = True
    for _ in range(11):  # 5 minutes
        await tick(hass, freezer)
    assert hass.states.get(GPU_UTILIZATION).state == STATE_UNAVAILABLE
    issue = issue_registry.async_get_issue(DOMAIN, GPU_ISSUE)
    assert issue is not None
    assert issue.translation_placeholders["error"] == (
        "GPU 0 (NVIDIA GeForce RTX 4090): GPU is lost"
    )
    with patch.object(gpu_collector, "LOST_GPU_GRACE", 0.0):  # forgotten
        await tick(hass, freezer)

    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, f"{ENTRY_ID}_gpu_{gpu.uuid}"), ENTRY_ID
        )
        is None
    )
    assert issue_registry.async_get_issue(DOMAIN, GPU_ISSUE) is not None
    await hass.config_entries.async_unload(ENTRY_ID)  # a reload measures afresh
    assert issue_registry.async_get_issue(DOMAIN, GPU_ISSUE) is None


async def test_one_gpu_answering_only_errors_leaves_the_other_available(
    hass: HomeAssistant,
    nvml: FakeNvml,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    nvml.plug(FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b"))
    await setup_integration(hass, our_entry({CONF_REPAIR_MINUTES: 5}))

    nvml.gpus[0].error = pynvml.NVML_ERROR_UNKNOWN
    for _ in range(11):  # 5 minutes
        await tick(hass, freezer)

    assert hass.states.get(GPU_0_UTILIZATION).state == STATE_UNAVAILABLE
    assert hass.states.get(GPU_1_UTILIZATION).state == "37"
    issue = issue_registry.async_get_issue(DOMAIN, GPU_ISSUE)
    assert issue is not None
    assert issue.translation_placeholders["error"] == (
        "GPU 0 (NVIDIA GeForce RTX 4090): Unknown Error"
    )


async def test_one_field_not_supported_blanks_it_and_raises_no_issue(
    hass: HomeAssistant,
    nvml: FakeNvml,
    gpu: FakeGpu,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, our_entry({CONF_REPAIR_MINUTES: 5}))

    with patch.object(
        nvml,
        "nvmlDeviceGetUtilizationRates",
        side_effect=pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED),
    ):
        for _ in range(11):  # 5 minutes
            await tick(hass, freezer)

        assert hass.states.get(GPU_UTILIZATION).state == "unknown"
        assert hass.states.get("sensor.nvidia_geforce_rtx_4090_power").state == "215.5"
        assert issue_registry.async_get_issue(DOMAIN, GPU_ISSUE) is None


def _failing(key: str) -> Snapshot:
    return Snapshot(
        sources={key: SourceResult(sample=None, error="ClientError", duration_ms=1)},
        collection_ms=1,
    )


async def test_a_model_server_down_has_its_own_issue_not_this_one(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    our_entry().add_to_hass(hass)
    health = SourceHealth(hass, ENTRY_ID, repair_after_s=60, gpu_required=False)

    for now in (0, 30, 61, 120):
        health.update(_failing("server:01SERVER"), now)
        health.update(_failing("assist"), now)

    assert issue_registry.async_get_issue(DOMAIN, "source_failing_assist") is not None
    assert (
        issue_registry.async_get_issue(DOMAIN, "source_failing_server:01SERVER") is None
    )
    health.async_stop()  # unloading deletes what it raised
    assert issue_registry.async_get_issue(DOMAIN, "source_failing_assist") is None


async def test_gpu_monitoring_on_without_nvml_is_repaired_by_switching_to_auto(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    entry = our_entry({CONF_GPU_MONITORING: "on"})
    await setup_integration(hass, entry)  # the fake NVML has no library

    issue = issue_registry.async_get_issue(DOMAIN, NVML_ISSUE)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders["error"]
    translations = await async_get_translations(hass, "en", "issues", {DOMAIN})
    prefix = f"component.{DOMAIN}.issues.nvml_missing"
    assert "{error}" in translations[f"{prefix}.fix_flow.step.confirm.description"]

    flow = await start_fix(hass, NVML_ISSUE)
    assert flow["type"] is FlowResultType.FORM
    done = await fix_step(hass, flow["flow_id"], {})
    await hass.async_block_till_done()

    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_GPU_MONITORING] == "auto"
    assert issue_registry.async_get_issue(DOMAIN, NVML_ISSUE) is None
    await tick(hass)  # reloaded on auto: no issue comes back
    assert issue_registry.async_get_issue(DOMAIN, NVML_ISSUE) is None


async def test_the_fix_aborts_when_the_entry_is_gone(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    entry = our_entry({CONF_GPU_MONITORING: "on"})
    await setup_integration(hass, entry)
    flow = await start_fix(hass, NVML_ISSUE)
    await hass.config_entries.async_remove(entry.entry_id)

    result = await fix_step(hass, flow["flow_id"], {})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"


async def test_no_issue_on_auto_or_with_a_gpu(
    hass: HomeAssistant, nvml: FakeNvml, issue_registry: ir.IssueRegistry
) -> None:
    await setup_integration(hass, our_entry())  # auto, no NVML: expected
    assert issue_registry.async_get_issue(DOMAIN, NVML_ISSUE) is None
    await hass.config_entries.async_unload(ENTRY_ID)

    nvml.library = True
    nvml.plug(FakeGpu(uuid="GPU-a"))
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry is not None
    hass.config_entries.async_update_entry(entry, options={CONF_GPU_MONITORING: "on"})
    await hass.config_entries.async_setup(ENTRY_ID)
    await hass.async_block_till_done()

    assert issue_registry.async_get_issue(DOMAIN, NVML_ISSUE) is None
