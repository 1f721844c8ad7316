"""Actions: report and rate requests, load and unload Ollama models, optimise.

Input is validated here rather than by a schema, so that every mistake gets a translated error
naming the field, and nothing is recorded or changed unless everything is right. Actions that
change something (models, optimisation) are for administrators only.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
import math
import time
from typing import Any, Final

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.service import (
    async_get_config_entry,
    async_register_admin_service,
)
from homeassistant.util import dt as dt_util, ulid as ulid_util
import probatio

from .benchmark import DEFAULT_COUNT, DEFAULT_WARM_UP, async_benchmark_plan
from .const import DOMAIN
from .coordinator import AIPerformanceConfigEntry
from .dashboard import async_create_dashboard
from .engine.recommend import ActionKind, Kind, ModelAction
from .engine.requests import MAX_DURATION_MS, MAX_TOKENS, RequestRecord, RequestSource
from .ledger import RequestLedger, SubjectKind
from .model_control import (
    KEEP_FOREVER,
    MAX_KEEP_ALIVE_S,
    UNLOAD_NOW,
    async_carry_out,
    ollama_server,
)
from .optimizer import async_optimize
from .report import PERIOD_DAYS, async_report, report_period
from .validation import shorten

SERVICE_RECORD_REQUEST: Final = "record_request"
SERVICE_RATE_RESPONSE: Final = "rate_response"
SERVICE_PRELOAD_MODEL: Final = "preload_model"
SERVICE_UNLOAD_MODEL: Final = "unload_model"
SERVICE_SET_KEEP_ALIVE: Final = "set_keep_alive"
SERVICE_OPTIMIZE: Final = "optimize"
SERVICE_RUN_BENCHMARK: Final = "run_benchmark"
SERVICE_CANCEL_BENCHMARK: Final = "cancel_benchmark"
SERVICE_GET_REPORT: Final = "get_report"
SERVICE_SNOOZE_ALERT: Final = "snooze_alert"
SERVICE_ACKNOWLEDGE_ALERT: Final = "acknowledge_alert"
SERVICE_RESET_STATISTICS: Final = "reset_statistics"
SERVICE_CREATE_DASHBOARD: Final = "create_dashboard"

ATTR_SUBJECT: Final = "subject"
ATTR_DURATION_MS: Final = "duration_ms"
ATTR_TTFT_MS: Final = "ttft_ms"
ATTR_INPUT_TOKENS: Final = "input_tokens"
ATTR_OUTPUT_TOKENS: Final = "output_tokens"
ATTR_CACHED_INPUT_TOKENS: Final = "cached_input_tokens"
ATTR_MODEL: Final = "model"
ATTR_ERROR: Final = "error"
ATTR_RATING: Final = "rating"
ATTR_CONVERSATION_ID: Final = "conversation_id"
ATTR_AGENT_ID: Final = "agent_id"
ATTR_SERVER: Final = "server"
ATTR_KEEP_ALIVE: Final = "keep_alive"
ATTR_DRY_RUN: Final = "dry_run"
ATTR_KINDS: Final = "kinds"
ATTR_AGENTS: Final = "agents"
ATTR_MODELS: Final = "models"
ATTR_PROMPTS: Final = "prompts"
ATTR_COUNT: Final = "count"
ATTR_CONCURRENCY: Final = "concurrency"
ATTR_WARM_UP: Final = "warm_up"
ATTR_PERIOD: Final = "period"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_ENTITY_ID: Final = "entity_id"
ATTR_ALERT_ID: Final = "alert_id"
ATTR_MINUTES: Final = "minutes"
ATTR_CONFIRM: Final = "confirm"

MAX_SNOOZE_MINUTES: Final = 7 * 24 * 60
DEFAULT_SNOOZE_MINUTES: Final = 60

MAX_PROMPT: Final = 2000
MAX_PROMPTS: Final = 20
MAX_TARGETS: Final = 4
MAX_COUNT: Final = 100
MAX_CONCURRENCY: Final = 8
MAX_WARM_UP: Final = 10

MAX_TEXT: Final = 100
RATINGS: Final = ("up", "down")
# Entity domains whose requests the integration measures itself: never a reported subject.
OBSERVED_DOMAINS: Final = ("conversation.", "ai_task.")


class _InvalidFieldError(Exception):
    """One field is wrong: carries the translation placeholders."""

    def __init__(self, field: str, expected: str, value: Any) -> None:
        super().__init__(field)
        self.placeholders = {
            "field": field,
            "expected": expected,
            "value": shorten(repr(value)),
        }


def _number(value: Any, field: str, low: float, high: float) -> float:
    expected = f"a number from {low:,.15g} to {high:,.15g}"
    if isinstance(value, bool):
        raise _InvalidFieldError(field, expected, value)
    try:
        number = float(value)
    except TypeError, ValueError:
        raise _InvalidFieldError(field, expected, value) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise _InvalidFieldError(field, expected, value)
    return number


def _duration(value: Any, field: str) -> float:
    return _number(value, field, 0, MAX_DURATION_MS)


def _tokens(value: Any, field: str) -> int:
    number = _number(value, field, 0, MAX_TOKENS)
    if number != int(number):
        raise _InvalidFieldError(field, f"a whole number from 0 to {MAX_TOKENS}", value)
    return int(number)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _InvalidFieldError(field, f"text of 1 to {MAX_TEXT} characters", value)
    return value.strip()


def _keep_alive(value: Any, field: str) -> int:
    number = _number(value, field, KEEP_FOREVER, MAX_KEEP_ALIVE_S)
    if number != int(number):
        raise _InvalidFieldError(
            field, f"whole seconds from -1 to {MAX_KEEP_ALIVE_S}", value
        )
    return int(number)


def _whole(low: int, high: int) -> Callable[[Any, str], int]:
    def convert(value: Any, field: str) -> int:
        number = _number(value, field, low, high)
        if number != int(number):
            raise _InvalidFieldError(
                field, f"a whole number from {low} to {high}", value
            )
        return int(number)

    return convert


def _texts(max_items: int, max_length: int) -> Callable[[Any, str], list[str]]:
    """Convert a list of 1 to ``max_items`` texts (a single text is a list of one)."""

    def convert(value: Any, field: str) -> list[str]:
        items = [value] if isinstance(value, str) else value
        expected = f"a list of 1 to {max_items} texts of up to {max_length} characters"
        if (
            not isinstance(items, list)
            or not 1 <= len(items) <= max_items
            or not all(
                isinstance(i, str) and i.strip() and len(i) <= max_length for i in items
            )
        ):
            raise _InvalidFieldError(field, expected, value)
        return [item.strip() for item in items]

    return convert


def _period(value: Any, field: str) -> str:
    if value not in PERIOD_DAYS:
        raise _InvalidFieldError(field, " or ".join(PERIOD_DAYS), value)
    return str(value)


def _kinds(value: Any, field: str) -> set[Kind]:
    """Convert a list of recommendation kinds (a single kind is a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(i in Kind for i in items):
        raise _InvalidFieldError(field, "a list of " + ", ".join(Kind), value)
    return {Kind(item) for item in items}


def _datetime(value: Any, field: str) -> datetime:
    """Convert a time (a datetime, or ISO 8601 text); without a zone it is local time."""
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        parsed = dt_util.parse_datetime(value)
    if parsed is None:
        raise _InvalidFieldError(field, "a date and time (ISO 8601)", value)
    return (
        parsed
        if parsed.tzinfo
        else parsed.replace(tzinfo=dt_util.get_default_time_zone())
    )


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _InvalidFieldError(field, "true or false", value)
    return value


def _rating(value: Any, field: str) -> str:
    if value not in RATINGS:
        raise _InvalidFieldError(field, "up or down", value)
    return str(value)


_RECORD_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_SUBJECT: _text,
    ATTR_DURATION_MS: _duration,
    ATTR_TTFT_MS: _duration,
    ATTR_INPUT_TOKENS: _tokens,
    ATTR_OUTPUT_TOKENS: _tokens,
    ATTR_CACHED_INPUT_TOKENS: _tokens,
    ATTR_MODEL: _text,
    ATTR_ERROR: _text,
}
_RATE_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_RATING: _rating,
    ATTR_CONVERSATION_ID: _text,
    ATTR_AGENT_ID: _text,
}
_MODEL_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_SERVER: _text,
    ATTR_MODEL: _text,
    ATTR_KEEP_ALIVE: _keep_alive,
}
_UNLOAD_FIELDS: Final = {
    key: check for key, check in _MODEL_FIELDS.items() if key != ATTR_KEEP_ALIVE
}
_OPTIMIZE_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_DRY_RUN: _boolean,
    ATTR_KINDS: _kinds,
}
_BENCHMARK_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_AGENTS: _texts(MAX_TARGETS, MAX_TEXT),
    ATTR_MODELS: _texts(MAX_TARGETS, MAX_TEXT),
    ATTR_SERVER: _text,
    ATTR_PROMPTS: _texts(MAX_PROMPTS, MAX_PROMPT),
    ATTR_COUNT: _whole(1, MAX_COUNT),
    ATTR_CONCURRENCY: _whole(1, MAX_CONCURRENCY),
    ATTR_WARM_UP: _whole(0, MAX_WARM_UP),
}


_REPORT_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_PERIOD: _period,
    ATTR_START: _datetime,
    ATTR_END: _datetime,
}
_ALERT_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_ENTITY_ID: _text,
    ATTR_ALERT_ID: _text,
}
_SNOOZE_FIELDS: Final = {**_ALERT_FIELDS, ATTR_MINUTES: _whole(0, MAX_SNOOZE_MINUTES)}
_RESET_FIELDS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    ATTR_SUBJECT: _text,
    ATTR_CONFIRM: _boolean,
}


def _check_report(values: dict[str, Any]) -> None:
    """Take a named period, or a start (with an end or not), not both."""
    if ATTR_PERIOD in values and ATTR_START in values:
        raise _InvalidFieldError(ATTR_START, "no start together with a period", "")
    if ATTR_END in values and ATTR_START not in values:
        raise _InvalidFieldError(ATTR_END, "an end only together with a start", "")


def _check_alert(values: dict[str, Any]) -> None:
    """Take the alert's entity or its id: exactly one."""
    if (ATTR_ENTITY_ID in values) == (ATTR_ALERT_ID in values):
        fields = f"{ATTR_ENTITY_ID} or {ATTR_ALERT_ID}"
        raise _InvalidFieldError(fields, "exactly one of them", "")


def _check_benchmark(values: dict[str, Any]) -> None:
    """Refuse more targets than can be compared."""
    targets = len(values.get(ATTR_AGENTS, [])) + len(values.get(ATTR_MODELS, []))
    if targets > MAX_TARGETS:
        fields = f"{ATTR_AGENTS} and {ATTR_MODELS}"
        expected = f"at most {MAX_TARGETS} targets together"
        raise _InvalidFieldError(fields, expected, targets)


def _validated(
    data: Mapping[str, Any],
    fields: Mapping[str, Callable[[Any, str], Any]],
    required: tuple[str, ...],
    check: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Return the call's fields converted, or raise a translated error for the first problem.

    ``check`` tests the converted fields against each other, raising _InvalidFieldError.
    """
    if unknown := sorted(set(data) - set(fields)):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_fields",
            translation_placeholders={
                "fields": shorten(", ".join(unknown)),
                "known": ", ".join(fields),
            },
        )
    for field in required:
        if data.get(field) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="missing_field",
                translation_placeholders={"field": field},
            )
    try:
        values = {
            field: convert(data[field], field)
            for field, convert in fields.items()
            if data.get(field) is not None
        }
        if check is not None:
            check(values)
    except _InvalidFieldError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_field",
            translation_placeholders=err.placeholders,
        ) from None
    return values


def _check_record(values: dict[str, Any]) -> None:
    """Refuse a first token after the end, or more cached than input tokens."""
    duration_ms = values[ATTR_DURATION_MS]
    if (ttft := values.get(ATTR_TTFT_MS, 0)) > duration_ms:
        expected = f"at most the duration, {duration_ms:,.15g} ms"
        raise _InvalidFieldError(ATTR_TTFT_MS, expected, ttft)
    cached = values.get(ATTR_CACHED_INPUT_TOKENS, 0)
    if cached > values.get(ATTR_INPUT_TOKENS, math.inf):
        raise _InvalidFieldError(
            ATTR_CACHED_INPUT_TOKENS, "at most the input tokens", cached
        )


def _record(call: ServiceCall) -> RequestRecord:
    values = _validated(
        call.data, _RECORD_FIELDS, (ATTR_SUBJECT, ATTR_DURATION_MS), _check_record
    )
    duration_ms = values[ATTR_DURATION_MS]
    end = time.time()
    return RequestRecord(
        id=ulid_util.ulid_now(),
        source=RequestSource.EXTERNAL,
        subject=values[ATTR_SUBJECT],
        start=end - duration_ms / 1000,
        end=end,
        model=values.get(ATTR_MODEL),
        ttft_ms=values.get(ATTR_TTFT_MS),
        input_tokens=values.get(ATTR_INPUT_TOKENS),
        output_tokens=values.get(ATTR_OUTPUT_TOKENS),
        cached_input_tokens=values.get(ATTR_CACHED_INPUT_TOKENS),
        error=values.get(ATTR_ERROR),
    )


def _loaded_entry(hass: HomeAssistant) -> AIPerformanceConfigEntry:
    entry: AIPerformanceConfigEntry = async_get_config_entry(hass, DOMAIN, None)
    return entry


def _observed(hass: HomeAssistant, ledger: RequestLedger, subject: str) -> bool:
    """Return whether the integration measures ``subject`` itself.

    Reported requests go only to subjects of their own: never into an agent or AI Task entity
    (whether it was used yet or not), an Assist pipeline, or any subject measured here (a probe,
    a benchmark, an agent known by an id that is not an entity's).
    """
    if subject.casefold().startswith(OBSERVED_DOMAINS):
        return True
    known = ledger.subjects.get(subject)
    if known is not None and known.kind is not SubjectKind.EXTERNAL:
        return True
    if "assist_pipeline" in hass.config.components:
        from homeassistant.components import assist_pipeline  # noqa: PLC0415 - only when loaded

        folded = subject.casefold()
        return any(
            p.id.casefold() == folded for p in assist_pipeline.async_get_pipelines(hass)
        )
    return False


@callback
def _record_request(hass: HomeAssistant, call: ServiceCall) -> None:
    record = _record(call)
    ledger = _loaded_entry(hass).runtime_data.ledger
    if _observed(hass, ledger, record.subject):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="observed_subject",
            translation_placeholders={
                "field": ATTR_SUBJECT,
                "subject": shorten(record.subject),
            },
        )
    ledger.add(record)


@callback
def _rate_response(hass: HomeAssistant, call: ServiceCall) -> None:
    values = _validated(call.data, _RATE_FIELDS, (ATTR_RATING,))
    ledger = _loaded_entry(hass).runtime_data.ledger
    target = values.get(ATTR_CONVERSATION_ID) or values.get(ATTR_AGENT_ID)
    try:
        ledger.rate(
            values.get(ATTR_AGENT_ID),
            values.get(ATTR_CONVERSATION_ID),
            up=values[ATTR_RATING] == "up",
        )
    except LookupError:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_request_to_rate",
            translation_placeholders={"target": shorten(target or "any agent")},
        ) from None


async def _change_model(
    kind: ActionKind,
    fields: Mapping[str, Callable[[Any, str], Any]],
    required: tuple[str, ...],
    hass: HomeAssistant,
    call: ServiceCall,
) -> ServiceResponse:
    values = _validated(call.data, fields, (ATTR_MODEL, *required))
    entry = _loaded_entry(hass)
    server = ollama_server(hass, entry, values.get(ATTR_SERVER))
    keep_alive = values.get(ATTR_KEEP_ALIVE)
    action = ModelAction(
        ActionKind.UNLOAD if keep_alive == UNLOAD_NOW else kind,
        server.settings.subentry_id,
        values[ATTR_MODEL],
        keep_alive,
    )
    return await async_carry_out(entry, server, action)


async def _optimize(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    values = _validated(call.data, _OPTIMIZE_FIELDS, ())
    return await async_optimize(
        hass,
        _loaded_entry(hass),
        dry_run=values.get(ATTR_DRY_RUN, True),
        kinds=values.get(ATTR_KINDS),
    )


async def _run_benchmark(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    values = _validated(call.data, _BENCHMARK_FIELDS, (), _check_benchmark)
    entry = _loaded_entry(hass)
    server = None
    if values.get(ATTR_MODELS):
        server = ollama_server(hass, entry, values.get(ATTR_SERVER))
    plan = await async_benchmark_plan(
        hass,
        agents=values.get(ATTR_AGENTS, []),
        server=server,
        models=values.get(ATTR_MODELS, []),
        prompts=values.get(ATTR_PROMPTS),
        count=values.get(ATTR_COUNT, DEFAULT_COUNT),
        concurrency=values.get(ATTR_CONCURRENCY, 1),
        warm_up=values.get(ATTR_WARM_UP, DEFAULT_WARM_UP),
    )
    runner = entry.runtime_data.benchmark
    # Without a caller waiting for the results, they go to a notification.
    run = runner.async_start(plan, notify=not call.return_response)
    if not call.return_response:
        return None
    await runner.async_wait()
    return run.as_dict()


@callback
def _cancel_benchmark(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    _validated(call.data, {}, ())
    return {"cancelled": _loaded_entry(hass).runtime_data.benchmark.async_cancel()}


async def _get_report(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    values = _validated(call.data, _REPORT_FIELDS, (), _check_report)
    start, end = report_period(
        values.get(ATTR_PERIOD), values.get(ATTR_START), values.get(ATTR_END)
    )
    return await async_report(hass, _loaded_entry(hass), start, end)


def _alert_id(entry: AIPerformanceConfigEntry, values: dict[str, Any]) -> str:
    """Return the alert an action names by its entity or id; raise for an unknown one."""
    alerts = entry.runtime_data.alerts
    named = values.get(ATTR_ENTITY_ID) or values[ATTR_ALERT_ID]
    key: str = alerts.entity_alerts.get(named, named)
    if alerts.status(key) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_alert",
            translation_placeholders={"alert": shorten(named)},
        )
    return key


@callback
def _snooze_alert(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    values = _validated(call.data, _SNOOZE_FIELDS, (), _check_alert)
    entry = _loaded_entry(hass)
    key = _alert_id(entry, values)
    minutes = values.get(ATTR_MINUTES, DEFAULT_SNOOZE_MINUTES)
    entry.runtime_data.alerts.async_snooze(key, minutes * 60)
    return {"alert_id": key, "snoozed_minutes": minutes}


@callback
def _acknowledge_alert(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    values = _validated(call.data, _ALERT_FIELDS, (), _check_alert)
    entry = _loaded_entry(hass)
    key = _alert_id(entry, values)
    alerts = entry.runtime_data.alerts
    if not alerts.async_acknowledge(key):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="alert_not_raised",
            translation_placeholders={"alert": key},
        )
    entry.runtime_data.coordinator.async_update_listeners()
    return {"alert_id": key, "acknowledged": True}


async def _create_dashboard(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    _validated(call.data, {}, ())
    # Admin only (registered so): the caller is a user, whose rights Lovelace checks again.
    user = await hass.auth.async_get_user(call.context.user_id or "")
    if user is None:
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="dashboard_needs_user"
        )
    return await async_create_dashboard(hass, _loaded_entry(hass).entry_id, user)


async def _reset_statistics(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    values = _validated(call.data, _RESET_FIELDS, ())
    ledger = _loaded_entry(hass).runtime_data.ledger
    subject = values.get(ATTR_SUBJECT)
    if subject is not None and subject not in ledger.subjects:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_subject",
            translation_placeholders={
                "subject": shorten(subject),
                "subjects": ", ".join(sorted(ledger.subjects)) or "none",
            },
        )
    keys = [subject] if subject is not None else list(ledger.subjects)
    if not values.get(ATTR_CONFIRM):
        # Say exactly what would be reset; change nothing.
        requests = sum(ledger.summary(key)["requests"] for key in keys)
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="confirm_reset",
            translation_placeholders={
                "subjects": ", ".join(keys) or "none",
                "requests": str(requests),
            },
        )
    reset: dict[str, Any] = ledger.reset(keys)
    return {"reset": reset}


# Actions anyone may call, and those that change something (administrators only).
type _Handler = Callable[[HomeAssistant, ServiceCall], Any]

_ACTIONS: Final[dict[str, tuple[_Handler, SupportsResponse]]] = {
    SERVICE_RECORD_REQUEST: (_record_request, SupportsResponse.NONE),
    SERVICE_RATE_RESPONSE: (_rate_response, SupportsResponse.NONE),
    SERVICE_RUN_BENCHMARK: (_run_benchmark, SupportsResponse.OPTIONAL),
    SERVICE_CANCEL_BENCHMARK: (_cancel_benchmark, SupportsResponse.OPTIONAL),
    SERVICE_GET_REPORT: (_get_report, SupportsResponse.ONLY),
    SERVICE_SNOOZE_ALERT: (_snooze_alert, SupportsResponse.OPTIONAL),
    SERVICE_ACKNOWLEDGE_ALERT: (_acknowledge_alert, SupportsResponse.OPTIONAL),
}
_ADMIN_ACTIONS: Final[dict[str, _Handler]] = {
    SERVICE_PRELOAD_MODEL: partial(
        _change_model, ActionKind.PRELOAD, _MODEL_FIELDS, ()
    ),
    SERVICE_UNLOAD_MODEL: partial(_change_model, ActionKind.UNLOAD, _UNLOAD_FIELDS, ()),
    SERVICE_SET_KEEP_ALIVE: partial(
        _change_model, ActionKind.KEEP_ALIVE, _MODEL_FIELDS, (ATTR_KEEP_ALIVE,)
    ),
    SERVICE_OPTIMIZE: _optimize,
    SERVICE_RESET_STATISTICS: _reset_statistics,
    SERVICE_CREATE_DASHBOARD: _create_dashboard,
}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, in async_setup, so they exist even while unloaded)."""
    for service, (handler, response) in _ACTIONS.items():
        hass.services.async_register(
            DOMAIN, service, partial(handler, hass), supports_response=response
        )
    for service, admin_handler in _ADMIN_ACTIONS.items():
        async_register_admin_service(
            hass,
            DOMAIN,
            service,
            partial(admin_handler, hass),
            # Every field is checked by _validated, for translated errors.
            schema=probatio.Schema({}, extra=probatio.ALLOW_EXTRA),
            supports_response=SupportsResponse.OPTIONAL,
        )
