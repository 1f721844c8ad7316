"""Forecasts and latency anomalies through Home Assistant, read back from the real recorder."""

from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.ai_performance.const import (
    CONF_CURRENCY,
    CONF_MONTHLY_BUDGET,
    CONF_PRICES,
    DOMAIN,
)
from custom_components.ai_performance.engine.anomaly import THRESHOLD

from .conftest import ENTRY_ID, our_entry, setup_integration, tick
from .fake_pynvml import FakeNvml

NOW = "2026-11-10 12:00:00+00:00"  # a Tuesday
MEMORY_FULL_IN = "sensor.host_memory_full_in"
DISK_FULL_IN = "sensor.host_config_disk_full_in"
ANOMALY = "binary_sensor.rag_service_latency_anomaly"
PROJECTED = "sensor.ai_performance_projected_monthly_cost"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Start the recorder before our integration can be loaded."""


def _hour(offset: int) -> datetime:
    """Return the start of the hour ``offset`` hours from NOW's (negative: before)."""
    return dt_util.parse_datetime(NOW) + timedelta(hours=offset)


def import_means(
    hass: HomeAssistant, entity_id: str, unit: str, means: list[float], **meta: Any
) -> None:
    """Record ``means`` as the hourly means of ``entity_id``, the newest ending at NOW."""
    metadata = StatisticMetaData(
        mean_type=StatisticMeanType.ARITHMETIC,
        has_sum=False,
        name=None,
        source="recorder",
        statistic_id=entity_id,
        unit_of_measurement=unit,
        unit_class=meta.get("unit_class"),
    )
    rows = [
        StatisticData(start=_hour(i - len(means)), mean=m, min=m, max=m)
        for i, m in enumerate(means)
    ]
    async_import_statistics(hass, metadata, rows)


async def refresh_on_the_hour(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Let the hourly read of the statistics run, then tick."""
    await async_wait_recording_done(hass)
    freezer.move_to(_hour(0) + timedelta(minutes=12))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await tick(hass)


async def test_memory_filling_up_is_forecast_and_a_flat_disk_is_not(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    await setup_integration(hass, our_entry())
    assert hass.states.get(MEMORY_FULL_IN).state == STATE_UNKNOWN
    # Two days rising half a point an hour, to 59.5 % in the middle of the last hour.
    import_means(
        hass, "sensor.host_memory_usage", "%", [36 + 0.5 * i for i in range(48)]
    )
    import_means(hass, "sensor.host_config_disk_usage", "%", [50.0, 51.0, 49.0] * 16)

    await refresh_on_the_hour(hass, freezer)

    # 40.5 points to go at 12 a day from 11:30: full 3.375 days after 11:30, less the 42 min
    # since.
    state = hass.states.get(MEMORY_FULL_IN)
    expected_days = 40.5 / 12 - (42 / 60) / 24
    assert float(state.state) == pytest.approx(expected_days, abs=0.005)
    assert state.attributes["unit_of_measurement"] == "d"
    assert state.attributes["growth_per_day"] == 12.0
    assert state.attributes["confidence"] == 100
    assert state.attributes["hours_of_history"] == 48
    assert state.attributes["in_24_h"] == pytest.approx(
        59.5 + 12 * (24 + 0.7) / 24, abs=0.1
    )
    assert hass.states.get(DISK_FULL_IN).state == STATE_UNKNOWN  # not filling up


async def test_too_little_history_gives_no_forecast(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    await setup_integration(hass, our_entry())
    import_means(hass, "sensor.host_memory_usage", "%", [40.0 + i for i in range(11)])

    await refresh_on_the_hour(hass, freezer)

    assert hass.states.get(MEMORY_FULL_IN).state == STATE_UNKNOWN
    assert hass.states.get(MEMORY_FULL_IN).attributes.get("growth_per_day") is None


async def record(hass: HomeAssistant, duration_ms: float) -> None:
    await hass.services.async_call(
        DOMAIN,
        "record_request",
        {"subject": "rag_service", "duration_ms": duration_ms},
        blocking=True,
    )


async def test_latency_far_above_the_same_hour_of_the_week_is_an_anomaly(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    # In UTC: no daylight saving change moves the hours of the week.
    await hass.config.async_set_time_zone("UTC")
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    await setup_integration(hass, our_entry())
    await record(hass, 1000)
    await tick(hass)
    assert hass.states.get(ANOMALY).state == STATE_UNKNOWN  # no baseline yet
    latency_sensor = entity_registry.async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_requests_rag_service_latency_p95"
    )
    assert latency_sensor is not None
    # Three weeks: 1 s at this hour of the week (and either side), 4 s at every other hour, in
    # seconds: the recorder converts them to the sensor's ms.
    slot_hours = {-168 * w + d for w in (1, 2, 3) for d in (-1, 0, 1)}
    import_means(
        hass,
        latency_sensor,
        "s",
        [1.0 if i - 504 in slot_hours else 4.0 for i in range(504)],
        unit_class="duration",
    )

    await refresh_on_the_hour(hass, freezer)

    state = hass.states.get(ANOMALY)
    assert state.state == STATE_OFF  # 1 s is usual now
    assert state.attributes["usual_latency"] == 1000
    assert state.attributes["baseline"] == "hour_of_week"
    assert state.attributes["latency"] == 1000
    # The spread is at least 10 % of the usual: from 1.35 s the last hour's p95 is anomalous.
    for _ in range(5):
        await record(hass, 1000 + (THRESHOLD * 100) + 100)
    await tick(hass)
    state = hass.states.get(ANOMALY)
    assert state.state == STATE_ON
    assert state.attributes["score"] >= THRESHOLD


async def test_the_months_cost_is_projected_from_its_daily_costs(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    await hass.config.async_set_time_zone("UTC")
    freezer.move_to(_hour(0) + timedelta(minutes=5))
    options = {
        CONF_CURRENCY: "EUR",
        CONF_PRICES: {
            "gpt-4o-mini": {"input": 1.0, "cached_input": 0.5, "output": 2.0}
        },
        CONF_MONTHLY_BUDGET: 30.0,
    }
    await setup_integration(hass, our_entry(options))
    # No cost yet and nothing recorded: the month goes on at its average, nothing.
    assert float(hass.states.get(PROJECTED).state) == 0
    cost_sensor = entity_registry.async_get_entity_id(
        "sensor", DOMAIN, f"{ENTRY_ID}_overview_overall_cost"
    )
    # The nine days before today cost 2 each: a running sum, hour by hour.
    hours = 9 * 24
    metadata = StatisticMetaData(
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=None,
        source="recorder",
        statistic_id=cost_sensor,
        unit_of_measurement="EUR",
        unit_class=None,
    )
    start = _hour(-12 - hours)  # 1 November, midnight
    async_import_statistics(
        hass,
        metadata,
        [
            StatisticData(
                start=start + timedelta(hours=h), state=(h + 1) / 12, sum=(h + 1) / 12
            )
            for h in range(hours)
        ],
    )

    await refresh_on_the_hour(hass, freezer)

    # Nothing spent this month by our ledger; 2 a day for the 20.5 days left of November.
    state = hass.states.get(PROJECTED)
    assert float(state.state) == pytest.approx(2 * (20.5 - 12 / 60 / 24), rel=1e-6)
    assert state.attributes["unit_of_measurement"] == "EUR"
    assert state.attributes["daily_cost"] == 2.0
    assert state.attributes["daily_cost_change"] == 0
    # 30 at 2 a day: 15 days from now.
    reached = dt_util.parse_datetime(state.attributes["budget_reached"])
    assert reached == pytest.approx(
        _hour(0) + timedelta(minutes=12) + timedelta(days=15), abs=timedelta(seconds=1)
    )
