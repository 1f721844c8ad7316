"""Put a ./scripts/develop instance's HTTP settings where Home Assistant keeps confirmed ones.

Home Assistant 2026.10 and later keep the HTTP settings in ``.storage/http``: a confirmed (stable)
slot and an unconfirmed (pending) one. The ``http:`` section of configuration.yaml is moved into
the pending slot on the first start and tried there: unless someone confirms it in the frontend
within five minutes, Home Assistant restarts on the stable slot, whose default listens on every
interface at 8123. Written into the stable slot before the start, the settings need no
confirmation: no trial, no restart, no deprecated-YAML repair, and the instance listens on
127.0.0.1:PORT only from its first second.

The other settings of an existing store (SSL, proxies, CORS) are kept; a pending slot is dropped.
Run with the Home Assistant that will start, so the store has its schema and storage version.

Usage: python http_settings.py CONFIG_DIR PORT
"""

import json
import os
from pathlib import Path
import sys
from typing import Any

from homeassistant.components.http import config as http
from homeassistant.components.http.const import CONF_SERVER_HOST, CONF_SERVER_PORT
from homeassistant.util import dt as dt_util
import probatio

LOOPBACK = ["127.0.0.1"]
# What the store records about a slot, beside its settings: rewritten, never validated.
BOOKKEEPING = (
    http.HTTP_CONFIG_CREATED_AT,
    http.HTTP_CONFIG_ERROR,
    http.HTTP_CONFIG_ERROR_MESSAGE,
)
# Written next to the result, then renamed over it: Home Assistant never reads half a file.
PARTIAL_SUFFIX = ".partial"


def store_content(stored: dict[str, Any] | None, port: int) -> dict[str, Any]:
    """Return the store file: the confirmed slot on loopback and ``port``, nothing on trial."""
    previous: dict[str, Any] = {}
    if stored and (stored.get("version"), stored.get("minor_version")) == (
        http.STORAGE_VERSION,
        http.STORAGE_MINOR_VERSION,
    ):
        previous = stored["data"][http.KEY_STABLE]
    kept = {k: v for k, v in previous.items() if k not in BOOKKEEPING}
    wanted = {CONF_SERVER_HOST: LOOPBACK, CONF_SERVER_PORT: port}
    try:
        stable = http.HTTP_STORAGE_SCHEMA({**kept, **wanted})
    except probatio.Invalid:
        # A setting this release no longer accepts (a certificate that moved): start afresh.
        stable = http.HTTP_STORAGE_SCHEMA(wanted)
    return {
        "version": http.STORAGE_VERSION,
        "minor_version": http.STORAGE_MINOR_VERSION,
        "key": http.STORAGE_KEY,
        "data": {
            http.KEY_STABLE: {
                **stable,
                http.HTTP_CONFIG_CREATED_AT: previous.get(
                    http.HTTP_CONFIG_CREATED_AT, dt_util.utcnow().isoformat()
                ),
                http.HTTP_CONFIG_ERROR: None,
                http.HTTP_CONFIG_ERROR_MESSAGE: None,
            },
            http.KEY_PENDING: None,
            # The YAML is not read again: an http: section left in it only raises a repair.
            http.KEY_YAML_MIGRATION_DONE: True,
        },
    }


def write(config_dir: Path, port: int) -> Path:
    """Write the store into ``config_dir``/.storage; return its path."""
    path = config_dir / ".storage" / http.STORAGE_KEY
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    # Home Assistant keeps this store private (owner only), as it holds certificate paths.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(store_content(stored, port), file, indent=2)
    partial.replace(path)
    return path


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]))
