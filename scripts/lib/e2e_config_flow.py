"""End-to-end check against a running Home Assistant, through its public REST API only.

1. Onboard a fresh instance (create the owner user) and log in with the OAuth2 code it returns.
2. Add AI Performance Monitor through the config-flow REST API, as the frontend does.
3. Ask the built-in conversation agent something, as the Assist dialog does.
4. Wait until /api/states shows every entity of the integration available, the request counted
   on the agent's new device and the overall latency numeric. Figures that need data a
   text request to the built-in agent cannot give (tokens per second, time to first token,
   ratings) may stay unknown; nothing may be unavailable.
5. A second config flow aborts with Home Assistant's single_instance_allowed (single_config_entry).

Usage: python e2e_config_flow.py BASE_URL   (standard library only; exits non-zero on failure)
"""

import json
import sys
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

DOMAIN = "ai_performance"
START_TIMEOUT_S = 180
# The request is counted on the next tick, up to 30 s after it.
ENTITIES_TIMEOUT_S = 75
AGENT_REQUESTS = "sensor.home_assistant_requests"
OVERALL_LATENCY = "sensor.ai_performance_overall_latency_p95"
# Home Assistant's own abort for an integration whose manifest sets single_config_entry.
SECOND_FLOW_ABORT = "single_instance_allowed"


class CheckFailedError(Exception):
    """The instance did not behave as a user would expect."""


def call(
    base: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    form: bool = False,
) -> Any:
    """Send one request and return the decoded JSON answer."""
    headers = {}
    data = None
    if body is not None and form:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urlencode(body).encode()
    elif body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = Request(  # noqa: S310 - the URL is the local instance given on the command line
        base + path, data=data, headers=headers, method="POST" if data else "GET"
    )
    with urlopen(request, timeout=30) as response:  # noqa: S310 - see above
        return json.loads(response.read() or b"null")


def wait_until_up(base: str) -> None:
    """Wait until Home Assistant answers its onboarding API."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            call(base, "/api/onboarding")
        except URLError, ConnectionError, HTTPError:
            time.sleep(1)
        else:
            return
    msg = f"Home Assistant did not answer at {base} within {START_TIMEOUT_S} s"
    raise CheckFailedError(msg)


def onboard_owner(base: str, user: dict[str, str]) -> dict[str, Any]:
    """Create the owner ``user`` (name, username, password); return its OAuth2 tokens."""
    client_id = base + "/"
    answer = call(
        base,
        "/api/onboarding/users",
        body={"client_id": client_id, "language": "en", **user},
    )
    tokens = call(
        base,
        "/auth/token",
        body={
            "grant_type": "authorization_code",
            "code": answer["auth_code"],
            "client_id": client_id,
        },
        form=True,
    )
    return dict(tokens) | {"client_id": client_id}


def onboard(base: str) -> str:
    """Create the owner user and return an access token."""
    user = {
        "name": "Developer",
        "username": "dev",
        "password": "dev-password-for-local-checks",
    }
    return str(onboard_owner(base, user)["access_token"])


def add_integration(base: str, token: str) -> dict[str, Any]:
    """Run the config flow as the frontend does and return the created entry."""
    flow = call(
        base, "/api/config/config_entries/flow", body={"handler": DOMAIN}, token=token
    )
    if flow.get("type") != "form" or flow.get("step_id") != "user":
        msg = f"expected the user form, got {flow}"
        raise CheckFailedError(msg)
    result = call(
        base, f"/api/config/config_entries/flow/{flow['flow_id']}", body={}, token=token
    )
    if result.get("type") != "create_entry":
        msg = f"expected create_entry, got {result}"
        raise CheckFailedError(msg)
    return dict(result["result"])


def ask_the_agent(base: str, token: str) -> None:
    """Send one text request to the built-in agent through the REST API."""
    call(
        base, "/api/conversation/process", body={"text": "what time is it"}, token=token
    )


def settled_states(base: str, token: str) -> dict[str, str]:
    """Wait until the integration's entities show the request, and return their states."""
    template = {
        "template": f"{{{{ integration_entities('{DOMAIN}') | list | tojson }}}}"
    }
    deadline = time.monotonic() + ENTITIES_TIMEOUT_S
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        entity_ids = set(call(base, "/api/template", body=template, token=token))
        last = {
            s["entity_id"]: s["state"]
            for s in call(base, "/api/states", token=token)
            if s["entity_id"] in entity_ids
        }
        if (
            last
            and len(last) == len(entity_ids)
            and "unavailable" not in last.values()
            and last.get(AGENT_REQUESTS) == "1"
            and _is_number(last.get(OVERALL_LATENCY))
        ):
            return last
        time.sleep(1)
    msg = f"the request did not show within {ENTITIES_TIMEOUT_S} s: {last}"
    raise CheckFailedError(msg)


def _is_number(state: str | None) -> bool:
    try:
        float(state or "")
    except ValueError:
        return False
    return True


def main(base: str) -> None:
    """Run the whole check and print what a user would see."""
    wait_until_up(base)
    token = onboard(base)
    entry = add_integration(base, token)
    print(f"config flow created entry {entry['entry_id']} ({entry['title']})")
    ask_the_agent(base, token)
    states = settled_states(base, token)
    for entity_id, value in sorted(states.items()):
        print(f"  {entity_id} = {value}")
    unknown = sum(1 for value in states.values() if not _is_number(value))
    print(
        f"{len(states) - unknown} numeric, {unknown} unknown (no data of that kind yet)"
    )
    again = call(
        base, "/api/config/config_entries/flow", body={"handler": DOMAIN}, token=token
    )
    if again.get("type") != "abort" or again.get("reason") != SECOND_FLOW_ABORT:
        msg = f"a second flow should abort {SECOND_FLOW_ABORT}, got {again}"
        raise CheckFailedError(msg)
    print(f"a second config flow aborts: {SECOND_FLOW_ABORT}")


if __name__ == "__main__":
    try:
        main(sys.argv[1].rstrip("/"))
    except (CheckFailedError, HTTPError, URLError) as err:
        print(f"END-TO-END CHECK FAILED: {err}", file=sys.stderr)
        sys.exit(1)
