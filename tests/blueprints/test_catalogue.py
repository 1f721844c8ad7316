"""Every shipped blueprint is valid for Home Assistant and can be imported from the README."""

from pathlib import Path
from typing import Any
from urllib.parse import quote

from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from .helpers import BLUEPRINTS, use_blueprint

REPOSITORY = "https://github.com/ai-performance-monitor/ha-ai-performance"
README = Path(__file__).parent.parent.parent / "README.md"
NAMES = sorted(path.name for path in BLUEPRINTS.glob("*.yaml"))


def test_the_catalogue() -> None:
    assert NAMES == [
        "daily_performance_report.yaml",
        "host_resource_high.yaml",
        "notify_on_alert.yaml",
        "preload_model_before_usual_hours.yaml",
        "unload_idle_models_on_vram_pressure.yaml",
    ]


async def test_every_blueprint_loads_without_errors(hass: HomeAssistant) -> None:
    await hass.async_add_executor_job(
        lambda: _copy(Path(hass.config.path("blueprints", "automation")))
    )
    assert await async_setup_component(hass, "automation", {})
    found = await async_get_blueprints(hass).async_get_blueprints()

    loaded = {path: item for path, item in found.items() if path.startswith("ai_")}
    assert sorted(loaded) == [f"ai_performance/{name}" for name in NAMES]
    for path, item in loaded.items():
        assert isinstance(item, Blueprint), f"{path}: {item}"
        assert item.metadata["source_url"] == (
            f"{REPOSITORY}/blob/main/blueprints/automation/{path}"
        )
        assert item.name.startswith("AI Performance \N{EN DASH} ")


@pytest.mark.parametrize("name", NAMES)
def test_the_readme_offers_the_import_redirect(name: str) -> None:
    source = f"{REPOSITORY}/blob/main/blueprints/automation/ai_performance/{name}"
    redirect = "https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url="
    assert redirect + quote(source, safe="") in README.read_text(encoding="utf-8")


def _copy(target: Path) -> None:
    folder = target / "ai_performance"
    folder.mkdir(parents=True, exist_ok=True)
    for path in BLUEPRINTS.glob("*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())


@pytest.mark.parametrize(
    ("name", "required"),
    [
        (
            "host_resource_high.yaml",
            {"sensor": "sensor.host_cpu_usage", "actions": []},
        ),
        ("notify_on_alert.yaml", {}),
        ("unload_idle_models_on_vram_pressure.yaml", {"vram_sensor": "sensor.vram"}),
        ("daily_performance_report.yaml", {}),
        ("preload_model_before_usual_hours.yaml", {"model": "qwen3:8b"}),
    ],
)
async def test_the_defaults_make_a_valid_automation(
    hass: HomeAssistant, name: str, required: dict[str, Any]
) -> None:
    await use_blueprint(hass, name, **required)
