"""Daily performance report: at its time, on its days, the report of the recorded hours."""

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.ai_performance.alerts import RaisedAlert
from custom_components.ai_performance.const import DOMAIN

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..fake_pynvml import FakeNvml
from ..test_report import record_sums
from ..test_trends import _hour
from .helpers import advance, use_blueprint


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Start the recorder before our integration can be loaded."""


async def test_the_report_of_the_last_day_is_sent_at_its_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    # A Tuesday; the report is sent at the next minute.
    freezer.move_to(_hour(0) + timedelta(seconds=30))
    at = dt_util.as_local(_hour(0) + timedelta(minutes=1)).strftime("%H:%M:%S")
    notified = async_mock_service(hass, "test", "notify")
    await setup_integration(hass, our_entry())
    record_sums(hass, f"{DOMAIN}:overall_requests", [5, 10, 20, 30])
    record_sums(hass, f"{DOMAIN}:overall_within_target", [5, 9, 20, 24])
    record_sums(hass, f"{DOMAIN}:overall_errors", [0, 1, 0, 3])
    alerts = hass.config_entries.async_get_entry(ENTRY_ID).runtime_data.alerts
    inside = (_hour(-2) + timedelta(minutes=10)).timestamp()
    alerts.history.append(
        RaisedAlert(
            inside, "vram:gpu_GPU-a", "vram", "gpu_GPU-a", "RTX 4090", "critical"
        )
    )
    await async_wait_recording_done(hass)
    await use_blueprint(
        hass,
        "daily_performance_report.yaml",
        at=at,
        weekdays=["tue"],
        actions=[
            {
                "action": "test.notify",
                "data": {"title": "{{ title }}", "message": "{{ message }}"},
            }
        ],
    )

    await advance(hass, freezer, 1)

    assert [(c.data["title"], c.data["message"]) for c in notified] == [
        (
            "AI performance, last day",
            # The day's hours: the last four hold 65 requests, 4 errors, 58 within target.
            (
                "65 requests, 4 errors (6.154 %). 89.231 % within the service level."
                " Alerts: RTX 4090 GPU memory (1)."
            ),
        )
    ]

    # Wednesday is not a chosen day.
    await advance(hass, freezer, 24 * 60)
    assert len(notified) == 1
