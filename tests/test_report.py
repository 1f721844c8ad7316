"""get_report: read from the real recorder's statistics and checked against hand-computed figures."""

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    async_import_statistics,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.ai_performance.alerts import RaisedAlert
from custom_components.ai_performance.const import DOMAIN

from .conftest import ENTRY_ID, our_entry, setup_integration
from .fake_pynvml import FakeNvml
from .test_trends import _hour, import_means


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Start the recorder before our integration can be loaded."""


def _entity(hass: HomeAssistant, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_requests_rag_{key}"
    )
    assert entity_id is not None
    return entity_id


def record_sums(
    hass: HomeAssistant, statistic_id: str, changes: list[float], **meta: Any
) -> None:
    """Record hourly ``changes`` as a growing sum, from 4 hours before NOW's hour."""
    external = statistic_id.startswith(f"{DOMAIN}:")
    metadata = StatisticMetaData(
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=None,
        source=DOMAIN if external else "recorder",
        statistic_id=statistic_id,
        unit_of_measurement=meta.get("unit"),
        unit_class=None,
    )
    total = 0.0
    rows = []
    for offset, change in zip(range(-4, 0), changes, strict=True):
        total += change
        rows.append(StatisticData(start=_hour(offset), state=change, sum=total))
    add = async_add_external_statistics if external else async_import_statistics
    add(hass, metadata, rows)


async def test_report_of_recorded_hours_matches_the_hand_computed_figures(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    await setup_integration(hass, our_entry())
    await hass.services.async_call(
        DOMAIN,
        "record_request",
        {"subject": "rag", "duration_ms": 800, "input_tokens": 10, "output_tokens": 5},
        blocking=True,
    )
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    # The hour before the report (-4) and its three hours (-3, -2, -1).
    record_sums(hass, f"{DOMAIN}:rag_requests", [5, 10, 20, 30])
    record_sums(hass, f"{DOMAIN}:rag_within_target", [5, 9, 20, 24])
    record_sums(hass, f"{DOMAIN}:rag_errors", [0, 1, 0, 3])
    record_sums(
        hass, _entity(hass, "output_tokens"), [100, 500, 1000, 100], unit="tokens"
    )
    duration = {"unit_class": "duration"}
    import_means(
        hass, _entity(hass, "latency_p50"), "ms", [900, 1000, 2000, 1500], **duration
    )
    import_means(
        hass, _entity(hass, "latency_p95"), "ms", [9000, 3000, 4000, 5000], **duration
    )
    alerts = entry.runtime_data.alerts
    inside = (_hour(-2) + timedelta(minutes=10)).timestamp()
    for at, severity in ((inside, "warning"), (inside + 600, "critical")):
        alerts.history.append(
            RaisedAlert(
                at,
                "latency_p95:requests_rag",
                "latency_p95",
                "requests_rag",
                "rag",
                severity,
            )
        )
    before = (_hour(-4) + timedelta(minutes=1)).timestamp()
    alerts.history.append(
        RaisedAlert(
            before,
            "error_rate:requests_rag",
            "error_rate",
            "requests_rag",
            "rag",
            "warning",
        )
    )
    await async_wait_recording_done(hass)

    report = await hass.services.async_call(
        DOMAIN,
        "get_report",
        {"start": _hour(-3).isoformat(), "end": _hour(0).isoformat()},
        blocking=True,
        return_response=True,
    )

    assert report["start"] == _hour(-3).isoformat()
    assert report["end"] == _hour(0).isoformat()
    rag = report["subjects"]["rag"]
    assert rag["requests"] == 60
    assert rag["errors"] == 4
    assert rag["error_rate_percent"] == pytest.approx(4 / 60 * 100, abs=1e-3)
    assert rag["sla_compliance_percent"] == pytest.approx(53 / 60 * 100, abs=1e-3)
    # Each hour's mean weighted by its requests: (10·1000 + 20·2000 + 30·1500) / 60.
    assert rag["latency_p50_ms"] == pytest.approx(95_000 / 60, abs=1e-3)
    assert rag["latency_p95_ms"] == pytest.approx(260_000 / 60, abs=1e-3)
    assert rag["latency_trend"] is None  # three hours say nothing about a trend
    assert rag["output_tokens"] == 1600
    assert rag["cost"] is None  # no price table: no cost sensor
    assert rag["top_alerts"] == [
        {
            "alert_id": "latency_p95:requests_rag",
            "rule": "latency_p95",
            "name": "rag",
            "raised": 2,
            "critical": 1,
        }
    ]
    assert rag["recommendations"] == []
    assert report["overall"]["requests"] == 0
    assert report["overall"]["top_alerts"] == rag["top_alerts"]
    assert report["optimizations"] == []


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"period": "year"}, "invalid_field"),
        ({"period": "day", "start": "2026-11-01T00:00:00"}, "invalid_field"),
        ({"end": "2026-11-01T00:00:00"}, "invalid_field"),
        ({"start": "yesterday"}, "invalid_field"),
        (
            {"start": "2026-11-10T10:00:00+00:00", "end": "2026-11-10T09:00:00+00:00"},
            "invalid_period",
        ),
        ({"start": "2024-01-01T00:00:00+00:00"}, "invalid_period"),
    ],
)
async def test_a_bad_period_is_refused(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, data: dict[str, Any], key: str
) -> None:
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    await setup_integration(hass, our_entry())
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "get_report", data, blocking=True, return_response=True
        )
    assert caught.value.translation_key == key


async def test_a_named_period_ends_now_with_the_hour_in_progress(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    await setup_integration(hass, our_entry())
    report = await hass.services.async_call(
        DOMAIN, "get_report", {"period": "week"}, blocking=True, return_response=True
    )
    assert report["end"] == (_hour(0) + timedelta(minutes=5)).isoformat()
    assert report["start"] == _hour(-7 * 24).isoformat()
    assert report["subjects"] == {}


def _state(hass: HomeAssistant, unique_id: str) -> float:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_{unique_id}"
    )
    assert entity_id is not None, unique_id
    return float(hass.states.get(entity_id).state)


async def test_the_report_counts_the_hour_in_progress_as_the_sensors_do(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(_hour(0) + timedelta(minutes=20))
    await setup_integration(hass, our_entry())
    # Four requests this hour: one failed, one not understood, one too slow (8 s target).
    for duration, error in (
        (800, "timeout"),
        (700, "no_intent_match"),
        (9000, None),
        (900, None),
    ):
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": "rag", "duration_ms": duration}
            | ({"error": error} if error else {}),
            blocking=True,
        )
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()

    report = await hass.services.async_call(
        DOMAIN, "get_report", {"period": "day"}, blocking=True, return_response=True
    )

    rag = report["subjects"]["rag"]
    assert (rag["requests"], rag["errors"]) == (4, 1)
    assert rag["error_rate_percent"] == _state(hass, "requests_rag_error_rate") == 25
    assert rag["sla_compliance_percent"] == _state(
        hass, "requests_rag_sla_compliance_24h"
    )
    assert rag["availability_percent"] == _state(hass, "requests_rag_availability_24h")
    assert rag["error_budget_remaining_percent"] == 0
    assert rag["error_budget_exhausted"] is True
    overall = report["overall"]
    assert (overall["requests"], overall["errors"]) == (4, 1)
    assert overall["error_rate_percent"] == _state(hass, "overview_overall_error_rate")
    assert overall["availability_percent"] == _state(hass, "overview_availability_24h")
