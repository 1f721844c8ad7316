"""hassfest's and the HACS action's checks, on our files and on broken examples (so each can fail)."""

from importlib import import_module
import json
from pathlib import Path
import re
import struct
import tomllib
from typing import Any

import homeassistant
from homeassistant.components.sensor import SensorEntityDescription
from homeassistant.const import __version__ as ha_version
from homeassistant.helpers.entity import EntityDescription
from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.ai_performance import PLATFORMS
from custom_components.ai_performance.alert_entities import (
    ACTIVE_ALERTS,
    ALERT_BINARY_SENSORS,
    ALERT_EVENTS,
    CONFIG_DISK_ALERT,
    HEALTH,
)
from custom_components.ai_performance.alert_rules import RuleKey
from custom_components.ai_performance.alerts import SUBJECT_NAME_KEYS
from custom_components.ai_performance.collectors.host import HostSample
from custom_components.ai_performance.collectors.servers.client import ServerCause
from custom_components.ai_performance.collectors.servers.prometheus import PRESETS
from custom_components.ai_performance.config_flow import (
    ANSWER_CODE_ERRORS,
    LEVEL_ERRORS,
    SLA_AGENT_ERRORS,
)
from custom_components.ai_performance.const import (
    DOMAIN,
    SOURCE_GPU,
    SOURCE_HOST,
    SOURCE_REQUESTS,
)
from custom_components.ai_performance.dashboard_entities import CREATE_DASHBOARD
from custom_components.ai_performance.engine.alerts import ThresholdProblem
from custom_components.ai_performance.engine.cost import PriceProblem
from custom_components.ai_performance.entity import (
    TRANSLATED_DEVICE_NAMES,
    host_device_info,
    overview_device_info,
)
from custom_components.ai_performance.optimizer_entities import (
    BENCHMARK,
    EFFECTIVENESS,
    OPTIMIZE,
    RUN_BENCHMARK,
)
from custom_components.ai_performance.request_sensors import (
    REQUEST_SENSORS,
    SLA_SENSORS,
)
from custom_components.ai_performance.sensor import (
    host_sensor_descriptions,
    monthly_budget_used,
)
from custom_components.ai_performance.server_entities import (
    LOADED,
    METRICS_SENSORS,
    MODEL_DEVICE,
    MODEL_SENSORS,
    OLLAMA_SENSORS,
    PROBE_DEVICE,
    REACHABLE,
    SERVED_MODELS,
    USER_QUERY,
)
from custom_components.ai_performance.server_flow import (
    COMMON_ERRORS,
    SERVER_SUBENTRY_FLOWS,
)
from custom_components.ai_performance.trend_entities import FULL_IN, LATENCY_ANOMALY

from .metadata_checks import (
    check_hacs,
    check_licence,
    check_manifest,
    check_quality_scale,
    check_requirement_pins,
    compare_translation_keys,
    parse_pins,
    source_files,
    translation_keys_defined,
    translation_keys_in_source,
)

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / DOMAIN
HA_PACKAGE = Path(homeassistant.__file__).parent


def _tested_ha_versions() -> tuple[str, ...]:
    """Read the releases scripts/test runs against from the one place that names them."""
    script = (ROOT / "scripts" / "lib" / "common.sh").read_text(encoding="utf-8")
    return tuple(re.findall(r"^HA_(?:PINNED|CURRENT)=(\S+)$", script, re.MULTILINE))


# The Home Assistant releases the suite runs against; hacs.json may not ask for more.
TESTED_HA_VERSIONS = _tested_ha_versions()


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


MANIFEST = _json(PACKAGE / "manifest.json")
STRINGS = _json(PACKAGE / "translations" / "en.json")
ICONS = _json(PACKAGE / "icons.json")


def _entity_descriptions() -> dict[str, list[EntityDescription]]:
    """Every entity description, by platform, as the platform modules declare them."""
    found: dict[str, list[EntityDescription]] = {}
    for platform in PLATFORMS:
        module = import_module(f"custom_components.{DOMAIN}.{platform.value}")
        for value in vars(module).values():
            if (
                isinstance(value, tuple)
                and value
                and isinstance(value[0], EntityDescription)
            ):
                found.setdefault(platform.value, []).extend(value)
    found["sensor"].extend(REQUEST_SENSORS)
    found["sensor"].extend(
        (*OLLAMA_SENSORS, *MODEL_SENSORS, *METRICS_SENSORS, SERVED_MODELS)
    )
    found["sensor"].extend(
        SensorEntityDescription(key=q.key, translation_key=q.translation_key)
        for queries in PRESETS.values()
        for q in queries
    )
    found["sensor"].append(
        SensorEntityDescription(key="query_mine", translation_key=USER_QUERY)
    )
    found.setdefault("binary_sensor", []).extend((REACHABLE, LOADED))
    found["binary_sensor"].extend((*ALERT_BINARY_SENSORS.values(), CONFIG_DISK_ALERT))
    found["sensor"].extend((HEALTH, ACTIVE_ALERTS, *FULL_IN.values()))
    found["binary_sensor"].append(LATENCY_ANOMALY)
    found["sensor"].extend((BENCHMARK, EFFECTIVENESS))
    found.setdefault("button", []).extend((RUN_BENCHMARK, OPTIMIZE, CREATE_DASHBOARD))
    found.setdefault("event", []).append(ALERT_EVENTS)
    found["sensor"].append(monthly_budget_used(100.0))  # made only when a budget is set
    # Host sensors made per CPU core and per disk, as a machine with one core and two disks has.
    found["sensor"].extend(
        host_sensor_descriptions(
            HostSample(cpu_core_percent=(0.0,)), ("/config", "/mnt")
        )
    )
    return found


def _used_translation_keys() -> set[str]:
    used = set()
    for path in source_files(PACKAGE):
        used |= translation_keys_in_source(path.read_text(encoding="utf-8"))
    for platform, descriptions in _entity_descriptions().items():
        for description in descriptions:
            used.add(f"entity.{platform}.{description.translation_key}")
    for device in (overview_device_info("entry"), host_device_info("entry")):
        used.add(f"device.{device['translation_key']}")
    used.update(f"device.{key}" for key in TRANSLATED_DEVICE_NAMES.values())
    used.update((f"device.{MODEL_DEVICE}", f"device.{PROBE_DEVICE}"))
    used.update(f"common.{key}" for key in SUBJECT_NAME_KEYS.values())
    # The options flow names a refused price table's problem by its PriceProblem value.
    used.update(f"options.error.{problem.value}" for problem in PriceProblem)
    # Alert thresholds refused in the options, and the issue of each rule critical for too long.
    used.update(f"options.error.{problem.value}" for problem in ThresholdProblem)
    used.update(f"issues.alert_{rule}" for rule in RuleKey)
    used.update(f"options.error.{error}" for error in SLA_AGENT_ERRORS)
    used.update(f"options.error.{error}" for error in LEVEL_ERRORS)
    used.update(f"options.error.{error}" for error in ANSWER_CODE_ERRORS)
    # Why a server was not reached, in words (a placeholder of flow errors, repairs, actions).
    used.update(f"exceptions.{cause.value}" for cause in ServerCause)
    # Each source in words, in the issue of a source failing for too long.
    used.update(
        f"exceptions.source_{source}"
        for source in (SOURCE_HOST, SOURCE_GPU, SOURCE_REQUESTS)
    )
    found_sla = {f"entity.sensor.{spec.key}" for spec in SLA_SENSORS}
    assert found_sla <= used  # the SLA sensors are among the request sensors
    used |= _subentry_translation_keys()
    return used


def _subentry_translation_keys() -> set[str]:
    """The steps, errors and abort of each model server's subentry flow."""
    keys = set()
    for kind, flow in SERVER_SUBENTRY_FLOWS.items():
        section = f"config_subentries.{kind}"
        for step in ("user", "reconfigure"):
            keys |= {f"{section}.step.{step}", f"{section}.initiate_flow.{step}"}
        # Steps beyond the first (an AI host's two ways of being read).
        keys |= {f"{section}.step.{step}" for step in flow.extra_steps}
        keys |= {f"{section}.error.{e}" for e in COMMON_ERRORS | flow.own_errors}
        keys.add(f"{section}.abort.already_configured")
    return keys


# --- our files ---------------------------------------------------------------------------------


def test_manifest_passes_hassfest_and_hacs_rules() -> None:
    assert check_manifest(MANIFEST, PACKAGE.name) == []
    assert MANIFEST["domain"] == DOMAIN


def test_requirements_agree_with_home_assistant_pins() -> None:
    constraints = parse_pins(
        (HA_PACKAGE / "package_constraints.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    # Core's systemmonitor pins psutil; the same process cannot hold two versions.
    systemmonitor = _json(HA_PACKAGE / "components" / "systemmonitor" / "manifest.json")
    constraints |= parse_pins(systemmonitor["requirements"])

    assert check_requirement_pins(MANIFEST["requirements"], constraints) == []
    assert "psutil" in constraints  # the check above compared against something real


def test_manifest_dependencies_exist_in_home_assistant() -> None:
    for name in MANIFEST.get("dependencies", []) + MANIFEST.get(
        "after_dependencies", []
    ):
        assert (HA_PACKAGE / "components" / name / "manifest.json").is_file(), name


def test_hacs_json_passes_the_hacs_action_rules() -> None:
    assert check_hacs(_json(ROOT / "hacs.json"), TESTED_HA_VERSIONS) == []
    assert len(TESTED_HA_VERSIONS) == 2
    assert ha_version in TESTED_HA_VERSIONS


def test_the_repository_carries_the_licence_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    licence = ROOT / "LICENSE"
    text = licence.read_text(encoding="utf-8") if licence.is_file() else None

    assert check_licence(text, project["project"]) == []
    assert project["project"]["license"] == "MIT"


def test_licence_check_finds_problems() -> None:
    assert check_licence(None, {"license": "MIT"}) == [
        "no LICENSE file: GitHub shows no licence and HACS's check fails"
    ]
    assert check_licence(
        "All rights reserved\n",
        {"license": "mit or nonsense(", "classifiers": ["License :: OSI Approved"]},
    ) == [
        "LICENSE starts 'All rights reserved', not a known licence",
        "pyproject license 'mit or nonsense(' is not an SPDX expression",
        "pyproject license-files does not name LICENSE",
        "classifier 'License :: OSI Approved' duplicates the license expression (PEP 639)",
    ]
    assert check_licence(
        "MIT License\n", {"license": "Apache-2.0", "license-files": ["LICENSE"]}
    ) == ["pyproject license 'Apache-2.0' != LICENSE's 'MIT'"]


def test_every_translation_key_used_exists_and_none_is_orphaned() -> None:
    used = _used_translation_keys()

    assert compare_translation_keys(used, translation_keys_defined(STRINGS)) == []
    assert "config.step.user" in used  # the scan found the flow, so it really looked


def test_icons_match_the_entities() -> None:
    for platform, descriptions in _entity_descriptions().items():
        keys = {d.translation_key for d in descriptions}
        icons = set(ICONS.get("entity", {}).get(platform, {}))
        assert icons <= keys, f"icons for unknown {platform} entities: {icons - keys}"
        # An entity without a device class has no icon from Home Assistant: it needs ours.
        need_icon = {d.translation_key for d in descriptions if d.device_class is None}
        assert need_icon <= icons, (
            f"{platform} entities without icon: {need_icon - icons}"
        )


def test_services_match_translations_and_icons() -> None:
    services_file = PACKAGE / "services.yaml"
    services = set(load_yaml_dict(services_file)) if services_file.exists() else set()

    assert set(STRINGS.get("services", {})) == services
    assert set(ICONS.get("services", {})) == services
    for service in services:
        assert STRINGS["services"][service].get("name"), service
        assert STRINGS["services"][service].get("description"), service


def test_quality_scale_is_complete_and_explained() -> None:
    rules = load_yaml_dict(PACKAGE / "quality_scale.yaml")["rules"]
    assert check_quality_scale(rules) == []


@pytest.mark.parametrize(
    ("name", "size"),
    [("icon.png", 256), ("icon@2x.png", 512), ("logo.png", 256), ("logo@2x.png", 512)],
)
def test_brand_images_are_pngs_of_their_size(name: str, size: int) -> None:
    data = (PACKAGE / "brand" / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (size, size)


# --- the checks can fail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"unknown": 1}, "unknown key 'unknown'"),
        ({"version": None}, "is not a valid version"),
        ({"iot_class": "telepathy"}, "invalid iot_class"),
        ({"domain": "other"}, "!= folder"),
        ({"requirements": ["psutil>=7"]}, "not pinned"),
        ({"documentation": "https://www.home-assistant.io/x"}, "home-assistant.io"),
        ({"codeowners": []}, "codeowners"),
    ],
)
def test_manifest_check_finds_problems(change: dict[str, Any], problem: str) -> None:
    manifest = {**MANIFEST, **change}
    assert any(problem in p for p in check_manifest(manifest, PACKAGE.name))


def test_manifest_check_finds_missing_keys_and_wrong_order() -> None:
    manifest = {k: v for k, v in reversed(MANIFEST.items()) if k != "issue_tracker"}
    problems = check_manifest(manifest, PACKAGE.name)
    assert "missing key 'issue_tracker'" in problems
    assert "keys must be domain, name, then the rest in alphabetical order" in problems


def test_pin_check_finds_a_conflict() -> None:
    problems = check_requirement_pins(["NumPy==1.0"], parse_pins(["numpy==2.3.2"]))
    assert problems == ["NumPy==1.0 conflicts with Home Assistant's pin 2.3.2"]


def test_hacs_check_finds_problems() -> None:
    problems = check_hacs(
        {
            "name": "",
            "iot_class": "x",
            "zip_release": True,
            "homeassistant": "2099.1.0",
        },
        TESTED_HA_VERSIONS,
    )
    assert problems == [
        "unknown key 'iot_class'",
        "name is required",
        "zip_release needs filename",
        "minimum Home Assistant 2099.1.0 is newer than tested 2026.10.4",
        "minimum Home Assistant 2099.1.0 is newer than tested 2026.11.0",
    ]


def test_translation_scan_finds_every_kind_of_key() -> None:
    source = """
errors["base"] = "cannot_connect"
self._abort_if_unique_id_configured()
return self.async_abort(reason="no_servers")
return self.async_show_form(step_id="reconfigure")
raise ServiceValidationError(translation_domain=DOMAIN, translation_key="bad_entry")
raise UpdateFailed(translation_domain=DOMAIN, translation_key="update_failed")
ir.async_create_issue(hass, DOMAIN, "x", translation_key="source_failing")
something_else(translation_key="ignored")
"""
    assert translation_keys_in_source(source) == {
        "config.error.cannot_connect",
        "config.abort.already_configured",
        "config.abort.no_servers",
        "config.step.reconfigure",
        "exceptions.bad_entry",
        "exceptions.update_failed",
        "issues.source_failing",
    }


def test_translation_comparison_finds_missing_and_orphaned_keys() -> None:
    strings = {
        "entity": {"sensor": {"cpu_usage": {"name": "CPU"}}},
        "exceptions": {"old": {}},
    }
    problems = compare_translation_keys(
        {"entity.sensor.cpu_usage", "exceptions.new"}, translation_keys_defined(strings)
    )
    assert problems == [
        "missing in en.json: exceptions.new",
        "orphan in en.json: exceptions.old",
    ]


def test_quality_scale_check_finds_problems() -> None:
    problems = check_quality_scale(
        {"brands": "done", "diagnostics": {"status": "todo"}, "made-up": "done"}
    )
    assert "missing rule appropriate-polling" in problems
    assert "unknown rule made-up" in problems
    assert "diagnostics: todo needs a comment that says why" in problems


def test_every_repair_issue_has_a_troubleshooting_section() -> None:
    troubleshooting = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    sections = set(
        re.findall(r"^## .*\(`([a-z_<>]+)`\)$", troubleshooting, re.MULTILINE)
    )
    issues = {
        "alert_<rule>" if key.startswith("alert_") else key for key in STRINGS["issues"]
    }

    assert issues == sections


def test_every_action_has_a_section_in_the_actions_reference() -> None:
    reference = (ROOT / "docs" / "actions.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## .*\(`([a-z_]+)`\)$", reference, re.MULTILINE))

    assert sections == set(STRINGS["services"])


def test_every_entity_is_in_the_metrics_reference() -> None:
    metrics = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    reference = metrics.split("## Entity reference", 1)[1]
    listed = set(re.findall(r"^\| `([a-z0-9_]+)` \|", reference, re.MULTILINE))
    keys = {key for entities in STRINGS["entity"].values() for key in entities}

    assert listed == keys


def test_the_engine_does_not_import_home_assistant() -> None:
    """engine/ is pure: figures on plain data (docs/adr/0002)."""
    found = [
        f"{path.name}:{number}"
        for path in sorted((PACKAGE / "engine").glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"\s*(from|import)\s+homeassistant\b", line)
    ]

    assert found == []
