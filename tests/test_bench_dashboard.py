"""The dashboard benchmark's checks: what counts as an unknown card and a cut name, bad option values.

The in-page scripts run in the headless Chromium the benchmark drives (Debian's package, which
`./scripts/test` needs for the benchmark's smoke run anyway), on a page built like Home Assistant's
frontend: cards are custom elements whose content lives in shadow roots.
"""

from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.chromium_page import Page, chromium
from benchmarks.dashboard_checks import CUT_JS, UNKNOWN_JS, _count
from benchmarks.screenshot_tour import complete, spoil

# A tile card as the frontend draws one: the name and the state in spans that end in an ellipsis
# when they do not fit, inside the card's shadow root; the frontend's `hass` on <home-assistant>.
PAGE = """<!doctype html>
<html><body><home-assistant></home-assistant><div id="cards"></div><script>
const STYLE = '<style>span { display: block; width: 120px; white-space: nowrap; '
  + 'overflow: hidden; text-overflow: ellipsis; font: 16px sans-serif; }</style>';
class Tile extends HTMLElement {
  set setup([config, name, state]) {
    this._config = config;
    const root = this.shadowRoot || this.attachShadow({mode: 'open'});
    root.innerHTML = `${STYLE}<div><span class="primary">${name}</span>`
      + `<span><state-display>${state}</state-display></span></div>`;
  }
}
customElements.define('hui-tile-card', Tile);
customElements.define('state-display', class extends HTMLElement {});
document.querySelector('home-assistant').hass = {
  localize: (key) => ({'state.default.unknown': 'Unknown'})[key] || key,
  states: {%STATES%},
};
for (const setup of %TILES%) {
  const tile = document.createElement('hui-tile-card');
  tile.setup = setup;
  document.getElementById('cards').appendChild(tile);
}
</script></body></html>
"""


@pytest.fixture
async def page(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Page]:
    """A tab of the benchmark's headless Chromium (spoken to on a port of 127.0.0.1)."""
    async with chromium(tmp_path / "profile") as tab:
        yield tab


async def _show(
    page: Page,
    tmp_path: Path,
    tiles: list[tuple[dict[str, Any], str, str]],
    states: dict[str, str] | None = None,
) -> None:
    """Open a page with ``tiles`` ([card config, name, shown state]) and entity ``states``."""
    html = PAGE.replace("%TILES%", json.dumps(tiles)).replace(
        "%STATES%",
        json.dumps({k: {"state": v} for k, v in (states or {}).items()})[1:-1],
    )
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    await page.send("Page.navigate", url=(tmp_path / "page.html").as_uri())
    await page.until("return items().length > 0;")


async def test_a_tile_that_reads_unknown_is_counted(page: Page, tmp_path: Path) -> None:
    await _show(
        page,
        tmp_path,
        [({"name": "Output speed"}, "Output speed", "Unknown"), ({}, "Requests", "12")],
    )

    assert await page.run(UNKNOWN_JS) == ["Output speed"]


async def test_a_tile_of_an_entity_in_the_unknown_state_is_counted(
    page: Page, tmp_path: Path
) -> None:
    """Whatever the tile shows for it (a gauge shows no state text at all)."""
    await _show(
        page,
        tmp_path,
        [({"entity": "sensor.ttft"}, "TTFT", ""), ({"entity": "sensor.ok"}, "OK", "1")],
        {"sensor.ttft": "unknown", "sensor.ok": "1"},
    )

    assert await page.run(UNKNOWN_JS) == ["sensor.ttft"]


async def test_unknown_inside_a_word_is_not_the_unknown_state(
    page: Page, tmp_path: Path
) -> None:
    await _show(page, tmp_path, [({}, "Unknowns", "3 Unknownish")])

    assert await page.run(UNKNOWN_JS) == []


async def test_a_name_cut_short_is_counted_and_a_long_state_is_not(
    page: Page, tmp_path: Path
) -> None:
    await _show(
        page,
        tmp_path,
        [
            ({}, "Error budget remaining (30 d)", "1%"),
            ({}, "Requests", "a state far too long to fit in the tile"),
        ],
    )

    assert await page.run(CUT_JS) == ["Error budget remaining (30 d)"]


def test_a_bad_value_goes_below_the_first_bounded_number() -> None:
    schema = [
        {"name": "rule", "required": True, "selector": {"select": {"options": ["a"]}}},
        {"name": "target", "required": True, "selector": {"number": {"mode": "box"}}},
        {"name": "cooldown", "required": True, "selector": {"number": {"min": 5}}},
        {"name": "budget", "selector": {"number": {"min": 0}}},
    ]

    assert spoil(schema, {"cooldown": 30}) == {"cooldown": -1}
    assert spoil(
        [*schema[:2], {"name": "x", "selector": {"number": {"min": -3}}}], {}
    ) == {"x": -4}


def test_a_field_the_integration_checks_itself_gets_its_bad_value_first() -> None:
    schema = [
        {"name": "for_minutes", "required": True, "selector": {"number": {"min": 0}}},
        {"name": "hysteresis", "required": True, "selector": {"number": {"min": 0}}},
    ]

    assert spoil(schema, {"for_minutes": 5, "hysteresis": 2}) == {
        "for_minutes": 5,
        "hysteresis": 1e9,
    }


def test_a_form_without_a_bounded_number_gets_no_bad_value() -> None:
    schema = [
        {"name": "gpu", "required": True, "selector": {"select": {"options": ["auto"]}}}
    ]

    assert spoil(schema, {"gpu": "auto"}) is None


def test_required_fields_without_a_value_are_filled_in() -> None:
    schema = [
        {
            "name": "rule",
            "required": True,
            "selector": {"select": {"options": [{"value": "latency", "label": "L"}]}},
        },
        {"name": "enabled", "required": True, "selector": {"boolean": {}}},
        {"name": "minutes", "required": True, "default": 5, "selector": {"number": {}}},
        {"name": "kept", "required": True, "selector": {"number": {"min": 1}}},
        {"name": "optional", "selector": {"number": {"min": 1}}},
    ]

    assert complete(schema, {"kept": 7}) == {
        "rule": "latency",
        "enabled": False,
        "minutes": 5,
        "kept": 7,
    }


@pytest.mark.parametrize(
    ("state", "count"),
    [
        ({"state": "12"}, 12),
        ({"state": "12.0"}, 12),
        ({"state": "unknown"}, 0),
        (None, 0),
    ],
)
def test_a_requests_state_counts_as_a_whole_number(
    state: dict[str, Any] | None, count: int
) -> None:
    assert _count(state) == count
