"""What the dashboard benchmark reads: in the page (unknown cards, cut names) and through the API.

Everything is found the way a user's install has it, whatever the entity ids: the dashboard's
views from its configuration, our requests sensors by their translation key, our devices by our
config entries.
"""

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from benchmarks.ha_client import HomeAssistantClient
from benchmarks.smoke import size

DOMAIN = "ai_performance"
# The dashboard is read once the agent has answered this many requests.
REQUESTS = size(10, 2)
# Counted requests show once a collection has run: the coordinator runs one on request, at most
# one per 10 s, so this covers two.
COUNTED_TIMEOUT_S = 25
UPDATE_COOLDOWN_S = 10.5
# What the demo asks the built-in agent; the benchmark asks the same way to reach REQUESTS in
# seconds (the demo asks every 5 s, too slow for the benchmark's 60 s).
PROMPTS = ("what time is it", "turn on the kitchen lights", "how many lights are on")

# Runs in the page: the labels of the visible cards and rows that read "Unknown" (in the user's
# language) or show an entity whose state is unknown (a tile that hides its state shows none).
UNKNOWN_JS = r"""
const unknown = hass().localize('state.default.unknown');
const escaped = unknown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const word = new RegExp(`(^|[^\\p{L}])${escaped}([^\\p{L}]|$)`, 'u');
return items().filter((item) => {
  const config = item._config || item.config || {};
  const state = config.entity && !config.hide_state && hass().states[config.entity];
  return word.test(text(item)) || (state && state.state === 'unknown');
}).map(label);
"""

# Runs in the page: the name of each visible card or row whose name is cut short (an ellipsis or
# a clamped line); state texts do not count.
CUT_JS = """
const cut = [];
for (const item of items()) {
  const names = deep(item.shadowRoot || item).filter((el) => {
    if (!shown(el) || within(el, 'STATE-DISPLAY') || el.querySelector('state-display')) {
      return false;
    }
    const style = getComputedStyle(el);
    const wide = style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1;
    const tall = style.webkitLineClamp !== 'none' && el.scrollHeight > el.clientHeight + 1;
    return (wide || tall) && text(el);
  });
  if (names.length) cut.push(text(names[0]));
}
return cut;
"""


async def views(client: HomeAssistantClient, dashboard: str) -> list[tuple[str, str]]:
    """Return (path, title) of each view of the dashboard at URL ``dashboard``."""
    url_path = urlsplit(dashboard).path.strip("/")
    config = await client.command("lovelace/config", url_path=url_path)
    return [
        (str(view.get("path") or index), str(view.get("title") or index))
        for index, view in enumerate(config["views"])
    ]


async def our_entries(client: HomeAssistantClient) -> set[str]:
    """Return the ids of our config entries."""
    entries = await client.command("config_entries/get", domain=DOMAIN)
    return {entry["entry_id"] for entry in entries}


async def ask(client: HomeAssistantClient) -> list[str]:
    """Ask the agent REQUESTS times, then for a collection; return our requests sensors.

    They are found by their translation key, whatever their entity ids.
    """
    for number in range(REQUESTS):
        await client.post(
            "/api/conversation/process", {"text": PROMPTS[number % len(PROMPTS)]}
        )
    entities = [
        entity["entity_id"]
        for entity in await client.command("config/entity_registry/list")
        if entity["platform"] == DOMAIN and entity.get("translation_key") == "requests"
    ]
    await client.post(
        "/api/services/homeassistant/update_entity", {"entity_id": entities}
    )
    return entities


def _count(state: dict[str, Any] | None) -> int:
    """Return the whole number a state shows (0 for none, unknown or unavailable)."""
    try:
        return int(float(state["state"])) if state else 0
    except ValueError:
        return 0


async def counted(client: HomeAssistantClient, entities: list[str]) -> int:
    """Wait until one of ``entities`` counts REQUESTS requests; return its count."""
    deadline = time.monotonic() + COUNTED_TIMEOUT_S
    asked = time.monotonic()
    count = 0
    while time.monotonic() < deadline:
        if time.monotonic() - asked > UPDATE_COOLDOWN_S:
            asked = time.monotonic()
            await client.post(
                "/api/services/homeassistant/update_entity", {"entity_id": entities}
            )
        for entity_id in entities:
            count = max(count, _count(await client.get(f"/api/states/{entity_id}")))
        if count >= REQUESTS:
            return count
        await asyncio.sleep(0.5)
    msg = f"the agent's requests sensor showed {count}, not {REQUESTS}, in time"
    raise TimeoutError(msg)


async def device_names(client: HomeAssistantClient) -> dict[str, Any]:
    """Return device_names_unique and the names that more than one of our devices have."""
    entries = await our_entries(client)
    names = [
        device["name_by_user"] or device["name"]
        for device in await client.command("config/device_registry/list")
        if entries & set(device["config_entries"])
    ]
    repeated = sorted({name for name in names if names.count(name) > 1})
    return {
        "device_names_unique": int(not repeated),
        "device_names_repeated_note": "; ".join(repeated) or "none",
        "devices": len(names),
    }
