"""get_report's recommendations: titled in words beside their kind, as the optimize action's."""

from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
import pytest

from custom_components.ai_performance.const import DOMAIN

from .conftest import our_entry, setup_integration
from .fake_pynvml import FakeNvml


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Start the recorder before our integration can be loaded."""


async def test_a_subjects_recommendation_is_titled_in_words(
    hass: HomeAssistant,
) -> None:
    await setup_integration(hass, our_entry())
    for number in range(10):  # 3 of 10 failed: a high error rate
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": "rag", "duration_ms": 800}
            | ({"error": "timeout"} if number < 3 else {}),
            blocking=True,
        )

    report = await hass.services.async_call(
        DOMAIN, "get_report", {}, blocking=True, return_response=True
    )

    (rag,) = [s for s in report["subjects"].values() if s["name"] == "rag"]
    (item,) = rag["recommendations"]
    assert (item["title"], item["kind"]) == ("High error rate", "high_error_rate")
