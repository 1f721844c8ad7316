"""Fix flows of the repair issues.

An alert critical for too long is snoozed, re-thresholded, or fixed by the recommended safe
action when there is one for its subject; GPU monitoring switched on without NVML is switched
back to auto.
"""

from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.components.repairs.models import RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
)
import probatio

from .alert_rules import CONF_CRITICAL, CONF_WARNING, RULES_BY_KEY, RuleKey
from .collectors.base import gpu_subject, request_subject
from .config_flow import threshold_errors
from .const import CONF_ALERT_RULES, CONF_GPU_MONITORING, GPU_MONITORING_AUTO
from .engine.alerts import Direction, ThresholdError, ThresholdProblem, Thresholds
from .engine.recommend import Kind, Recommendation
from .issues import ISSUE_ALERT_PREFIX, ISSUE_NVML_MISSING, with_unit
from .optimizer import async_apply, recommendations
from .validation import not_finite_fields

if TYPE_CHECKING:
    from .coordinator import AIPerformanceConfigEntry

SNOOZE_HOUR_S: Final = 3600
SNOOZE_DAY_S: Final = 24 * 3600
# The error of a threshold the "raise" step would make stricter than it was.
THRESHOLD_NOT_EASED: Final = "threshold_not_eased"
# Why an action was not carried out that means the recommendation no longer applies (the model
# is unloaded already, its server was removed): told in words, not as these ids.
GONE_REASONS: Final = frozenset({"no_action", "server_gone", "not_loaded"})


class AlertRepairFlow(RepairsFlow):
    """Fix an alert critical for too long: snooze it, or raise its thresholds."""

    def __init__(self, entry_id: str, alert_id: str) -> None:
        """Fix alert ``alert_id`` of entry ``entry_id``."""
        self._entry_id = entry_id
        self._alert_id = alert_id

    def _entry(self) -> AIPerformanceConfigEntry | None:
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        return entry

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a menu takes none
    ) -> RepairsFlowResult:
        """Offer the ways to fix it."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        options = ["snooze_hour", "snooze_day", "raise_threshold"]
        if self._optimization(entry) is not None:
            options.insert(0, "apply_optimization")
        return self.async_show_menu(step_id="init", menu_options=options)

    def _optimization(self, entry: AIPerformanceConfigEntry) -> Recommendation | None:
        """Return the recommendation with a safe action for this alert's subject, if any."""
        status = entry.runtime_data.alerts.status(self._alert_id)
        if status is None:
            return None
        return next(
            (
                item
                for item in recommendations(self.hass, entry)
                if item.action is not None
                and status.subject in recommendation_subjects(item)
            ),
            None,
        )

    async def async_step_apply_optimization(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Show the recommended action and its reasons; carry it out once confirmed."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        item = self._optimization(entry)
        if item is None or item.action is None:
            return self.async_abort(reason="optimization_gone")
        if user_input is not None:
            done = await async_apply(entry, item)
            if done.get("reason") in GONE_REASONS:
                return self.async_abort(reason="optimization_gone")
            if not done.get("changed"):
                return self.async_abort(
                    reason="optimization_failed",
                    description_placeholders={"reason": str(done.get("reason"))},
                )
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="apply_optimization",
            description_placeholders={
                "action": item.action.describe(),
                "rationale": item.rationale,
                "effect": item.expected_effect,
            },
        )

    async def async_step_snooze_hour(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a menu choice takes none
    ) -> RepairsFlowResult:
        """Silence the alert for an hour."""
        return self._snooze(SNOOZE_HOUR_S)

    async def async_step_snooze_day(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a menu choice takes none
    ) -> RepairsFlowResult:
        """Silence the alert for a day."""
        return self._snooze(SNOOZE_DAY_S)

    def _snooze(self, seconds: float) -> RepairsFlowResult:
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        entry.runtime_data.alerts.async_snooze(self._alert_id, seconds)
        return self.async_create_entry(data={})

    async def async_step_raise_threshold(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Ask for new warning and critical thresholds; save them in the options."""
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        manager = entry.runtime_data.alerts
        status = manager.status(self._alert_id)
        if status is None:
            return self.async_abort(reason="alert_gone")
        spec = RULES_BY_KEY[RuleKey(status.rule)]
        saved = dict((entry.options.get(CONF_ALERT_RULES) or {}).get(spec.key) or {})
        current = manager.settings.rules[spec.key].thresholds
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _not_eased(spec.direction, current, user_input)
        if user_input is not None and not errors:
            saved |= {
                CONF_WARNING: user_input[CONF_WARNING],
                CONF_CRITICAL: user_input[CONF_CRITICAL],
            }
            try:
                settings = spec.settings_from(saved)
            except ThresholdError as err:
                errors = threshold_errors(err, (CONF_WARNING, CONF_CRITICAL))
            else:
                rules = dict(entry.options.get(CONF_ALERT_RULES) or {})
                rules[spec.key] = settings.as_options()
                self.hass.config_entries.async_update_entry(
                    entry, options={**entry.options, CONF_ALERT_RULES: rules}
                )
                return self.async_create_entry(data={})
        unit = manager.units.get(spec.key, "")
        return self.async_show_form(
            step_id="raise_threshold",
            data_schema=self.add_suggested_values_to_schema(
                threshold_schema(unit),
                user_input
                or {CONF_WARNING: current.warning, CONF_CRITICAL: current.critical},
            ),
            errors=errors,
            description_placeholders={
                "name": status.name,
                "value": with_unit(status.value, unit),
            },
        )


def _not_eased(
    direction: Direction, current: Thresholds, user_input: dict[str, Any]
) -> dict[str, str]:
    """Return an error on each threshold that is no number or is stricter than it was.

    This step only moves thresholds out, away from the value (up, or down where low values
    are bad): tightening them belongs in the options, with the other figures of the rule.
    """
    errors = dict.fromkeys(
        not_finite_fields(user_input), ThresholdProblem.NOT_A_NUMBER.value
    )
    for field, was in (
        (CONF_WARNING, current.warning),
        (CONF_CRITICAL, current.critical),
    ):
        new = user_input[field]
        if field not in errors and (
            new < was if direction is Direction.ABOVE else new > was
        ):
            errors[field] = THRESHOLD_NOT_EASED
    return errors


def recommendation_subjects(item: Recommendation) -> set[str]:
    """Return the alert subjects (devices) a recommendation is about."""
    if item.kind in (Kind.VRAM_PRESSURE, Kind.GPU_THROTTLING):
        return {gpu_subject(item.subject)}
    return {request_subject(item.subject)}


def threshold_schema(unit: str) -> probatio.Schema:
    """Return the form of a warning and a critical threshold in ``unit``."""
    config = NumberSelectorConfig(step="any", mode=NumberSelectorMode.BOX)
    if unit:
        config["unit_of_measurement"] = unit
    number = NumberSelector(config)
    return probatio.Schema(
        {
            probatio.Required(CONF_WARNING): number,
            probatio.Required(CONF_CRITICAL): number,
        }
    )


class NvmlMissingRepairFlow(RepairsFlow):
    """Switch GPU monitoring back to auto: no NVIDIA GPU is expected here after all."""

    def __init__(self, entry_id: str) -> None:
        """Fix the GPU monitoring option of entry ``entry_id``."""
        self._entry_id = entry_id

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - the issue, not an answer
    ) -> RepairsFlowResult:
        """Ask for confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Once confirmed, save the option (the entry reloads)."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_not_loaded")
        if user_input is not None:
            self.hass.config_entries.async_update_entry(
                entry,
                options={**entry.options, CONF_GPU_MONITORING: GPU_MONITORING_AUTO},
            )
            return self.async_create_entry(data={})
        return self.async_show_form(step_id="confirm")


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Return the fix flow of a fixable issue: an alert's, or NVML missing."""
    data = data or {}
    if issue_id.startswith(ISSUE_ALERT_PREFIX):
        return AlertRepairFlow(str(data.get("entry_id")), str(data.get("alert_id")))
    if issue_id == ISSUE_NVML_MISSING:
        return NvmlMissingRepairFlow(str(data.get("entry_id")))
    return ConfirmRepairFlow()
