"""Drive a fresh Home Assistant into a working AI Performance demo, through its public APIs only.

1. Finish onboarding through the REST onboarding API: the owner user (printed), the location,
   analytics (off) and the integrations step, so the frontend opens straight on the dashboard.
2. Add AI Performance Monitor through the config-flow REST API, as the frontend does.
3. Ask the built-in conversation agent something, wait for its device, and create the ready
   dashboard with the create_dashboard action.
   Then, for a clean first look, remove the integrations that onboarding adds but that need the
   internet (weather, radio, cloud speech), which this loopback-only instance cannot reach.
4. Write what a browser needs (URL, tokens, dashboard) to --ready-file, if given.
5. Keep a small real workload going: a request to /api/conversation/process every few seconds,
   for --requests requests (0: until stopped).

Usage: python demo.py BASE_URL [--ready-file PATH] [--requests N] [--every SECONDS]
(run with the develop environment's Python: it uses aiohttp)
"""

import argparse
import asyncio
import itertools
import json
from pathlib import Path
import sys
import time
from typing import Any
from urllib.error import HTTPError, URLError

import aiohttp
from e2e_config_flow import (
    CheckFailedError,
    add_integration,
    call,
    onboard_owner,
    wait_until_up,
)

USER = {"name": "Demo", "username": "demo", "password": "demo-ai-performance"}
AGENT_REQUESTS = "sensor.home_assistant_requests"
OVERALL_RATE = "sensor.ai_performance_overall_request_rate"
DEVICE_TIMEOUT_S = 75
SETTLE_S = 1.0
UPDATE_COOLDOWN_S = 10.5
# Set up by onboarding; each needs a service on the internet.
NEEDS_INTERNET = ("met", "radio_browser", "google_translate")
ONBOARDING_FLOWS_S = 10
# What people ask a voice assistant; the built-in agent answers some, and says it cannot do the
# others (no such device, not understood). None may log an error: a timer, asked without a
# voice satellite, logged a traceback on every turn.
PROMPTS = (
    "what time is it",
    "what is the date today",
    "turn on the kitchen lights",
    "turn off the living room lights",
    "is the front door locked",
    "how many lights are on",
)


def onboard(base: str) -> dict[str, Any]:
    """Complete every onboarding step; return the owner's tokens."""
    tokens = onboard_owner(base, USER)
    token = tokens["access_token"]
    call(base, "/api/onboarding/core_config", body={}, token=token)
    call(base, "/api/onboarding/analytics", body={}, token=token)
    client_id = tokens["client_id"]
    call(
        base,
        "/api/onboarding/integration",
        body={"client_id": client_id, "redirect_uri": client_id},
        token=token,
    )
    return tokens


async def tidy_up(base: str, token: str) -> None:
    """Remove the integrations that need the internet."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        # Onboarding starts their flows in the background: give them a moment to finish.
        deadline = time.monotonic() + ONBOARDING_FLOWS_S
        removed: set[str] = set()
        while time.monotonic() < deadline and len(removed) < len(NEEDS_INTERNET):
            async with session.get(f"{base}/api/config/config_entries/entry") as answer:
                entries = await answer.json()
            for entry in entries:
                if entry["domain"] in NEEDS_INTERNET:
                    url = f"{base}/api/config/config_entries/entry/{entry['entry_id']}"
                    async with session.delete(url):
                        removed.add(entry["domain"])
            await asyncio.sleep(0.5)


def ask(base: str, token: str, text: str) -> float:
    """Send one request to the built-in agent; return how long it took, in seconds."""
    started = time.monotonic()
    call(base, "/api/conversation/process", body={"text": text}, token=token)
    return time.monotonic() - started


def wait_for_agent(base: str, token: str) -> None:
    """Wait until the built-in agent's device shows the first request.

    A turn is counted once it has settled (half a second); asking for an update of one of our
    sensors then runs the next collection at once, not at the next 30 s tick.
    """
    deadline = time.monotonic() + DEVICE_TIMEOUT_S
    asked = 0.0
    while time.monotonic() < deadline:
        # Home Assistant runs at most one requested update per 10 s.
        if time.monotonic() - asked > UPDATE_COOLDOWN_S:
            time.sleep(SETTLE_S)
            asked = time.monotonic()
            call(
                base,
                "/api/services/homeassistant/update_entity",
                body={"entity_id": OVERALL_RATE},
                token=token,
            )
        try:
            state = call(base, f"/api/states/{AGENT_REQUESTS}", token=token)
        except HTTPError:
            state = None
        if state and state.get("state") not in (None, "unknown", "unavailable"):
            return
        time.sleep(1)
    msg = f"{AGENT_REQUESTS} did not appear within {DEVICE_TIMEOUT_S} s"
    raise CheckFailedError(msg)


def create_dashboard(base: str, token: str) -> dict[str, Any]:
    """Create the ready dashboard as the owner, through our action."""
    answer = call(
        base,
        "/api/services/ai_performance/create_dashboard?return_response",
        body={},
        token=token,
    )
    return dict(answer["service_response"])


def workload(base: str, token: str, requests: int, every_s: float) -> None:
    """Ask the agent every ``every_s`` seconds; print a line per request."""
    counter = range(requests) if requests else itertools.count()
    for number, text in zip(counter, itertools.cycle(PROMPTS), strict=False):
        took = ask(base, token, text)
        print(f"  request {number + 1}: {text!r} answered in {took * 1000:.0f} ms")
        time.sleep(every_s)


def main() -> None:
    """Set the demo up, tell the user where to look, and run the workload."""
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--every", type=float, default=5.0)
    args = parser.parse_args()
    base = args.base.rstrip("/")

    wait_until_up(base)
    tokens = onboard(base)
    token = tokens["access_token"]
    asyncio.run(tidy_up(base, token))
    add_integration(base, token)
    ask(base, token, PROMPTS[0])
    wait_for_agent(base, token)
    dashboard = create_dashboard(base, token)
    url = f"{base}/{dashboard['url_path']}"
    print(
        f"\nAI Performance demo is ready: {url}\n"
        f"  sign in as {USER['username']} / {USER['password']}\n"
        f"  dashboard: {dashboard['views']} views, {dashboard['cards']} cards\n"
        f"  a request to the built-in agent every {args.every:g} s; Ctrl+C stops\n",
        flush=True,
    )
    if args.ready_file:
        args.ready_file.write_text(
            json.dumps({"base": base, "dashboard": url, "tokens": tokens}),
            encoding="utf-8",
        )
    workload(base, token, args.requests, args.every)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    except (CheckFailedError, HTTPError, URLError) as err:
        print(f"DEMO FAILED: {err}", file=sys.stderr)
        sys.exit(1)
