"""Repair issues: raised when something stays wrong, deleted as soon as it is right again.

The fix flows of the fixable ones are in repairs.py.
"""

from dataclasses import dataclass
import inspect
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN

ISSUE_SERVER_UNREACHABLE: Final = "server_unreachable"
ISSUE_AI_HOST_UNREACHABLE: Final = "ai_host_unreachable"
ISSUE_SOURCE_FAILING: Final = "source_failing"
ISSUE_NVML_MISSING: Final = "nvml_missing"
# Home Assistant 2026.11 ties an issue to its config entry; 2026.10 does not know the argument.
_ISSUES_TAKE_ENTRY: Final = (
    "config_entry_id" in inspect.signature(ir.async_create_issue).parameters
)


def _entry_argument(entry_id: str) -> dict[str, Any]:
    return {"config_entry_id": entry_id} if _ISSUES_TAKE_ENTRY else {}


def local_time(timestamp: float) -> str:
    """Return a moment as an issue shows it: in Home Assistant's time zone, to the second."""
    return (
        dt_util.as_local(dt_util.utc_from_timestamp(timestamp))
        .replace(microsecond=0)
        .isoformat(sep=" ")
    )


def _server_issue_id(subentry_id: str) -> str:
    return f"{ISSUE_SERVER_UNREACHABLE}_{subentry_id}"


@callback
def async_raise_server_unreachable(
    hass: HomeAssistant,
    entry_id: str,
    subentry_id: str,
    placeholders: dict[str, str],
) -> None:
    """Raise (or refresh) the issue of a model server that has been down for a while.

    ``placeholders``: the server's name, the minutes it has been down and the last error.
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        _server_issue_id(subentry_id),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="server_unreachable",
        translation_placeholders=placeholders,
        **_entry_argument(entry_id),
    )


@callback
def async_clear_server_unreachable(hass: HomeAssistant, subentry_id: str) -> None:
    """Delete the issue of a server that answers again (nothing happens without one)."""
    ir.async_delete_issue(hass, DOMAIN, _server_issue_id(subentry_id))


def _ai_host_issue_id(subentry_id: str, which: str) -> str:
    return f"{ISSUE_AI_HOST_UNREACHABLE}_{subentry_id}_{which}"


@callback
def async_raise_ai_host_unreachable(
    hass: HomeAssistant,
    entry_id: str,
    subentry_id: str,
    which: str,
    placeholders: dict[str, str],
) -> None:
    """Raise (or refresh) the issue of an AI host's exporter that has been down for a while.

    ``which``: "node" or "gpu"; ``placeholders``: the host's name, the exporter's, the
    minutes it has been down and the last error.
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        _ai_host_issue_id(subentry_id, which),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="ai_host_unreachable",
        translation_placeholders=placeholders,
        **_entry_argument(entry_id),
    )


@callback
def async_clear_ai_host_unreachable(
    hass: HomeAssistant, subentry_id: str, which: str
) -> None:
    """Delete the issue of an AI host's exporter that answers again."""
    ir.async_delete_issue(hass, DOMAIN, _ai_host_issue_id(subentry_id, which))


@callback
def async_clear_removed_servers(hass: HomeAssistant, subentry_ids: set[str]) -> None:
    """Delete the issues of servers and AI hosts that are no longer configured."""
    server_prefix = f"{ISSUE_SERVER_UNREACHABLE}_"
    host_prefix = f"{ISSUE_AI_HOST_UNREACHABLE}_"
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain != DOMAIN:
            continue
        if issue_id.startswith(server_prefix):
            subentry_id = issue_id.removeprefix(server_prefix)
        elif issue_id.startswith(host_prefix):
            subentry_id = issue_id.removeprefix(host_prefix).rpartition("_")[0]
        else:
            continue
        if subentry_id not in subentry_ids:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


# --- Sources ------------------------------------------------------------------------------------


def source_issue_id(source: str) -> str:
    """Return the id of the issue of source ``source`` failing for too long."""
    return f"{ISSUE_SOURCE_FAILING}_{source}"


@callback
def async_raise_source_failing(
    hass: HomeAssistant, entry_id: str, source: str, placeholders: dict[str, str]
) -> None:
    """Raise the issue of a source that has failed every collection for a while.

    ``placeholders``: the source, since when it fails, and its last error.
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        source_issue_id(source),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="source_failing",
        translation_placeholders=placeholders,
        **_entry_argument(entry_id),
    )


@callback
def async_raise_nvml_missing(hass: HomeAssistant, entry_id: str, error: str) -> None:
    """Raise the issue of GPU monitoring switched on without NVML; fixed by switching to auto."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_NVML_MISSING,
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="nvml_missing",
        translation_placeholders={"error": error},
        data={"entry_id": entry_id},
        **_entry_argument(entry_id),
    )


# --- Alerts critical for too long -------------------------------------------------------------

ISSUE_ALERT_PREFIX: Final = "alert_"


@dataclass(frozen=True, slots=True)
class AlertIssue:
    """An alert that has been critical for longer than the repair delay."""

    alert_id: str
    rule: str
    name: str
    value: float | None
    threshold: float
    unit: str
    since: str


def _alert_issue_id(alert_id: str) -> str:
    return f"{ISSUE_ALERT_PREFIX}{alert_id}"


def with_unit(value: float | None, unit: str) -> str:
    """Return a value and its unit as a placeholder shows them."""
    if value is None:
        return "?"
    return f"{value:g} {unit}".strip()


@callback
def async_sync_alert_issues(
    hass: HomeAssistant, entry_id: str, wanted: dict[str, AlertIssue]
) -> None:
    """Raise the issue of every alert in ``wanted``; delete this entry's other alert issues."""
    registry = ir.async_get(hass)
    for (domain, issue_id), issue in list(registry.issues.items()):
        if (
            domain == DOMAIN
            and issue_id.startswith(ISSUE_ALERT_PREFIX)
            and (issue.data or {}).get("entry_id") == entry_id
            and issue_id.removeprefix(ISSUE_ALERT_PREFIX) not in wanted
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for alert in wanted.values():
        issue_id = _alert_issue_id(alert.alert_id)
        # After a restart Home Assistant holds the issues it saved as inactive (no text, not
        # shown) until their integration raises them again.
        existing = registry.async_get_issue(DOMAIN, issue_id)
        if existing is not None and existing.active:
            continue
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            data={"entry_id": entry_id, "alert_id": alert.alert_id},
            is_fixable=True,
            severity=ir.IssueSeverity.ERROR,
            translation_key=f"alert_{alert.rule}",
            translation_placeholders={
                "name": alert.name,
                "value": with_unit(alert.value, alert.unit),
                "threshold": with_unit(alert.threshold, alert.unit),
                "since": alert.since,
            },
            **_entry_argument(entry_id),
        )


# --- Latency regressed after an update ----------------------------------------------------------

ISSUE_REGRESSION_PREFIX: Final = "latency_regressed_"


@dataclass(frozen=True, slots=True)
class RegressionIssue:
    """What the issue of a subject slower after an update says.

    ``since_update``: found by comparing the day before the update with the hours since,
    rather than by an anomaly that started within the day.
    """

    placeholders: dict[str, str]
    since_update: bool = False


@callback
def async_sync_regression_issues(
    hass: HomeAssistant, entry_id: str, wanted: dict[str, RegressionIssue | None]
) -> None:
    """Keep the issue of every subject in ``wanted``; delete this entry's other ones.

    ``wanted``: subject key -> its issue, or None to keep an issue already raised without
    raising one (its figures are not known yet, after a restart).
    """
    registry = ir.async_get(hass)
    for (domain, issue_id), issue in list(registry.issues.items()):
        if (
            domain == DOMAIN
            and issue_id.startswith(ISSUE_REGRESSION_PREFIX)
            and (issue.data or {}).get("entry_id") == entry_id
            and issue_id.removeprefix(ISSUE_REGRESSION_PREFIX) not in wanted
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for key, regression in wanted.items():
        issue_id = f"{ISSUE_REGRESSION_PREFIX}{key}"
        # Raised once per regression, and again after a restart (which leaves it inactive);
        # one the user ignored stays ignored.
        raised = registry.async_get_issue(DOMAIN, issue_id)
        if regression is None or (raised is not None and raised.active):
            continue
        common: dict[str, Any] = {
            "data": {"entry_id": entry_id},
            "is_fixable": False,
            "severity": ir.IssueSeverity.WARNING,
            "translation_placeholders": regression.placeholders,
            **_entry_argument(entry_id),
        }
        if regression.since_update:
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id,
                translation_key="latency_regressed_since_update",
                **common,
            )
        else:
            ir.async_create_issue(
                hass, DOMAIN, issue_id, translation_key="latency_regressed", **common
            )
