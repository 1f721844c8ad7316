"""Config flow: one entry per Home Assistant instance, created after the host can be read."""

from collections.abc import Callable, Iterable
from itertools import pairwise
import re
from typing import Any

from homeassistant.components import conversation
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import PERCENTAGE
from homeassistant.core import callback
from homeassistant.generated.currencies import ACTIVE_CURRENCIES
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    ObjectSelector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.helpers.translation import async_get_translations
import probatio
import psutil

from .alert_rules import (
    CONF_CRITICAL,
    CONF_ENABLED,
    CONF_FOR_MINUTES,
    CONF_HYSTERESIS,
    CONF_TARGET,
    CONF_WARNING,
    RULES,
    RULES_BY_KEY,
    RuleKey,
    alert_units,
)
from .collectors.base import Needs
from .collectors.host import HostCollector
from .const import (
    CONF_ALERT_RULES,
    CONF_ANSWER_CODES,
    CONF_AUTO_OPTIMIZE,
    CONF_AUTO_OPTIMIZE_ACTIONS,
    CONF_AVAILABILITY,
    CONF_COOLDOWN_MINUTES,
    CONF_CURRENCY,
    CONF_DISKS,
    CONF_ELECTRICITY_PRICE,
    CONF_GPU_MONITORING,
    CONF_LATENCY_S,
    CONF_MAX_ACTIONS_PER_HOUR,
    CONF_MONTHLY_BUDGET,
    CONF_PRICES,
    CONF_REPAIR_MINUTES,
    CONF_SLA_AGENTS,
    CONF_SLA_CLASSES,
    DEFAULT_COOLDOWN_MINUTES,
    DEFAULT_MAX_ACTIONS_PER_HOUR,
    DEFAULT_REPAIR_MINUTES,
    DOMAIN,
    GPU_MONITORING_AUTO,
    GPU_MONITORING_ON,
)
from .coordinator import AIPerformanceConfigEntry
from .engine.alerts import ThresholdError, ThresholdProblem
from .engine.chat_turns import ERROR_EXCEPTION
from .engine.cost import MAX_PRICE, PriceTableError, parse_price_table
from .engine.recommend import ActionKind
from .engine.requests import Complexity
from .engine.sla import DEFAULT_CLASSES
from .ledger import answer_codes
from .server_flow import SERVER_SUBENTRY_FLOWS
from .sla import SLA_KINDS
from .validation import not_finite_fields, shorten

TITLE = "AI Performance Monitor"
CONF_RULE = "rule"
# Why agents held to one class are refused (options.error keys).
SLA_AGENT_ERRORS = (
    "sla_agents_not_a_table",
    "sla_agents_bad_class",
    "sla_agents_unknown",
)
# The entity domains of agents that can be held to one class.
AGENT_DOMAINS = ("conversation", "ai_task")
# Durations (an alert's, the repair delay) up to a day.
MAX_ALERT_MINUTES = 1440
# Auto-optimisation: the same model changed again after 5 minutes to a day; up to 20 an hour.
MIN_COOLDOWN_MINUTES = 5
MAX_COOLDOWN_MINUTES = 1440
MAX_ACTIONS_PER_HOUR = 20
# The most a share can be.
MAX_PERCENT = 100
# Why a rule's level is refused (options.error keys): below 0, and a share above 100 %.
LEVEL_NEGATIVE, LEVEL_OVER_100_PERCENT = (
    "threshold_negative",
    "threshold_over_100_percent",
)
LEVEL_ERRORS = (LEVEL_NEGATIVE, LEVEL_OVER_100_PERCENT)
# A monthly budget up to a billion in the configured currency.
MAX_MONTHLY_BUDGET = 1_000_000_000
# Per kWh: far above any tariff, in any currency people price electricity in.
MAX_ELECTRICITY_PRICE = 100_000
# The error codes offered as answers (not failures): Home Assistant's intent error codes, and
# ours for an agent that raised or answered with an error. Others can be typed.
KNOWN_ERROR_CODES = (
    "no_intent_match",
    "no_valid_targets",
    "failed_to_handle",
    "unknown",
    ERROR_EXCEPTION,
)
# Why answer codes are refused (options.error keys): a code that is none, and too many.
ANSWER_CODE_ERRORS = ("answer_code_invalid", "answer_codes_too_many")
# What an error code looks like (as requests and pipelines report them), and how many at most.
ERROR_CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
MAX_ANSWER_CODES = 50
# The field each refusal of thresholds sits on: the one to change.
THRESHOLD_ERROR_FIELDS = {
    ThresholdProblem.WRONG_ORDER: CONF_WARNING,
    ThresholdProblem.NEGATIVE_DURATION: CONF_FOR_MINUTES,
    ThresholdProblem.NEGATIVE_HYSTERESIS: CONF_HYSTERESIS,
}


def threshold_errors(err: ThresholdError, fields: Iterable[str]) -> dict[str, str]:
    """Return a form's error for refused thresholds, on its field where the form has it."""
    field = THRESHOLD_ERROR_FIELDS.get(err.problem, "base")
    return {field if field in fields else "base": err.problem.value}


def _whole_number(low: int, high: int, unit: str | None) -> NumberSelector:
    config = NumberSelectorConfig(
        min=low, max=high, step=1, mode=NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


class AIPerformanceConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up AI Performance Monitor."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: AIPerformanceConfigEntry,  # noqa: ARG004 - Home Assistant's signature
    ) -> AIPerformanceOptionsFlow:
        """Return the options flow."""
        return AIPerformanceOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls,
        config_entry: ConfigEntry,  # noqa: ARG003 - Home Assistant's signature
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the model servers that can be added."""
        return dict(SERVER_SUBENTRY_FLOWS)

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm, check that the host can be read, and create the entry.

        One entry monitors the whole instance: the manifest's single_config_entry makes Home
        Assistant refuse a second one before this step runs.
        """
        errors: dict[str, str] = {}
        if user_input is not None:
            if await self._async_host_readable():
                return self.async_create_entry(title=TITLE, data={})
            errors["base"] = "host_unreadable"
        return self.async_show_form(step_id="user", errors=errors)

    async def _async_host_readable(self) -> bool:
        """Take one host sample, as setup will: the test before configuring."""
        collector = HostCollector(self.hass, Needs())
        try:
            await collector.async_start()
            await collector.async_collect()
        except OSError, psutil.Error, NotImplementedError:
            return False
        finally:
            await collector.async_stop()
        return True


def _mount_points() -> list[str]:
    """Return the mounted physical file systems (executor: psutil reads /proc)."""
    return sorted({partition.mountpoint for partition in psutil.disk_partitions()})


def _unreadable(paths: list[str]) -> list[str]:
    """Return the paths whose usage cannot be read (executor)."""
    unreadable = []
    for path in paths:
        try:
            psutil.disk_usage(path)
        except OSError:
            unreadable.append(path)
    return unreadable


class AIPerformanceOptionsFlow(OptionsFlow):
    """Disks to report, what AI requests cost, and alert thresholds (the entry reloads)."""

    def __init__(self) -> None:
        """Start with no alert rule chosen."""
        self._rule: RuleKey | None = None
        self._repair_minutes: float = DEFAULT_REPAIR_MINUTES

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a menu takes none
    ) -> ConfigFlowResult:
        """Offer the groups of options."""
        return self.async_show_menu(
            step_id="init",
            menu_options=["disks", "gpu", "costs", "alerts", "sla", "optimization"],
        )

    def _save(self, **changes: Any) -> ConfigFlowResult:
        """Save ``changes``, keeping the options of the other groups."""
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    def _not_finite(self, user_input: dict[str, Any]) -> dict[str, str]:
        """Return an error on each number of the form that is NaN or infinite.

        A number box takes them (also typed as "nan" or "-inf"); saved, they break every
        figure that uses them, and JSON stores NaN as null.
        """
        errors: dict[str, str] = {}
        for field in not_finite_fields(user_input):
            errors[field] = "number_not_finite"
        return errors

    def _known_agent(self, agent: str) -> bool:
        """Return whether ``agent`` is an agent or AI Task here, or a subject with requests.

        Agents and AI Tasks count by entity id (or, for older agents, by their own id); a
        reported name or an Assist pipeline counts once it has requests.
        """
        hass = self.hass
        if agent.partition(".")[0] in AGENT_DOMAINS and (
            er.async_get(hass).async_get(agent) is not None
            or hass.states.get(agent) is not None
        ):
            return True
        if (
            agent
            and "conversation" in hass.config.components
            and conversation.async_get_agent_info(hass, agent) is not None
        ):
            return True
        data = getattr(self.config_entry, "runtime_data", None)
        subject = None if data is None else data.ledger.subjects.get(agent)
        return subject is not None and subject.kind in SLA_KINDS

    async def async_step_costs(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set the currency, the price of each model's tokens and a monthly budget."""
        errors: dict[str, str] = {}
        placeholders = {"model": "", "field": "", "max_price": f"{MAX_PRICE:g}"}
        if user_input is not None and not (errors := self._not_finite(user_input)):
            prices = user_input.get(CONF_PRICES) or {}
            try:
                parse_price_table(prices)
            except PriceTableError as err:
                errors[CONF_PRICES] = err.problem.value
                placeholders |= {
                    "model": shorten(err.model),
                    "field": shorten(err.field),
                }
            else:
                # The selector refuses negative budgets; zero (or none) means no budget.
                return self._save(
                    **{
                        CONF_CURRENCY: user_input[CONF_CURRENCY],
                        CONF_PRICES: dict(prices),
                        CONF_MONTHLY_BUDGET: user_input.get(CONF_MONTHLY_BUDGET)
                        or None,
                        CONF_ELECTRICITY_PRICE: user_input.get(CONF_ELECTRICITY_PRICE),
                    }
                )
        options = self.config_entry.options
        currency = options.get(CONF_CURRENCY) or self.hass.config.currency
        schema = probatio.Schema(
            {
                probatio.Required(CONF_CURRENCY, default=currency): SelectSelector(
                    SelectSelectorConfig(
                        options=sorted(ACTIVE_CURRENCIES),
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                probatio.Optional(CONF_PRICES): ObjectSelector(),
                probatio.Optional(CONF_MONTHLY_BUDGET): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=MAX_MONTHLY_BUDGET,
                        step="any",
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement=currency,
                    )
                ),
                probatio.Optional(CONF_ELECTRICITY_PRICE): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=MAX_ELECTRICITY_PRICE,
                        step="any",
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement=f"{currency}/kWh",
                    )
                ),
            }
        )
        suggested = {
            CONF_PRICES: options.get(CONF_PRICES) or {},
            CONF_MONTHLY_BUDGET: options.get(CONF_MONTHLY_BUDGET),
            CONF_ELECTRICITY_PRICE: options.get(CONF_ELECTRICITY_PRICE),
        }
        return self.async_show_form(
            step_id="costs",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or suggested
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_disks(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the mounted file systems; check that the chosen ones can be read."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            chosen = list(user_input.get(CONF_DISKS, []))
            unreadable = await self.hass.async_add_executor_job(_unreadable, chosen)
            if not unreadable:
                return self._save(**{CONF_DISKS: chosen})
            errors[CONF_DISKS] = "disk_unreadable"
            placeholders["mounts"] = ", ".join(unreadable)
        current = list(self.config_entry.options.get(CONF_DISKS, []))
        # Keep mounts chosen earlier on offer even if they are gone, so they can be removed.
        mounts = await self.hass.async_add_executor_job(_mount_points)
        schema = probatio.Schema(
            {
                probatio.Optional(CONF_DISKS, default=current): SelectSelector(
                    SelectSelectorConfig(
                        options=sorted({*mounts, *current}),
                        multiple=True,
                        custom_value=False,
                        mode=SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(
            step_id="disks",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_gpu(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose whether a missing NVML is expected (auto) or a problem to repair (on)."""
        if user_input is not None:
            return self._save(**{CONF_GPU_MONITORING: user_input[CONF_GPU_MONITORING]})
        current = self.config_entry.options.get(
            CONF_GPU_MONITORING, GPU_MONITORING_AUTO
        )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_GPU_MONITORING, default=current): SelectSelector(
                    SelectSelectorConfig(
                        options=[GPU_MONITORING_AUTO, GPU_MONITORING_ON],
                        translation_key=CONF_GPU_MONITORING,
                        mode=SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(step_id="gpu", data_schema=schema)

    async def async_step_optimization(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Switch auto-optimisation on or off: allowed actions, cooldown, hourly maximum."""
        options = self.config_entry.options
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := self._not_finite(user_input)):
            if user_input[CONF_AUTO_OPTIMIZE] and not user_input.get(
                CONF_AUTO_OPTIMIZE_ACTIONS
            ):
                errors[CONF_AUTO_OPTIMIZE_ACTIONS] = "no_actions_allowed"
            else:
                return self._save(
                    **{
                        CONF_AUTO_OPTIMIZE: user_input[CONF_AUTO_OPTIMIZE],
                        CONF_AUTO_OPTIMIZE_ACTIONS: list(
                            user_input.get(CONF_AUTO_OPTIMIZE_ACTIONS, [])
                        ),
                        CONF_COOLDOWN_MINUTES: int(user_input[CONF_COOLDOWN_MINUTES]),
                        CONF_MAX_ACTIONS_PER_HOUR: int(
                            user_input[CONF_MAX_ACTIONS_PER_HOUR]
                        ),
                    }
                )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_AUTO_OPTIMIZE, default=False): BooleanSelector(),
                probatio.Optional(CONF_AUTO_OPTIMIZE_ACTIONS): SelectSelector(
                    SelectSelectorConfig(
                        options=[kind.value for kind in ActionKind],
                        multiple=True,
                        translation_key=CONF_AUTO_OPTIMIZE_ACTIONS,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                probatio.Required(
                    CONF_COOLDOWN_MINUTES, default=DEFAULT_COOLDOWN_MINUTES
                ): _whole_number(MIN_COOLDOWN_MINUTES, MAX_COOLDOWN_MINUTES, "min"),
                probatio.Required(
                    CONF_MAX_ACTIONS_PER_HOUR, default=DEFAULT_MAX_ACTIONS_PER_HOUR
                ): _whole_number(1, MAX_ACTIONS_PER_HOUR, None),
            }
        )
        return self.async_show_form(
            step_id="optimization",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or dict(options)
            ),
            errors=errors,
        )

    async def async_step_alerts(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the alert rule to change, and when critical alerts raise a repair issue."""
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := self._not_finite(user_input)):
            self._rule = RuleKey(user_input[CONF_RULE])
            self._repair_minutes = user_input[CONF_REPAIR_MINUTES]
            return await self.async_step_alert_rule()
        schema = probatio.Schema(
            {
                probatio.Required(CONF_RULE): SelectSelector(
                    SelectSelectorConfig(
                        options=[spec.key.value for spec in RULES],
                        translation_key="alert_rule",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                probatio.Required(
                    CONF_REPAIR_MINUTES,
                    default=self.config_entry.options.get(
                        CONF_REPAIR_MINUTES, DEFAULT_REPAIR_MINUTES
                    ),
                ): _minutes(),
            }
        )
        return self.async_show_form(
            step_id="alerts",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
        )

    async def async_step_alert_rule(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set one rule's target, thresholds, duration and hysteresis, or switch it off."""
        assert self._rule is not None  # noqa: S101 - only reached from the alerts step
        spec = RULES_BY_KEY[self._rule]
        options = self.config_entry.options
        rules = dict(options.get(CONF_ALERT_RULES) or {})
        errors: dict[str, str] = {}
        unit = alert_units(options.get(CONF_CURRENCY) or self.hass.config.currency)[
            spec.key
        ]
        translations = await async_get_translations(
            self.hass, self.hass.config.language, "selector", {DOMAIN}
        )
        label = f"component.{DOMAIN}.selector.alert_rule.options.{spec.key}"
        placeholders = {"rule": translations.get(label, spec.key), "unit": unit or "-"}
        if (
            user_input is not None
            and not (errors := self._not_finite(user_input))
            and not (errors := _thresholds_out_of_range(user_input, unit))
        ):
            try:
                settings = spec.settings_from(user_input)
            except ThresholdError as err:
                errors = threshold_errors(
                    err,
                    (CONF_WARNING, CONF_CRITICAL, CONF_FOR_MINUTES, CONF_HYSTERESIS),
                )
            else:
                thresholds = settings.thresholds
                # A value back at the target must clear the alert: past it, nothing may.
                room = abs(thresholds.warning - settings.target)
                if thresholds.past(settings.target, thresholds.warning):
                    errors[CONF_TARGET] = "target_past_warning"
                elif thresholds.hysteresis > room:
                    errors[CONF_HYSTERESIS] = "hysteresis_leaves_no_room"
                    placeholders["room"] = f"{room:g}"
                else:
                    rules[spec.key] = settings.as_options()
                    return self._save(
                        **{
                            CONF_ALERT_RULES: rules,
                            CONF_REPAIR_MINUTES: self._repair_minutes,
                        }
                    )
        number = _number(unit)
        schema = probatio.Schema(
            {
                probatio.Required(CONF_ENABLED): BooleanSelector(),
                probatio.Required(CONF_TARGET): number,
                probatio.Required(CONF_WARNING): number,
                probatio.Required(CONF_CRITICAL): number,
                probatio.Required(CONF_FOR_MINUTES): _minutes(),
                probatio.Required(CONF_HYSTERESIS): _number(unit, minimum=0),
            }
        )
        current = spec.settings_from(rules.get(spec.key)).as_options()
        return self.async_show_form(
            step_id="alert_rule",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or current
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_sla(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set each class's latency target and availability, and agents held to one class."""
        errors: dict[str, str] = {}
        placeholders = {"agent": "", "code": ""}
        if user_input is not None and not (errors := self._not_finite(user_input)):
            agents = user_input.get(CONF_SLA_AGENTS) or {}
            codes = user_input.get(CONF_ANSWER_CODES, [])
            if (field := _latency_out_of_order(user_input)) is not None:
                errors[field] = "sla_latency_order"
            elif (
                problem := _sla_agents_problem(agents, self._known_agent)
            ) is not None:
                errors[CONF_SLA_AGENTS], placeholders["agent"] = problem
            elif (code_problem := _answer_codes_problem(codes)) is not None:
                errors[CONF_ANSWER_CODES], placeholders["code"] = code_problem
            else:
                return self._save(
                    **{
                        CONF_SLA_CLASSES: {
                            level.value: {
                                CONF_LATENCY_S: user_input[f"{level}_{CONF_LATENCY_S}"],
                                CONF_AVAILABILITY: user_input[
                                    f"{level}_{CONF_AVAILABILITY}"
                                ],
                            }
                            for level in Complexity
                        },
                        CONF_SLA_AGENTS: dict(agents),
                        CONF_ANSWER_CODES: sorted(set(codes)),
                    }
                )
        latency = NumberSelector(
            NumberSelectorConfig(
                min=0.1,
                max=600,
                step="any",
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="s",
            )
        )
        availability = NumberSelector(
            NumberSelectorConfig(
                min=50,
                max=100,
                step="any",
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="%",
            )
        )
        fields: dict[Any, Any] = {}
        for level in Complexity:
            fields[probatio.Required(f"{level}_{CONF_LATENCY_S}")] = latency
            fields[probatio.Required(f"{level}_{CONF_AVAILABILITY}")] = availability
        fields[probatio.Optional(CONF_SLA_AGENTS)] = ObjectSelector()
        fields[probatio.Optional(CONF_ANSWER_CODES, default=[])] = SelectSelector(
            SelectSelectorConfig(
                options=list(KNOWN_ERROR_CODES),
                multiple=True,
                custom_value=True,
                translation_key=CONF_ANSWER_CODES,
            )
        )
        saved = self.config_entry.options.get(CONF_SLA_CLASSES) or {}
        current: dict[str, Any] = {
            CONF_SLA_AGENTS: self.config_entry.options.get(CONF_SLA_AGENTS) or {},
            CONF_ANSWER_CODES: sorted(answer_codes(self.config_entry.options)),
        }
        for level, promise in DEFAULT_CLASSES.items():
            chosen = saved.get(level, {})
            current[f"{level}_{CONF_LATENCY_S}"] = chosen.get(
                CONF_LATENCY_S, promise.latency_ms / 1000
            )
            current[f"{level}_{CONF_AVAILABILITY}"] = chosen.get(
                CONF_AVAILABILITY, promise.availability_percent
            )
        return self.async_show_form(
            step_id="sla",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(fields), user_input or current
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


def _latency_out_of_order(user_input: dict[str, Any]) -> str | None:
    """Return the latency target below an easier class's, else None.

    A harder class may take longer, never less long: complex after moderate after simple.
    """
    for easier, harder in pairwise(Complexity):
        field = f"{harder}_{CONF_LATENCY_S}"
        if user_input[field] < user_input[f"{easier}_{CONF_LATENCY_S}"]:
            return field
    return None


def _sla_agents_problem(
    agents: Any, known: Callable[[str], bool]
) -> tuple[str, str] | None:
    """Return (error key, agent) when the agents cannot be held to their classes, else None.

    ``known`` says whether an agent exists; the agent is echoed as a short prefix.
    """
    not_a_table, bad_class, unknown = SLA_AGENT_ERRORS
    if not isinstance(agents, dict):
        return not_a_table, ""
    for agent, level in agents.items():
        if not isinstance(level, str) or level not in set(Complexity):
            return bad_class, shorten(str(agent))
    for agent in agents:
        if not known(str(agent)):
            return unknown, shorten(str(agent))
    return None


def _answer_codes_problem(codes: Any) -> tuple[str, str] | None:
    """Return (error key, code) when ``codes`` are not error codes, else None.

    A code is what a request's error says: short, lower case, without spaces.
    """
    invalid, too_many = ANSWER_CODE_ERRORS
    if not isinstance(codes, list) or len(codes) > MAX_ANSWER_CODES:
        return too_many, str(MAX_ANSWER_CODES)
    for code in codes:
        if not isinstance(code, str) or ERROR_CODE_PATTERN.fullmatch(code) is None:
            return invalid, shorten(str(code))
    return None


def _thresholds_out_of_range(user_input: dict[str, Any], unit: str) -> dict[str, str]:
    """Return an error on each level no figure can have: below 0, or a share above 100 %.

    Every figure a rule watches is 0 or more; past 100 % a level would never be reached,
    switching it off without saying so.
    """
    errors: dict[str, str] = {}
    for field in (CONF_TARGET, CONF_WARNING, CONF_CRITICAL):
        value = user_input.get(field)
        if not isinstance(value, (int, float)):
            continue
        if value < 0:
            errors[field] = LEVEL_NEGATIVE
        elif unit == PERCENTAGE and value > MAX_PERCENT:
            errors[field] = LEVEL_OVER_100_PERCENT
    return errors


def _number(unit: str, minimum: float | None = None) -> NumberSelector:
    """Return a number box in ``unit``, from ``minimum`` when given."""
    config = NumberSelectorConfig(step="any", mode=NumberSelectorMode.BOX)
    if unit:
        config["unit_of_measurement"] = unit
    if minimum is not None:
        config["min"] = minimum
    return NumberSelector(config)


def _minutes() -> NumberSelector:
    """Return a box for a duration in minutes, up to a day."""
    return NumberSelector(
        NumberSelectorConfig(
            min=0,
            max=MAX_ALERT_MINUTES,
            step="any",
            mode=NumberSelectorMode.BOX,
            unit_of_measurement="min",
        )
    )
