"""Service levels through Home Assistant, with the real recorder keeping the hourly ledger."""

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import (
    get_metadata,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.ai_performance.const import CONF_SLA_AGENTS, DOMAIN
from custom_components.ai_performance.engine.requests import (
    RequestRecord,
    RequestSource,
)

from .conftest import ENTRY_ID, our_entry, setup_integration, tick
from .fake_pynvml import FakeNvml

HOUR = "2026-11-21 10:00:00+00:00"
COMPLIANCE = "sensor.rag_service_sla_compliance_24_h"
AVAILABILITY = "sensor.rag_service_availability_24_h"
LAST_HOUR = "sensor.rag_service_sla_compliance_1_h"
BUDGET = "sensor.rag_service_error_budget_remaining_30_d"
OVERALL = "sensor.ai_performance_sla_compliance_24_h"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Start the recorder before our integration can be loaded."""


async def record(hass: HomeAssistant, duration_ms: float, **extra: Any) -> None:
    await hass.services.async_call(
        DOMAIN,
        "record_request",
        {"subject": "rag_service", "duration_ms": duration_ms, **extra},
        blocking=True,
    )


async def hour_of_requests(hass: HomeAssistant) -> None:
    """Four requests: one too slow for the 8 s target, one failed."""
    for duration in (1000, 2000, 9000):
        await record(hass, duration)
    await record(hass, 500, error="timeout")


def _read(hass: HomeAssistant, ids: set[str]) -> dict[str, list[Any]]:
    start = dt_util.parse_datetime(HOUR) - timedelta(hours=1)
    return statistics_during_period(
        hass, start, None, ids, "hour", None, {"state", "sum"}
    )


async def test_a_closed_hour_is_written_as_external_statistics(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(hass, our_entry())
    freezer.tick(timedelta(minutes=10))
    await hour_of_requests(hass)

    freezer.move_to("2026-11-21 11:00:30+00:00")
    await tick(hass)
    await async_wait_recording_done(hass)

    ids = {
        f"{DOMAIN}:rag_service_{name}"
        for name in ("requests", "within_target", "errors", "error_allowance")
    } | {f"{DOMAIN}:overall_requests"}
    rows = await get_instance(hass).async_add_executor_job(_read, hass, ids)
    values = {stat_id: (r[0]["state"], r[0]["sum"]) for stat_id, r in rows.items()}
    assert values == {
        f"{DOMAIN}:rag_service_requests": (4, 4),
        f"{DOMAIN}:rag_service_within_target": (2, 2),
        f"{DOMAIN}:rag_service_errors": (1, 1),
        f"{DOMAIN}:rag_service_error_allowance": (
            pytest.approx(0.04),
            pytest.approx(0.04),
        ),
        f"{DOMAIN}:overall_requests": (4, 4),
    }
    assert rows[f"{DOMAIN}:rag_service_requests"][0]["start"] == (
        dt_util.parse_datetime(HOUR).timestamp()
    )
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids=ids)
    )
    meta = metadata[f"{DOMAIN}:rag_service_requests"][1]
    assert meta["has_sum"] is True
    assert meta["mean_type"] is StatisticMeanType.NONE
    assert meta["unit_class"] is None
    assert meta["source"] == DOMAIN


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_windows_survive_a_reload_through_storage_and_the_recorder(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(hass, our_entry())
    await hour_of_requests(hass)  # hour 10: recorded once it is over
    freezer.move_to("2026-11-21 11:05:00+00:00")
    await tick(hass)
    await record(hass, 1000)  # hour 11: in progress, only in our storage
    await tick(hass)
    await async_wait_recording_done(hass)
    assert hass.states.get(COMPLIANCE).state == "60.0"  # 3 of 5 within target

    await hass.config_entries.async_reload(ENTRY_ID)
    await hass.async_block_till_done()

    assert hass.states.get(COMPLIANCE).state == "60.0"
    assert hass.states.get(LAST_HOUR).state == "60.0"  # the full hour 10 and hour 11
    assert hass.states.get(AVAILABILITY).state == "80.0"
    assert hass.states.get(OVERALL).state == "60.0"

    # The next hour closes hour 11 on top of the recorded sums, never hour 10 again.
    freezer.move_to("2026-11-21 12:00:10+00:00")
    await tick(hass)
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        _read, hass, {f"{DOMAIN}:rag_service_requests"}
    )
    assert [(r["state"], r["sum"]) for r in rows[f"{DOMAIN}:rag_service_requests"]] == [
        (4, 4),
        (1, 5),
    ]
    # A day later, hour 10 has left the 24-hour window.
    freezer.move_to("2026-11-22 11:00:10+00:00")
    await tick(hass)
    assert hass.states.get(COMPLIANCE).state == "100.0"


async def test_an_error_spends_the_budget_of_the_class(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(hass, our_entry())
    for _ in range(199):
        await record(hass, 100)
    await record(hass, 100, error="timeout")

    await tick(hass)

    # 200 requests at 99 % allow 2 errors; 1 is spent.
    assert hass.states.get(BUDGET).state == "50.0"


async def test_an_overspent_budget_reads_exhausted_not_below_zero(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(hass, our_entry())
    for error in ("timeout", "timeout", None, None):
        await record(hass, 100, error=error)

    await tick(hass)

    # 4 requests at 99 % allow 0.04 errors; 2 were made: 5 000 % of the budget is used.
    budget = hass.states.get(BUDGET)
    assert budget.state == "0.0"
    assert budget.attributes["exhausted"] is True
    assert budget.attributes["consumed_percent"] == 5000.0
    assert (
        hass.states.get("sensor.ai_performance_error_budget_remaining_30_d").state
        == "0.0"
    )


async def test_a_request_not_understood_spends_no_budget(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(hass, our_entry())
    await record(hass, 100, error="no_intent_match")
    await record(hass, 100, error="no_valid_targets")

    await tick(hass)

    budget = hass.states.get(BUDGET)
    assert budget.state == "100.0"
    assert budget.attributes == {
        **budget.attributes,
        "exhausted": False,
        "consumed_percent": 0.0,
    }
    assert hass.states.get(AVAILABILITY).state == "100.0"
    # Answered quickly: within target too.
    assert hass.states.get(COMPLIANCE).state == "100.0"


async def test_an_agent_held_to_the_simple_class_misses_its_3_second_target(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(
        hass, our_entry({CONF_SLA_AGENTS: {"rag_service": "simple"}})
    )

    await record(hass, 4000)  # an LLM answer: moderate (8 s) unless held to simple
    await tick(hass)

    assert hass.states.get(COMPLIANCE).state == "0.0"


async def test_probes_and_benchmarks_are_never_counted(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(HOUR)
    await setup_integration(hass, our_entry())
    await record(hass, 1000)
    ledger = hass.config_entries.async_get_entry(ENTRY_ID).runtime_data.ledger
    now = dt_util.utcnow().timestamp()
    for source, subject in (
        (RequestSource.PROBE, "probe_server_llama3"),
        (RequestSource.BENCHMARK, "rag_service"),
    ):
        ledger.add(
            RequestRecord(
                id=f"synthetic-{source}",
                source=source,
                subject=subject,
                start=now - 60,  # a minute: far past every target
                end=now,
                error="timeout",
            )
        )

    await tick(hass)

    assert hass.states.get(COMPLIANCE).state == "100.0"
    assert hass.states.get(OVERALL).state == "100.0"
    assert hass.states.get("sensor.probe_server_llama3_sla_compliance_24_h") is None
