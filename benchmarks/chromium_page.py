"""Headless Chromium (Debian's package) driven over the DevTools protocol, signed in to Home Assistant.

The dashboard benchmark and its screenshot tour share it: start Chromium with a fresh profile,
store the owner's tokens where the frontend looks for them, open pages, run JavaScript in them
(with DOM_JS's helpers, which walk the shadow roots Home Assistant's elements live in), change the
viewport (a phone is emulated with ``mobile=True``) and take screenshots of the whole page.
"""

# ruff: noqa: S603, S607, ASYNC220 - starts apt-get and chromium
import asyncio
import base64
from collections.abc import AsyncIterator
import contextlib
import json
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

import aiohttp

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
# The screens the dashboard is read and shown on: (width, height, a phone's mobile emulation).
SIZES = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
RENDER_TIMEOUT_S = 15
# A view counts as rendered once its cards have all been drawn and stayed so this long.
STABLE_S = 0.3
# A page counts as settled once its elements and text have not changed for this long.
SETTLE_S = 0.5
# A full-page screenshot grows the viewport to the page's height, up to this (a runaway page).
MAX_PAGE_HEIGHT = 8000

# Helpers for the page. Home Assistant's elements live in shadow roots, so every search walks them.
# `items()`: the visible leaves among cards and entity rows (an entities card counts by its rows;
# stacks and conditional cards are containers). `text(el)`: the visible text of an element and of
# everything under it, shadow roots included.
DOM_JS = r"""
const deep = (root, out = []) => {
  for (const el of root.querySelectorAll('*')) {
    out.push(el);
    if (el.shadowRoot) deep(el.shadowRoot, out);
  }
  return out;
};
const shown = (el) => el.getClientRects().length > 0;
const hass = () => document.querySelector('home-assistant')?.hass;
const isItem = (el) =>
  (/^HUI-[A-Z-]+-CARD$/.test(el.tagName)
    && !/^HUI-(CONDITIONAL|VERTICAL-STACK|HORIZONTAL-STACK|GRID)-CARD$/.test(el.tagName))
  || (/^HUI-[A-Z-]+-ROW$/.test(el.tagName) && el.tagName !== 'HUI-GENERIC-ENTITY-ROW');
const items = () => deep(document).filter((el) => isItem(el) && shown(el)).filter(
  (el) => !deep(el.shadowRoot || el).some(isItem));
const text = (node) => {
  let out = node.shadowRoot ? text(node.shadowRoot) : '';
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) out += ` ${child.textContent}`;
    else if (child.nodeType === Node.ELEMENT_NODE && !/^(STYLE|SCRIPT|TEMPLATE)$/.test(child.tagName)
      && shown(child)) out += ` ${text(child)}`;
  }
  return out.replace(/\s+/g, ' ').trim();
};
const parent = (el) => el.parentNode instanceof ShadowRoot ? el.parentNode.host : el.parentElement;
const within = (el, tag) => {
  for (let at = el; at; at = parent(at)) if (at.tagName === tag) return true;
  return false;
};
const label = (item) => {
  const config = item._config || item.config || {};
  return config.name || config.heading || config.title || config.entity || text(item).slice(0, 40);
};
"""

# Runs in the page: returns [visible cards, rendered cards].
RENDERED_JS = """
const cards = deep(document).filter(
  (el) => /^HUI-[A-Z-]+-CARD$/.test(el.tagName) && el.tagName !== 'HUI-CONDITIONAL-CARD'
    && shown(el));
const drawn = (card) => {
  if (!card.shadowRoot || !card.shadowRoot.childElementCount) return false;
  const inside = deep(card.shadowRoot);
  if (inside.some((el) => /SPINNER|CIRCULAR-PROGRESS/.test(el.tagName))) return false;
  if (/GRAPH-CARD$/.test(card.tagName)) {
    const charts = inside.filter((el) => el.tagName === 'HA-CHART-BASE');
    const message = card.shadowRoot.textContent.trim().length > 0
      && !charts.length && inside.some((el) => el.tagName === 'HA-CARD');
    return message || (charts.length > 0 && charts.every(
      (chart) => deep(chart.shadowRoot || chart).some(
        (el) => el.tagName === 'CANVAS' || el.tagName === 'svg')));
  }
  return true;
};
return [cards.length, cards.filter(drawn).length];
"""

# Runs in the page: a fingerprint of what it shows (elements and the length of their text).
SHOWN_JS = """
const all = deep(document).filter(shown);
return `${all.length}:${text(document.body).length}`;
"""

# Runs in the page: how much taller than the viewport the page is (the document or the element
# that scrolls inside it, as Home Assistant's panels and dialogs do).
OVERFLOW_JS = """
let extra = document.scrollingElement.scrollHeight - document.scrollingElement.clientHeight;
for (const el of deep(document)) {
  if (el.scrollHeight > el.clientHeight + 1 && shown(el)
    && /auto|scroll/.test(getComputedStyle(el).overflowY)) {
    extra = Math.max(extra, el.scrollHeight - el.clientHeight);
  }
}
return extra;
"""


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
        self.size = (1440, 2200, False)

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
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            msg = f"in the page: {result['exceptionDetails']}"
            raise RuntimeError(msg)
        return result.get("result", {}).get("value")

    async def run(self, body: str, **args: Any) -> Any:
        """Run the function body ``body`` with DOM_JS's helpers and ``args`` as constants."""
        constants = "".join(
            f"const {name} = {json.dumps(value)};\n" for name, value in args.items()
        )
        return await self.evaluate(f"(() => {{\n{DOM_JS}{constants}{body}\n}})()")

    async def until(self, body: str, timeout_s: float = 10, **args: Any) -> Any:
        """Return the first true value of ``body`` (run as in ``run``), polled until ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if value := await self.run(body, **args):
                return value
            await asyncio.sleep(0.1)
        msg = f"not true within {timeout_s} s: {body.strip()[:200]}"
        raise TimeoutError(msg)

    async def go(self, url: str) -> None:
        """Open ``url`` and wait until Home Assistant's frontend is connected."""
        await self.send("Page.navigate", url=url)
        await asyncio.sleep(0.2)
        await self.until("return Boolean(hass()?.connected && hass().states);", 20)

    async def open(self, url: str) -> float:
        """Open ``url``; return the seconds from navigation start until every card is drawn."""
        await self.send("Page.navigate", url=url)
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        done_at: float | None = None
        last: Any = None
        while time.monotonic() < deadline:
            counts = await self.run(RENDERED_JS)
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

    async def resize(self, width: int, height: int, *, mobile: bool) -> None:
        """Emulate a screen of ``width`` x ``height`` CSS pixels (a phone when ``mobile``)."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        self.size = (width, height, mobile)
        await asyncio.sleep(0.3)

    async def settle(self, timeout_s: float = 10) -> None:
        """Wait until the page has stopped changing (texts load after the elements)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            shown = await self.run(SHOWN_JS)
            if shown == last:
                return
            last = shown
            await asyncio.sleep(SETTLE_S)
        msg = f"the page kept changing for {timeout_s} s"
        raise TimeoutError(msg)

    async def screenshot(self, path: Path) -> None:
        """Save the whole page (grown to its height, then shrunk back) as a PNG at ``path``."""
        width, height, mobile = self.size
        await self.settle()
        extra = int(await self.run(OVERFLOW_JS))
        if extra > 0:
            await self.resize(
                width, min(height + extra, MAX_PAGE_HEIGHT), mobile=mobile
            )
            await asyncio.sleep(0.5)
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        if extra > 0:
            await self.resize(width, height, mobile=mobile)


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Page]:
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
