"""How fast the ready dashboard renders in a real browser, against Home Assistant's own Overview.

Starts the one-command demo (scripts/demo: Home Assistant 2026.11.0 on 127.0.0.1, onboarded,
the dashboard created, the built-in agent asked every few seconds), then drives headless
Chromium (Debian's package; installed here when missing) through the DevTools protocol:
signed in as the demo's owner, it opens our dashboard and the default Overview dashboard in
turns, and takes, in the page, the time from navigation start until every card on the view has
rendered (each card's content drawn, no spinner, every chart drawn). It saves a screenshot to
docs/images/dashboard.png and writes benchmarks/results/dashboard.json:

- dashboard_render_s: the first load (nothing cached), the user's first visit
- dashboard_render_warm_s_p50: later loads (the frontend's code cached), median of RUNS
- default_overview_render_warm_s_p50 and dashboard_vs_default_overview_ratio: the peer, same run
- dashboard_cards: cards visible on our Overview view
"""

# ruff: noqa: S603, S607, ASYNC220 - starts this repository's scripts, apt-get and chromium
import asyncio
import base64
import contextlib
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
# The repository root replaces the script's own folder on the path, for benchmarks.smoke.
sys.path[0] = str(ROOT)

from benchmarks.smoke import output, size  # noqa: E402

RESULT = output(ROOT / "benchmarks" / "results" / "dashboard.json")
SCREENSHOT = output(ROOT / "docs" / "images" / "dashboard.png")
CHROMIUM = "/usr/bin/chromium"
# The flags that keep Chromium off the network and quiet on a machine without one.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1440,2200",
)
RUNS = size(3, 1)
READY_TIMEOUT_S = 45
RENDER_TIMEOUT_S = 15
# A view counts as rendered once its cards have all been drawn and stayed so this long.
STABLE_S = 0.3

# Runs in the page: returns [visible cards, rendered cards]. Cards live in shadow roots.
RENDERED_JS = """
(() => {
  const deep = (root, out) => {
    for (const el of root.querySelectorAll('*')) {
      out.push(el);
      if (el.shadowRoot) deep(el.shadowRoot, out);
    }
    return out;
  };
  const shown = (el) => el.getClientRects().length > 0;
  const cards = deep(document, []).filter(
    (el) => /^HUI-[A-Z-]+-CARD$/.test(el.tagName) && el.tagName !== 'HUI-CONDITIONAL-CARD'
      && shown(el));
  const drawn = (card) => {
    if (!card.shadowRoot || !card.shadowRoot.childElementCount) return false;
    const inside = deep(card.shadowRoot, []);
    if (inside.some((el) => /SPINNER|CIRCULAR-PROGRESS/.test(el.tagName))) return false;
    if (/GRAPH-CARD$/.test(card.tagName)) {
      const charts = inside.filter((el) => el.tagName === 'HA-CHART-BASE');
      const message = card.shadowRoot.textContent.trim().length > 0
        && !charts.length && inside.some((el) => el.tagName === 'HA-CARD');
      return message || (charts.length > 0 && charts.every(
        (chart) => deep(chart.shadowRoot || chart, []).some(
          (el) => el.tagName === 'CANVAS' || el.tagName === 'svg')));
    }
    return true;
  };
  return [cards.length, cards.filter(drawn).length];
})()
"""


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_chromium() -> None:
    """Install Debian's chromium when it is missing (as root, from Debian's archive)."""
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() != 0:
        sys.exit(
            "benchmark dashboard needs Debian's chromium: apt-get install chromium"
        )
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )


class Page:
    """One Chromium tab, spoken to over the DevTools protocol."""

    def __init__(self, socket_: aiohttp.ClientWebSocketResponse) -> None:
        """Speak to the tab over ``socket_``."""
        self._socket = socket_
        self._id = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        self._id += 1
        await self._socket.send_json(
            {"id": self._id, "method": method, "params": params}
        )
        while True:
            message = await self._socket.receive_json()
            if message.get("id") == self._id:
                if "error" in message:
                    msg = f"{method}: {message['error']}"
                    raise RuntimeError(msg)
                return dict(message.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        """Return the value of a JavaScript expression in the page."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        return result.get("result", {}).get("value")

    async def open(self, url: str) -> float:
        """Open ``url``; return the seconds from navigation start until every card is drawn."""
        await self.send("Page.navigate", url=url)
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        done_at: float | None = None
        last: Any = None
        while time.monotonic() < deadline:
            counts = await self.evaluate(RENDERED_JS + ";")
            now = await self.evaluate("performance.now()")
            complete = bool(counts) and counts[0] > 0 and counts[0] == counts[1]
            if complete and counts == last and done_at is not None:
                if now - done_at >= STABLE_S * 1000:
                    return done_at / 1000
            elif complete:
                done_at = now
            else:
                done_at = None
            last = counts
            await asyncio.sleep(0.02)
        msg = f"{url}: cards not all drawn within {RENDER_TIMEOUT_S} s ({last})"
        raise TimeoutError(msg)


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> Any:
    """Run headless Chromium with a fresh profile; yield a Page on its first tab."""
    process = subprocess.Popen(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(200):
            if port_file.exists() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
                tabs = await answer.json()
            tab = next(t for t in tabs if t["type"] == "page")
            async with session.ws_connect(
                tab["webSocketDebuggerUrl"], max_msg_size=0
            ) as socket_:
                page = Page(socket_)
                await page.send("Page.enable")
                yield page
    finally:
        process.terminate()
        process.wait(10)


async def sign_in(page: Page, ready: dict[str, Any]) -> None:
    """Store the owner's tokens where the frontend looks for them."""
    base, tokens = ready["base"], ready["tokens"]
    await page.send("Page.navigate", url=f"{base}/manifest.json")
    await asyncio.sleep(0.5)
    stored = {
        "access_token": tokens["access_token"],
        "token_type": "Bearer",
        "expires_in": tokens["expires_in"],
        "refresh_token": tokens["refresh_token"],
        "hassUrl": base,
        "clientId": tokens["client_id"],
        "expires": int(time.time() * 1000) + tokens["expires_in"] * 1000,
    }
    await page.evaluate(
        f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(stored))})"
    )


async def measure(ready: dict[str, Any], profile: Path) -> dict[str, Any]:
    """Time both dashboards in turns; take the screenshot of ours."""
    ours = ready["dashboard"] + "/overview"
    default = ready["base"] + "/lovelace/0"
    async with chromium(profile) as page:
        await sign_in(page, ready)
        first = await page.open(ours)
        cards = (await page.evaluate(RENDERED_JS + ";"))[0]
        await asyncio.sleep(1)
        shot = await page.send("Page.captureScreenshot", format="png")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        warm, peer = [], []
        for _ in range(RUNS):
            peer.append(await page.open(default))
            warm.append(await page.open(ours))
    ours_p50 = statistics.median(warm)
    peer_p50 = statistics.median(peer)
    return {
        "dashboard_render_s": round(first, 3),
        "dashboard_render_warm_s_p50": round(ours_p50, 3),
        "default_overview_render_warm_s_p50": round(peer_p50, 3),
        "dashboard_vs_default_overview_ratio": round(ours_p50 / peer_p50, 3),
        "dashboard_cards": cards,
        "dashboard_note": (
            "headless Chromium (Debian), 1440x2200, the demo install (no GPU), seconds from "
            "navigation start until every visible card is drawn; the first load has "
            f"nothing cached; warm: median of {RUNS} loads, alternating with the peer"
        ),
    }


def main() -> None:
    """Start the demo, measure, stop everything."""
    ensure_chromium()
    work = Path(tempfile.mkdtemp(prefix="aip-dashboard-"))
    ready_file = work / "ready.json"
    demo = subprocess.Popen(
        [str(ROOT / "scripts" / "demo"), "-p", str(free_port()), "-r", str(ready_file)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready_file.exists():
            if demo.poll() is not None or time.monotonic() > deadline:
                sys.exit("the demo did not become ready")
            time.sleep(0.2)
        ready = json.loads(ready_file.read_text())
        results = asyncio.run(measure(ready, work / "profile"))
    finally:
        # Ctrl+C, as a user would: the demo stops Home Assistant.
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(40)
        shutil.rmtree(work, ignore_errors=True)
    RESULT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
