"""The checks hassfest and the HACS action would make, as plain functions that return problems.

Neither tool runs here, so tests/test_metadata.py runs these on the integration, and also on broken
examples, to prove that each check can fail. Every function returns a list of problems (empty = ok).
"""

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

# hassfest's CUSTOM_INTEGRATION_MANIFEST_SCHEMA (script/hassfest/manifest.py): unknown keys are errors.
MANIFEST_ALLOWED_KEYS = frozenset(
    {
        "domain",
        "name",
        "after_dependencies",
        "bluetooth",
        "codeowners",
        "config_flow",
        "dependencies",
        "dhcp",
        "disabled",
        "documentation",
        "homekit",
        "import_executor",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "loggers",
        "mqtt",
        "quality_scale",
        "requirements",
        "single_config_entry",
        "ssdp",
        "usb",
        "version",
        "zeroconf",
    }
)
# hassfest requires these of a custom integration, and HACS adds issue_tracker and version.
MANIFEST_REQUIRED_KEYS = frozenset(
    {"domain", "name", "codeowners", "documentation", "issue_tracker", "version"}
)
IOT_CLASSES = frozenset(
    {
        "assumed_state",
        "calculated",
        "cloud_polling",
        "cloud_push",
        "local_polling",
        "local_push",
    }
)
INTEGRATION_TYPES = frozenset(
    {"device", "entity", "hardware", "helper", "hub", "service", "system", "virtual"}
)
# HACS's HACS_MANIFEST_JSON_SCHEMA (custom_components/hacs/utils/validate.py), PREVENT_EXTRA.
HACS_ALLOWED_KEYS = frozenset(
    {
        "name",
        "content_in_root",
        "country",
        "filename",
        "hacs",
        "hide_default_branch",
        "homeassistant",
        "persistent_directory",
        "render_readme",
        "zip_release",
    }
)
# The version strategies Home Assistant's loader accepts for a custom integration.
VERSION_STRATEGIES = [
    AwesomeVersionStrategy.CALVER,
    AwesomeVersionStrategy.SEMVER,
    AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER,
    AwesomeVersionStrategy.PEP440,
]
# Every rule of the Integration Quality Scale, bronze to platinum (script/hassfest/quality_scale.py).
QUALITY_SCALE_RULES = frozenset(
    {
        # bronze
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
        # silver
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
        # gold
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
        # platinum
        "async-dependency",
        "inject-websession",
        "strict-typing",
    }
)


def check_manifest(manifest: Mapping[str, Any], folder_name: str) -> list[str]:
    """Return what hassfest or HACS would reject in manifest.json."""
    problems = [
        f"unknown key {k!r}" for k in manifest if k not in MANIFEST_ALLOWED_KEYS
    ]
    problems += [
        f"missing key {k!r}" for k in sorted(MANIFEST_REQUIRED_KEYS - manifest.keys())
    ]
    keys = list(manifest)
    if keys[:2] != ["domain", "name"] or keys[2:] != sorted(keys[2:]):
        problems.append(
            "keys must be domain, name, then the rest in alphabetical order"
        )
    if manifest.get("domain") != folder_name:
        problems.append(f"domain {manifest.get('domain')!r} != folder {folder_name!r}")
    if manifest.get("iot_class") not in IOT_CLASSES:
        problems.append(f"invalid iot_class {manifest.get('iot_class')!r}")
    if manifest.get("integration_type", "hub") not in INTEGRATION_TYPES:
        problems.append(f"invalid integration_type {manifest['integration_type']!r}")
    for key in ("documentation", "issue_tracker"):
        if not str(manifest.get(key, "")).startswith("https://"):
            problems.append(f"{key} must be an https URL")
    if str(manifest.get("documentation", "")).startswith(
        "https://www.home-assistant.io"
    ):
        problems.append(
            "a custom integration's documentation is not on home-assistant.io"
        )
    if not manifest.get("codeowners") or not all(
        str(c).startswith("@") for c in manifest.get("codeowners", [])
    ):
        problems.append("codeowners must be a non-empty list of @handles")
    try:
        AwesomeVersion(str(manifest.get("version")), ensure_strategy=VERSION_STRATEGIES)
    except Exception:  # noqa: BLE001 - any failure to parse is the finding
        problems.append(f"version {manifest.get('version')!r} is not a valid version")
    problems += [
        f"requirement {r!r} is not pinned with =="
        for r in manifest.get("requirements", [])
        if "==" not in r
    ]
    return problems


def check_requirement_pins(
    requirements: Iterable[str], constraints: Mapping[str, str]
) -> list[str]:
    """Return requirements that Home Assistant pins to another version (it would refuse them)."""
    problems = []
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        pinned = constraints.get(_normalise(name))
        if pinned is not None and pinned != version:
            problems.append(
                f"{requirement} conflicts with Home Assistant's pin {pinned}"
            )
    return problems


def parse_pins(lines: Iterable[str]) -> dict[str, str]:
    """Read ``name==version`` pins (package_constraints.txt, manifest requirements)."""
    pins = {}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", maxsplit=1)[0]).lower()


def check_hacs(hacs: Mapping[str, Any], tested_versions: Iterable[str]) -> list[str]:
    """Return what the HACS action would reject in hacs.json."""
    problems = [f"unknown key {k!r}" for k in hacs if k not in HACS_ALLOWED_KEYS]
    if not isinstance(hacs.get("name"), str) or not hacs["name"]:
        problems.append("name is required")
    if hacs.get("zip_release") and "filename" not in hacs:
        problems.append("zip_release needs filename")
    minimum = hacs.get("homeassistant")
    if minimum is not None:
        problems += [
            f"minimum Home Assistant {minimum} is newer than tested {tested}"
            for tested in tested_versions
            if AwesomeVersion(minimum) > AwesomeVersion(tested)
        ]
    return problems


# The first line of each licence text GitHub's detection (licensee) recognises, by SPDX id: the
# licences the repository may carry. HACS's "license" check asks GitHub for the repository's licence.
LICENCE_TITLES = {"MIT License": "MIT", "Apache License": "Apache-2.0"}


def check_licence(licence_text: str | None, project: Mapping[str, Any]) -> list[str]:
    """Return what keeps GitHub (and so HACS) from seeing a licence, or pyproject from naming it."""
    if licence_text is None:
        return ["no LICENSE file: GitHub shows no licence and HACS's check fails"]
    title = licence_text.lstrip().partition("\n")[0].strip()
    spdx = LICENCE_TITLES.get(title)
    problems = [] if spdx else [f"LICENSE starts {title!r}, not a known licence"]
    declared = project.get("license")
    try:
        canonical = canonicalize_license_expression(str(declared))
    except InvalidLicenseExpression:
        problems.append(f"pyproject license {declared!r} is not an SPDX expression")
    else:
        if canonical != declared or (spdx and canonical != spdx):
            problems.append(f"pyproject license {declared!r} != LICENSE's {spdx!r}")
    if "LICENSE" not in project.get("license-files", []):
        problems.append("pyproject license-files does not name LICENSE")
    problems += [
        f"classifier {c!r} duplicates the license expression (PEP 639)"
        for c in project.get("classifiers", [])
        if c.startswith("License ::")
    ]
    return problems


def check_quality_scale(rules: Mapping[str, Any]) -> list[str]:
    """Return problems of quality_scale.yaml: every rule, a known status, todo/exempt explained."""
    problems = [f"missing rule {r}" for r in sorted(QUALITY_SCALE_RULES - rules.keys())]
    problems += [
        f"unknown rule {r}" for r in sorted(rules.keys() - QUALITY_SCALE_RULES)
    ]
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value.get("status")
        if status not in {"done", "todo", "exempt"}:
            problems.append(f"{rule}: unknown status {status!r}")
        elif status != "done" and not (
            isinstance(value, Mapping) and value.get("comment")
        ):
            problems.append(f"{rule}: {status} needs a comment that says why")
    return problems


# --- translation keys used in code ------------------------------------------------------------


def translation_keys_in_source(source: str) -> set[str]:
    """Return the en.json paths that Python source refers to with literal keys.

    Recognised: translated exceptions (``translation_key=`` on a call whose name ends in Error,
    Failed, NotReady or Exception), repair issues (``async_create_issue``), config flow errors
    (``errors["base"] = "..."``), aborts (``async_abort(reason=...)`` and
    ``_abort_if_unique_id_configured``) and form steps (``async_show_form(step_id=...)``).
    Entities and devices are read from the entity descriptions at run time instead.
    """
    tree = ast.parse(source)
    # Steps, errors and aborts of an options flow live under "options", the others under "config".
    # Subentry flows name their keys through constants, and repair flows' keys live under their
    # issue's: tests list them from the flow classes.
    in_subentry_flow = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            "SubentryFlow" in ast.unparse(base) or "RepairsFlow" in ast.unparse(base)
            for base in node.bases
        )
        for inner in ast.walk(node)
    }
    in_options_flow = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any("OptionsFlow" in ast.unparse(base) for base in node.bases)
        for inner in ast.walk(node)
    }
    keys: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in in_subentry_flow:
            continue
        flow = "options" if id(node) in in_options_flow else "config"
        if isinstance(node, ast.Call):
            keys |= _keys_of_call(node, flow)
        elif isinstance(node, ast.Assign):
            keys |= _keys_of_error_assignment(node, flow)
    return keys


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _literal_keyword(call: ast.Call, name: str) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return None


# Calls whose literal keyword names an en.json entry: call name -> (keyword, section); {flow} is
# "config" or "options".
_KEYWORD_CALLS = {
    "async_abort": ("reason", "{flow}.abort"),
    "async_show_form": ("step_id", "{flow}.step"),
    "async_show_menu": ("step_id", "{flow}.step"),
    "async_create_issue": ("translation_key", "issues"),
}


def _keys_of_call(call: ast.Call, flow: str) -> set[str]:
    name = _call_name(call)
    if name == "_abort_if_unique_id_configured":
        return {f"{flow}.abort.already_configured"}
    keyword, section = _KEYWORD_CALLS.get(name, ("translation_key", "exceptions"))
    section = section.format(flow=flow)
    if section == "exceptions" and not name.endswith(
        ("Error", "Failed", "NotReady", "Exception")
    ):
        return set()
    value = _literal_keyword(call, keyword)
    return {f"{section}.{value}"} if value is not None else set()


def _keys_of_error_assignment(node: ast.Assign, flow: str) -> set[str]:
    keys = set()
    for target in node.targets:
        if (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == "errors"
            and isinstance(node.value, ast.Constant)
        ):
            keys.add(f"{flow}.error.{node.value.value}")
    return keys


# The sections of en.json whose every entry must be referred to by the code (no orphans).
_CHECKED_SECTIONS = {
    "common": 1,
    "config.abort": 1,
    "config.error": 1,
    "config.step": 1,
    "options.abort": 1,
    "options.error": 1,
    "options.step": 1,
    "config_subentries": 3,
    "device": 1,
    "entity": 2,
    "exceptions": 1,
    "issues": 1,
}


def translation_keys_defined(strings: Mapping[str, Any]) -> set[str]:
    """Return the paths en.json defines in the sections that code must refer to."""
    keys: set[str] = set()
    for section, depth in _CHECKED_SECTIONS.items():
        node: Any = strings
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        keys |= {f"{section}.{key}" for key in _paths(node, depth)}
    return keys


def _paths(node: Mapping[str, Any], depth: int) -> set[str]:
    if depth == 1:
        return set(node)
    return {
        f"{key}.{rest}"
        for key, child in node.items()
        if isinstance(child, Mapping)
        for rest in _paths(child, depth - 1)
    }


def compare_translation_keys(used: set[str], defined: set[str]) -> list[str]:
    """Return keys used but not in en.json, and keys in en.json nothing uses."""
    return [f"missing in en.json: {k}" for k in sorted(used - defined)] + [
        f"orphan in en.json: {k}" for k in sorted(defined - used)
    ]


def source_files(package: Path) -> list[Path]:
    """Return every Python file of the integration."""
    return sorted(package.rglob("*.py"))
