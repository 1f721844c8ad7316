"""Print the Python requirements Home Assistant would install at start-up for a configuration.

Run with the develop venv's python: it reads the installed Home Assistant's own start-up sets and
the manifests of every integration they pull in (dependencies, recursively), so that
./scripts/develop can install them up front instead of Home Assistant doing it on the first start.
Usage: python ha_requirements.py DOMAIN...   (the domains named in configuration.yaml)
       python ha_requirements.py --only DOMAIN...   (those domains and their dependencies only,
       for the test venvs: the tests run real conversation and Assist pipeline components)
"""

import json
from pathlib import Path
import sys
from typing import Any

from homeassistant import bootstrap
import homeassistant.components

COMPONENTS = Path(homeassistant.components.__path__[0])


def manifest(domain: str) -> dict[str, Any]:
    """Return the manifest of a core integration (empty for a custom one)."""
    path = COMPONENTS / domain / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def main(configured: list[str], *, only: bool = False) -> None:
    """Print every requirement of the start-up integrations and their dependencies."""
    pending = (
        configured
        if only
        else [
            *configured,
            *bootstrap.CORE_INTEGRATIONS,
            *bootstrap.DEFAULT_INTEGRATIONS,
            *bootstrap.LOGGING_AND_HTTP_DEPS_INTEGRATIONS,
            *bootstrap.FRONTEND_INTEGRATIONS,
            *bootstrap.STAGE_1_INTEGRATIONS,
            *bootstrap.DISCOVERY_INTEGRATIONS,
        ]
    )
    seen: set[str] = set()
    requirements: set[str] = set()
    while pending:
        domain = pending.pop()
        if domain in seen:
            continue
        seen.add(domain)
        info = manifest(domain)
        requirements.update(info.get("requirements", []))
        pending.extend(info.get("dependencies", []))
    print("\n".join(sorted(requirements)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--only"]:
        main(sys.argv[2:], only=True)
    else:
        main(sys.argv[1:])
