"""The screenshot tour: what a new user sees, on a desktop and on a phone, as PNGs for the docs.

At 1280x800 and at 390x844 (a phone: mobile emulation), each a full-page capture:
- dashboard-VIEW-SIZE.png: each view of our dashboard (its views are read from the dashboard's
  configuration, so new views are taken too);
- options-STEP-error-SIZE.png: each step of the options flow with a bad value submitted, driven in
  the real frontend: Settings → Devices & services → AI Performance Monitor → Configure, the menu
  entry, then the form's own data with one bad value (OWN_CHECKS, or a number below its minimum),
  submitted with the form's Submit button; the error shown is in the picture. A step reached only
  through another (an alert rule, after Alerts) is reached by submitting the first step's own
  values. A step without a number to get wrong is taken as shown (options-STEP-SIZE.png);
- repairs-SIZE.png: Settings → Repairs.

The form's data is set through the form's own value-changed event (what each field sends when
typed in), so every kind of field is filled the same way.
"""

import asyncio
from pathlib import Path
from typing import Any

from benchmarks.chromium_page import SIZES, Page

DOMAIN = "ai_performance"
# Bad values that Home Assistant's own checks of the form let through, so that the integration's
# own (translated) error is shown; used where the form has the field. Elsewhere the first number
# with a minimum is set below it, which Home Assistant's form checks refuse by themselves.
OWN_CHECKS: dict[str, Any] = {
    # More than the room between target and warning (the rule's hysteresis has no maximum).
    "hysteresis": 1e9,
    # The simple class's latency target above the moderate one's.
    "simple_latency_s": 600,
    # A negative price.
    "prices": {"gpt-4o-mini": {"input": -1, "output": 0.6}},
}
# A step that leads to another is followed this deep (Alerts → the rule's thresholds).
MAX_STEPS = 3

# Runs in the page: click our entry's "Configure" (the cog on the integration's page).
CONFIGURE_JS = """
const word = hass().localize('ui.panel.config.integrations.config_entry.configure');
const button = deep(document).find((el) => shown(el)
  && (el.label === word || el.getAttribute('aria-label') === word));
if (!button) return false;
button.click();
return true;
"""

# Runs in the page: what the options dialog shows.
FLOW_JS = """
const menu = deep(document).find((el) => el.tagName === 'STEP-FLOW-MENU' && shown(el));
if (menu && menu.step) return {kind: 'menu', options: menu.step.menu_options};
const form = deep(document).find((el) => el.tagName === 'STEP-FLOW-FORM' && shown(el));
if (form && form.step) {
  return {kind: 'form', step: form.step.step_id, schema: form.step.data_schema,
    data: form._stepData || {}};
}
return {kind: 'none'};
"""

# Runs in the page: open the menu entry OPTION.
CHOOSE_JS = """
const menu = deep(document).find((el) => el.tagName === 'STEP-FLOW-MENU' && shown(el));
const entry = menu && deep(menu.shadowRoot).find((el) => el.step === OPTION && shown(el));
if (!entry) return false;
entry.click();
return true;
"""

# Runs in the page: set the form's data to DATA, as its fields do, and press Submit.
SUBMIT_JS = """
const form = deep(document).find((el) => el.tagName === 'STEP-FLOW-FORM' && shown(el));
const haForm = deep(form.shadowRoot).find((el) => el.tagName === 'HA-FORM');
haForm.dispatchEvent(new CustomEvent(
  'value-changed', {detail: {value: DATA}, bubbles: true, composed: true}));
const word = hass().localize('ui.panel.config.integrations.config_flow.submit');
const button = deep(document).filter((el) => shown(el) && /BUTTON/.test(el.tagName)
  && (el.innerText || el.textContent || '').trim() === word).pop();
if (!button) return false;
form.aipSubmitted = form.step;
button.click();
return true;
"""

# Runs in the page: 'error' once the form shows what was wrong, 'next' once another step (or the
# end of the flow) is shown; false while it is waiting for Home Assistant.
ANSWER_JS = """
const form = deep(document).find((el) => el.tagName === 'STEP-FLOW-FORM' && shown(el));
if (!form || !form.step) return 'next';
if (form.step.step_id !== STEP) return 'next';
if (form._loading) return false;
const alert = deep(form.shadowRoot).some((el) => el.tagName === 'HA-ALERT' && shown(el));
const errors = Object.keys(form.step.errors || {}).length > 0;
return (alert || (errors && form.step !== form.aipSubmitted)) ? 'error' : false;
"""

REPAIRS_JS = """
return deep(document).some((el) => el.tagName === 'HA-CONFIG-REPAIRS-DASHBOARD' && shown(el))
  && !deep(document).some((el) => /SPINNER|CIRCULAR-PROGRESS/.test(el.tagName) && shown(el));
"""


def _first_option(selector: dict[str, Any]) -> Any:
    """Return the first choice of a select selector."""
    option = selector["options"][0]
    return option["value"] if isinstance(option, dict) else option


def complete(schema: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any]:
    """Return the form's data with each required field that has none filled in."""
    filled = dict(data)
    for field in schema:
        name, selector = field["name"], field.get("selector", {})
        if not field.get("required") or filled.get(name) is not None:
            continue
        if "default" in field:
            filled[name] = field["default"]
        elif "select" in selector:
            filled[name] = _first_option(selector["select"])
        elif "boolean" in selector:
            filled[name] = False
        elif "number" in selector:
            filled[name] = selector["number"].get("min", 0)
    return filled


def spoil(schema: list[dict[str, Any]], data: dict[str, Any]) -> dict[str, Any] | None:
    """Return ``data`` with one bad value; None when the form has nothing to get wrong.

    A field of OWN_CHECKS if the form has one, else the first number with a minimum, below it.
    """
    for field in schema:
        if field["name"] in OWN_CHECKS:
            return {**data, field["name"]: OWN_CHECKS[field["name"]]}
    for field in schema:
        number = field.get("selector", {}).get("number")
        if number is not None and "min" in number:
            minimum = number["min"]
            return {**data, field["name"]: -1 if minimum > -1 else minimum - 1}
    return None


def _name(*parts: str) -> str:
    """Return a file name made of ``parts`` (words joined by hyphens)."""
    return "-".join(part.replace("_", "-") for part in parts) + ".png"


async def _open_options(page: Page, base: str) -> dict[str, Any]:
    """Open our options flow as a user does; return what its dialog shows first."""
    await page.go(f"{base}/config/integrations/integration/{DOMAIN}")
    await page.until(CONFIGURE_JS)
    return dict(
        await page.until(
            f"const s = (() => {{{FLOW_JS}}})(); return s.kind !== 'none' && s;"
        )
    )


async def _submit(page: Page, step: str, data: dict[str, Any]) -> str:
    """Submit ``data`` on the form of ``step``; return 'error' or 'next'."""
    if not await page.run(SUBMIT_JS, DATA=data):
        msg = f"options step {step}: no Submit button"
        raise RuntimeError(msg)
    await asyncio.sleep(0.3)
    return str(await page.until(ANSWER_JS, STEP=step))


async def _form_steps(page: Page, folder: Path, size: str) -> list[str]:
    """Take each form from the one shown on (a bad value submitted); return the file names."""
    taken = []
    for _ in range(MAX_STEPS):
        shown = await page.run(FLOW_JS)
        if shown["kind"] != "form":
            break
        step, schema, data = shown["step"], shown["schema"], shown["data"]
        valid = complete(schema, data)
        bad = spoil(schema, valid)
        if bad is None:
            taken.append(_name("options", step, size))
            await page.screenshot(folder / taken[-1])
            break
        if await _submit(page, step, bad) != "error":
            msg = f"options step {step}: {bad} was accepted"
            raise RuntimeError(msg)
        taken.append(_name("options", step, "error", size))
        await page.screenshot(folder / taken[-1])
        if await _submit(page, step, valid) != "next":
            break
    return taken


async def options_tour(page: Page, base: str, folder: Path, size: str) -> list[str]:
    """Take every step of our options flow; return the file names."""
    first = await _open_options(page, base)
    if first["kind"] != "menu":
        return await _form_steps(page, folder, size)
    taken = []
    for option in first["options"]:
        await _open_options(page, base)
        await page.until(CHOOSE_JS, OPTION=option)
        await page.until(f"return (() => {{{FLOW_JS}}})().kind === 'form';")
        taken += await _form_steps(page, folder, size)
    return taken


async def tour(
    page: Page, ready: dict[str, Any], views: list[str], folder: Path
) -> list[str]:
    """Take every screenshot into ``folder``; return their file names."""
    taken: list[str] = []
    for size, (width, height, mobile) in SIZES.items():
        await page.resize(width, height, mobile=mobile)
        for view in views:
            await page.open(f"{ready['dashboard']}/{view}")
            taken.append(_name("dashboard", view, size))
            await page.screenshot(folder / taken[-1])
        await page.go(f"{ready['base']}/config/repairs")
        await page.until(REPAIRS_JS)
        taken.append(_name("repairs", size))
        await page.screenshot(folder / taken[-1])
    # Last: a step submitted with good values saves the options, which reloads the integration
    # (its figures start again).
    for size, (width, height, mobile) in SIZES.items():
        await page.resize(width, height, mobile=mobile)
        taken += await options_tour(page, ready["base"], folder, size)
    return taken
