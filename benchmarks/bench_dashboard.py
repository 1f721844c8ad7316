"""The ready dashboard in a real browser: how fast it renders, and what a new user reads on it.

Starts the one-command demo (scripts/demo: Home Assistant 2026.11.0 on 127.0.0.1, onboarded,
the dashboard created, the built-in agent asked every few seconds), then drives headless
Chromium (Debian's package; installed here when missing) through the DevTools protocol, signed
in as the demo's owner, and writes benchmarks/results/dashboard.json:

- dashboard_render_s: the first load of our Overview view (nothing cached), the user's first
  visit: the time from navigation start until every card on the view has rendered (each card's
  content drawn, no spinner, every chart drawn)
- dashboard_render_warm_s_p50: later loads (the frontend's code cached), median of RUNS
- default_overview_render_warm_s_p50 and dashboard_vs_default_overview_ratio: the peer, same run
- dashboard_cards: cards visible on our Overview view
- dashboard_cards_unknown: cards and entity rows, on every view of our dashboard, that show Home
  Assistant's "Unknown" once the agent has answered REQUESTS requests (target 0)
- dashboard_names_cut_390: card and row names cut short (an ellipsis) on a 390x844 phone, on
  every view (target 0)
- device_names_unique: 1 when every device of our config entry has a name of its own, else 0

With --screenshots it then takes the screenshot tour (benchmarks/screenshot_tour.py) into
docs/images/: too long for scripts/bench's 60 s, so it is run by hand (docs/development.md).
"""

# ruff: noqa: S603 - starts this repository's demo
import argparse
import asyncio
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

ROOT = Path(__file__).resolve().parent.parent
# The repository root replaces the script's own folder on the path, for benchmarks.smoke.
sys.path[0] = str(ROOT)

from benchmarks.chromium_page import (  # noqa: E402
    RENDERED_JS,
    SIZES,
    Page,
    chromium,
    ensure_chromium,
    sign_in,
)
from benchmarks.dashboard_checks import (  # noqa: E402
    CUT_JS,
    UNKNOWN_JS,
    ask,
    counted,
    device_names,
    views,
)
from benchmarks.ha_client import connect  # noqa: E402
from benchmarks.screenshot_tour import tour  # noqa: E402
from benchmarks.smoke import output, size, smoke  # noqa: E402

RESULT = output(ROOT / "benchmarks" / "results" / "dashboard.json")
# A smoke run writes its screenshots into the scratch folder too.
IMAGES = RESULT.parent if smoke() else ROOT / "docs" / "images"
RUNS = size(3, 1)
READY_TIMEOUT_S = 45

STARTED = time.monotonic()


def progress(step: str) -> None:
    """Say on stderr what the benchmark has done, and when (it has 60 s in all)."""
    print(f"  {time.monotonic() - STARTED:5.1f} s  {step}", file=sys.stderr, flush=True)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def read_views(
    page: Page, dashboard: str, paths: list[str], size: str, script: str
) -> list[str]:
    """Open each view on screen ``size``; return "view: label" for what ``script`` finds."""
    width, height, mobile = SIZES[size]
    await page.resize(width, height, mobile=mobile)
    found: list[str] = []
    for path in paths:
        await page.open(f"{dashboard}/{path}")
        found.extend(f"{path}: {hit}" for hit in await page.run(script))
    return found


async def timings(page: Page, ready: dict[str, Any], first_view: str) -> dict[str, Any]:
    """Time our first view against Home Assistant's own Overview, in turns."""
    ours = f"{ready['dashboard']}/{first_view}"
    default = ready["base"] + "/lovelace/0"
    first = await page.open(ours)
    cards = (await page.run(RENDERED_JS))[0]
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
    }


async def measure(
    ready: dict[str, Any], profile: Path, *, screenshots: bool
) -> dict[str, Any]:
    """Take every figure; then, if asked, the screenshot tour."""
    async with connect(ready) as client, chromium(profile) as page:
        paths = [path for path, _ in await views(client, ready["dashboard"])]
        # The collection that counts them runs while the render is timed.
        entities = await ask(client)
        await sign_in(page, ready)
        results = await timings(page, ready, paths[0])
        progress("render timed")
        answered = await counted(client, entities)
        progress(f"{answered} requests answered and counted")
        unknown = await read_views(
            page, ready["dashboard"], paths, "desktop", UNKNOWN_JS
        )
        cut = await read_views(page, ready["dashboard"], paths, "phone", CUT_JS)
        progress("views read on a desktop and a phone")
        results |= {
            "dashboard_cards_unknown": len(unknown),
            "dashboard_cards_unknown_note": "; ".join(unknown) or "none",
            "dashboard_names_cut_390": len(cut),
            "dashboard_names_cut_390_note": "; ".join(cut) or "none",
            **await device_names(client),
            "dashboard_note": (
                "headless Chromium (Debian), the demo install (no GPU); render: 1440x2200, "
                "seconds from navigation start until every visible card is drawn, the first "
                f"load with nothing cached, warm: median of {RUNS} loads alternating with the "
                "peer; unknown at 1280x800, cut names at 390x844 (a phone), on the "
                f"views {', '.join(paths)}, after {answered} requests answered"
            ),
        }
        if screenshots:
            shots = await tour(page, ready, paths, IMAGES)
            results["screenshots_note"] = ", ".join(shots)
            progress(f"{len(shots)} screenshots taken into {IMAGES}")
    return results


def main() -> None:
    """Start the demo, measure, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--screenshots",
        action="store_true",
        help="also take the screenshot tour into docs/images/ (about 2 minutes)",
    )
    screenshots = parser.parse_args().screenshots
    # scripts/bench's time limit ends it with SIGTERM: stop the demo all the same.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("benchmark dashboard: stopped"))
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
        progress("the demo is ready")
        results = asyncio.run(measure(ready, work / "profile", screenshots=screenshots))
    finally:
        # Ctrl+C, as a user would: the demo stops Home Assistant.
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(40)
        shutil.rmtree(work, ignore_errors=True)
    RESULT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
