"""Write the demo's configuration.yaml: develop's, less what cannot start on this machine.

default_config brings go2rtc, which inside a container (Home Assistant's own test, is_docker_env)
insists on the go2rtc binary. Without it, go2rtc fails and default_config with it, and every demo
opened on an "Invalid config" notification. Then default_config is spelled out from its manifest,
without go2rtc (cameras' WebRTC, which the demo has no use for). Anywhere else the file is
develop's, unchanged.

Usage: python demo_configuration.py TEMPLATE OUTPUT   (with the Home Assistant that will start)
"""

import json
from pathlib import Path
import shutil
import sys

from homeassistant.components import default_config
from homeassistant.util.package import is_docker_env

GO2RTC = "go2rtc"
DEFAULT_CONFIG_LINE = f"{default_config.DOMAIN}:\n"


def left_out() -> set[str]:
    """Return the members of default_config that would fail to start here."""
    if is_docker_env() and shutil.which(GO2RTC) is None:
        return {GO2RTC}
    return set()


def configuration(template: str, leave_out: set[str]) -> str:
    """Return ``template`` with default_config replaced by its members less ``leave_out``."""
    if not leave_out:
        return template
    manifest = Path(default_config.__file__).with_name("manifest.json")
    members = json.loads(manifest.read_text(encoding="utf-8"))["dependencies"]
    spelled_out = (
        f"# {default_config.DOMAIN}, without {', '.join(sorted(leave_out))}: it cannot start"
        " on this machine (scripts/lib/demo_configuration.py)\n"
    ) + "".join(f"{member}:\n" for member in members if member not in leave_out)
    if DEFAULT_CONFIG_LINE not in template:
        msg = f"the template has no '{DEFAULT_CONFIG_LINE.strip()}' line to replace"
        raise ValueError(msg)
    return template.replace(DEFAULT_CONFIG_LINE, spelled_out, 1)


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.write_text(
        configuration(source.read_text(encoding="utf-8"), left_out()), encoding="utf-8"
    )
