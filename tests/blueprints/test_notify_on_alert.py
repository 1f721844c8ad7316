"""Notify on alert: the real alert event notifies; severity, rules, cooldown and clearing filter it."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.const import EVENT_ALERT

from ..conftest import setup_integration
from ..fake_pynvml import FakeGpu
from ..test_alerts import overheat, watching
from .helpers import advance, use_blueprint

NOTIFY = [
    {
        "action": "test.notify",
        "data": {"title": "{{ title }}", "message": "{{ message }}"},
    }
]


@pytest.fixture
def notified(hass: HomeAssistant) -> list[ServiceCall]:
    """Every notification the automation sends."""
    return async_mock_service(hass, "test", "notify")


def _alert(type_: str, severity: str | None, previous: str | None, **data: Any) -> Any:
    return {
        "type": type_,
        "alert_id": "response_time:agent_conversation.home_assistant",
        "rule": "response_time",
        "subject": "agent_conversation.home_assistant",
        "item": "",
        "name": "Home Assistant",
        "severity": severity,
        "previous_severity": previous,
        "value": 7.5,
        "threshold": 6.0,
        "unit": "s",
        **data,
    }


async def _fire(hass: HomeAssistant, data: dict[str, Any]) -> None:
    hass.bus.async_fire(EVENT_ALERT, data)
    await hass.async_block_till_done()


def _texts(calls: list[ServiceCall]) -> list[tuple[str, str]]:
    return [(c.data["title"], c.data["message"]) for c in calls]


async def test_a_real_gpu_alert_notifies_with_its_figures(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    gpu: FakeGpu,
    notified: list[ServiceCall],
) -> None:
    await use_blueprint(hass, "notify_on_alert.yaml", actions=NOTIFY)
    await setup_integration(hass, watching(RuleKey.GPU_TEMPERATURE))

    await overheat(hass, freezer, gpu, minutes=2)

    assert _texts(notified) == [
        (
            "Critical: NVIDIA GeForce RTX 4090",
            "GPU temperature is 95 °C (threshold 90.0 °C).",
        )
    ]


async def test_severity_rules_and_step_downs_filter(
    hass: HomeAssistant, notified: list[ServiceCall]
) -> None:
    await use_blueprint(
        hass,
        "notify_on_alert.yaml",
        min_severity="critical",
        rules=["response_time", "vram"],
        cooldown={"seconds": 0},
        actions=NOTIFY,
    )

    await _fire(hass, _alert("alert_raised", "warning", None))
    await _fire(hass, _alert("alert_raised", "critical", None, rule="error_rate"))
    assert notified == []

    await _fire(hass, _alert("alert_raised", "critical", "warning"))  # escalated
    await _fire(hass, _alert("alert_raised", "warning", "critical"))  # stepped down
    await _fire(hass, _alert("alert_cleared", None, "warning"))  # clearing is off

    assert _texts(notified) == [
        ("Critical: Home Assistant", "Response time is 7.5 s (threshold 6.0 s).")
    ]


async def test_clearing_notifies_when_asked(
    hass: HomeAssistant, notified: list[ServiceCall]
) -> None:
    await use_blueprint(
        hass,
        "notify_on_alert.yaml",
        notify_cleared=True,
        cooldown={"seconds": 0},
        actions=NOTIFY,
    )

    await _fire(hass, _alert("alert_raised", "critical", None, unit=None))
    await _fire(hass, _alert("alert_cleared", None, "critical"))

    assert _texts(notified) == [
        ("Critical: Home Assistant", "Response time is 7.5 (threshold 6.0)."),
        ("Cleared: Home Assistant", "Response time is back to normal."),
    ]


async def test_the_cooldown_holds_back_a_second_notification(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, notified: list[ServiceCall]
) -> None:
    await use_blueprint(
        hass, "notify_on_alert.yaml", cooldown={"minutes": 30}, actions=NOTIFY
    )

    await _fire(hass, _alert("alert_raised", "warning", None))
    await advance(hass, freezer, 10)
    await _fire(hass, _alert("alert_raised", "critical", None, rule="vram"))
    assert len(notified) == 1

    await advance(hass, freezer, 21)
    await _fire(hass, _alert("alert_raised", "critical", None, rule="vram"))
    assert len(notified) == 2
    assert notified[1].data["message"].startswith("GPU memory is 7.5")
