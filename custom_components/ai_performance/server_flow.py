"""Config subentry flows: add or reconfigure a model server (Ollama, vLLM / llama.cpp, Prometheus).

Each flow reads the server before saving, exactly as its collector will, and shows a translated
error (``cannot_connect``, ``invalid_auth``, ``unknown``, ...) until it answers as expected.
"""

from abc import abstractmethod
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import (
    CONF_API_KEY,
    CONF_SCAN_INTERVAL,
    CONF_URL,
    CONF_VERIFY_SSL,
)
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    ObjectSelector,
    ObjectSelectorConfig,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .collectors.servers.base import POLL_TIMEOUT_S
from .collectors.servers.client import (
    ServerClient,
    ServerError,
    ServerProblem,
    async_error_text,
)
from .collectors.servers.openai_compatible import served_models, server_kind
from .collectors.servers.prometheus import (
    PRESETS,
    QueryError,
    QueryProblem,
    async_run_query,
    configured_queries,
    user_query_key,
)
from .const import (
    CONF_OUTAGE_MINUTES,
    CONF_PRESETS,
    CONF_PROBE_MINUTES,
    CONF_PROBE_MODEL,
    CONF_QUERIES,
    CONF_QUERY,
    CONF_SERVER_KIND,
    DEFAULT_OUTAGE_MINUTES,
    DEFAULT_SERVER_INTERVAL_S,
    LOGGER,
    MAX_SERVER_INTERVAL_S,
    MIN_SERVER_INTERVAL_S,
    SUBENTRY_OLLAMA,
    SUBENTRY_OPENAI_COMPATIBLE,
    SUBENTRY_PROMETHEUS,
)
from .engine.ollama import parse_installed_models, parse_version
from .engine.server_metrics import KIND_NAMES, ServerKind
from .validation import ERROR_NOT_FINITE, not_finite_fields, shorten

OLLAMA_DOMAIN: Final = "ollama"
MAX_PROBE_MINUTES: Final = 1440
MAX_OUTAGE_MINUTES: Final = 1440
CONF_NAME: Final = "name"
CONF_UNIT: Final = "unit"

# Flow errors (translation keys).
ERROR_INVALID_URL: Final = "invalid_url"
ERROR_INVALID_PORT: Final = "invalid_port"
ERROR_URL_QUERY: Final = "url_query"
ERROR_CREDENTIALS_AND_API_KEY: Final = "credentials_and_api_key"
ERROR_PROBE_MODEL_MISSING: Final = "probe_model_missing"
ERROR_PROBE_MODEL_UNKNOWN: Final = "probe_model_unknown"
ERROR_NO_METRICS: Final = "no_metrics"
ERROR_NO_QUERIES: Final = "no_queries"
ERROR_QUERY_INVALID: Final = "query_invalid"
ERROR_QUERY_FAILED: Final = "query_failed"
# What a query may give when it is added: a fleet with nothing to show yet, or no number now.
PASSING_PROBLEMS: Final = frozenset({QueryProblem.EMPTY, QueryProblem.NOT_FINITE})

ERROR_UNKNOWN: Final = "unknown"
ERROR_UNEXPECTED_ANSWER: Final = "unexpected_answer"
ERROR_INVALID_AUTH: Final = "invalid_auth"
ERROR_CREDENTIALS_REFUSED: Final = "credentials_refused"
# What each problem reading a server is called in the flow, and the field it sits on: the
# one to change (a server that does not answer, or fails, may need the URL or the server).
_PROBLEM_ERRORS: Final = {
    ServerProblem.INVALID_AUTH: (ERROR_INVALID_AUTH, CONF_API_KEY),
    ServerProblem.CANNOT_CONNECT: ("cannot_connect", "base"),
    ServerProblem.TIMEOUT: ("cannot_connect", "base"),
    ServerProblem.BAD_STATUS: ("server_error", "base"),
    ServerProblem.NOT_FOUND: (ERROR_UNEXPECTED_ANSWER, CONF_URL),
    ServerProblem.TOO_LARGE: (ERROR_UNEXPECTED_ANSWER, CONF_URL),
    ServerProblem.MALFORMED: (ERROR_UNEXPECTED_ANSWER, CONF_URL),
}
# Every server type can show these.
COMMON_ERRORS: Final = frozenset(
    {
        ERROR_UNKNOWN,
        ERROR_INVALID_URL,
        ERROR_INVALID_PORT,
        ERROR_URL_QUERY,
        ERROR_CREDENTIALS_AND_API_KEY,
        ERROR_NOT_FINITE,
        ERROR_CREDENTIALS_REFUSED,
        *(key for key, _ in _PROBLEM_ERRORS.values()),
    }
)
# Problems that leave unknown whether a server has metrics: it was not reached, or refused us.
NOT_ANSWERED: Final = frozenset(
    {ServerProblem.CANNOT_CONNECT, ServerProblem.TIMEOUT, ServerProblem.INVALID_AUTH}
)
# The ports a URL can name.
MAX_PORT: Final = 65535


class FlowError(Exception):
    """A translated flow error on one field (or ``base``), with its placeholders."""

    def __init__(self, key: str, field: str = "base", **placeholders: str) -> None:
        """Name the error and where it shows."""
        super().__init__(key)
        self.key = key
        self.field = field
        self.placeholders = placeholders


def _check_numbers(user_input: dict[str, Any]) -> None:
    """Raise FlowError on the first number of the form that is NaN or infinite."""
    if fields := not_finite_fields(user_input):
        raise FlowError(ERROR_NOT_FINITE, fields[0])


def _valid_url(url: str, api_key: str | None) -> str:
    """Return the server's base URL, trimmed; FlowError for one that cannot work.

    Paths are appended to it, so it can hold no query or fragment. Credentials in it are sent
    as basic authentication, which a bearer API key would replace: not both.
    """
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FlowError(ERROR_INVALID_URL, CONF_URL)
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = 0
    if port is not None and not 1 <= port <= MAX_PORT:
        raise FlowError(ERROR_INVALID_PORT, CONF_URL)
    if "?" in url or "#" in url:
        raise FlowError(ERROR_URL_QUERY, CONF_URL)
    if _has_credentials(url) and api_key:
        raise FlowError(ERROR_CREDENTIALS_AND_API_KEY, CONF_API_KEY)
    return url


def _has_credentials(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.username or parts.password)


def _minutes(maximum: int) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=0,
            max=maximum,
            step=1,
            mode=NumberSelectorMode.BOX,
            unit_of_measurement="min",
        )
    )


class ServerSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one server; the server type's class says what to check."""

    # The name of the server type, for titles and logs.
    kind_name: ClassVar[str]
    # The flow errors of this server type beyond those every server type has.
    own_errors: ClassVar[frozenset[str]] = frozenset()

    def _url_selector(self) -> Any:
        return TextSelector(TextSelectorConfig(type=TextSelectorType.URL))

    def _extra_schema(self) -> dict[Any, Any]:
        """Return the fields of this server type beyond the connection."""
        return {}

    @abstractmethod
    async def _async_check(
        self, client: ServerClient, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Read the server as its collector will; return data to save with the input.

        Raise ServerError or FlowError to refuse the input.
        """

    def _schema(self) -> probatio.Schema:
        return probatio.Schema(
            {
                probatio.Required(CONF_URL): self._url_selector(),
                probatio.Optional(CONF_API_KEY): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.PASSWORD)
                ),
                probatio.Required(CONF_VERIFY_SSL, default=True): BooleanSelector(),
                probatio.Required(
                    CONF_SCAN_INTERVAL, default=DEFAULT_SERVER_INTERVAL_S
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SERVER_INTERVAL_S,
                        max=MAX_SERVER_INTERVAL_S,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="s",
                    )
                ),
                probatio.Required(
                    CONF_OUTAGE_MINUTES, default=DEFAULT_OUTAGE_MINUTES
                ): _minutes(MAX_OUTAGE_MINUTES),
                **self._extra_schema(),
            }
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a server."""
        return await self._async_step("user", user_input, {})

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a server's settings; an empty API key keeps the saved one.

        A URL with credentials has no API key: the saved one is dropped.
        """
        current = dict(self._get_reconfigure_subentry().data)
        return await self._async_step("reconfigure", user_input, current)

    async def _async_step(
        self, step_id: str, user_input: dict[str, Any] | None, current: dict[str, Any]
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"error": "", "name": "", "models": ""}
        if user_input is not None:
            data = {**user_input}
            try:
                _check_numbers(user_input)
                data[CONF_URL] = _valid_url(data[CONF_URL], data.get(CONF_API_KEY))
                if (
                    not data.get(CONF_API_KEY)
                    and current.get(CONF_API_KEY)
                    and not _has_credentials(data[CONF_URL])
                ):
                    data[CONF_API_KEY] = current[CONF_API_KEY]
                data |= await self._async_check(self._client(data), data)
            except FlowError as err:
                errors[err.field] = err.key
                placeholders |= err.placeholders
            except ServerError as err:
                key, field = _PROBLEM_ERRORS[err.problem]
                if key == ERROR_INVALID_AUTH and _has_credentials(data[CONF_URL]):
                    key, field = ERROR_CREDENTIALS_REFUSED, CONF_URL
                errors[field] = key
                placeholders["error"] = await async_error_text(self.hass, err)
            except ValueError as err:  # a payload not shaped as this server's
                errors[CONF_URL] = ERROR_UNEXPECTED_ANSWER
                placeholders["error"] = str(err)
            except Exception:  # noqa: BLE001 - any other failure is shown as "unknown"
                LOGGER.exception("Unexpected error checking %s", self.kind_name)
                errors["base"] = ERROR_UNKNOWN
            else:
                return self._async_save(step_id, data)
        suggested = {
            k: v for k, v in (user_input or current).items() if k != CONF_API_KEY
        }
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(self._schema(), suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _async_save(self, step_id: str, data: dict[str, Any]) -> SubentryFlowResult:
        entry = self._get_entry()
        for subentry in entry.subentries.values():
            if (
                subentry.subentry_type == self._subentry_type
                and subentry.data.get(CONF_URL) == data[CONF_URL]
                and (
                    step_id == "user"
                    or subentry.subentry_id
                    != self._get_reconfigure_subentry().subentry_id
                )
            ):
                return self.async_abort(reason="already_configured")
        if step_id == "user":
            host = urlsplit(data[CONF_URL]).netloc.rpartition("@")[2]
            return self.async_create_entry(
                title=f"{self._title_kind(data)} {host}", data=data
            )
        return self.async_update_and_abort(
            entry, self._get_reconfigure_subentry(), data=data
        )

    def _title_kind(self, data: dict[str, Any]) -> str:  # noqa: ARG002 - kinds may read it
        """Return how the new server's title names its kind."""
        return self.kind_name

    def _client(self, data: dict[str, Any]) -> ServerClient:
        return ServerClient(
            self.hass,
            data[CONF_URL],
            api_key=data.get(CONF_API_KEY) or None,
            verify_ssl=data.get(CONF_VERIFY_SSL, True),
            timeout=POLL_TIMEOUT_S,
        )


class OllamaSubentryFlow(ServerSubentryFlow):
    """An Ollama server; Home Assistant's own Ollama servers are offered."""

    kind_name = "Ollama"
    own_errors = frozenset({ERROR_PROBE_MODEL_UNKNOWN, ERROR_PROBE_MODEL_MISSING})

    def _url_selector(self) -> Any:
        urls = sorted(
            {
                entry.data[CONF_URL]
                for entry in self.hass.config_entries.async_entries(OLLAMA_DOMAIN)
                if isinstance(entry.data.get(CONF_URL), str)
            }
        )
        if not urls:
            return super()._url_selector()
        return SelectSelector(
            SelectSelectorConfig(
                options=urls, custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        )

    def _extra_schema(self) -> dict[Any, Any]:
        return {
            probatio.Optional(CONF_PROBE_MODEL): TextSelector(),
            probatio.Required(CONF_PROBE_MINUTES, default=0): _minutes(
                MAX_PROBE_MINUTES
            ),
        }

    async def _async_check(
        self, client: ServerClient, data: dict[str, Any]
    ) -> dict[str, Any]:
        parse_version(await client.get_json("/api/version"))
        model = (data.get(CONF_PROBE_MODEL) or "").strip()
        if model:
            installed = sorted(
                parse_installed_models(await client.get_json("/api/tags"))
            )
            if model not in installed:
                raise FlowError(
                    ERROR_PROBE_MODEL_UNKNOWN,
                    CONF_PROBE_MODEL,
                    models=", ".join(installed),
                )
        elif data.get(CONF_PROBE_MINUTES):
            raise FlowError(ERROR_PROBE_MODEL_MISSING, CONF_PROBE_MODEL)
        return {CONF_PROBE_MODEL: model}


class OpenAICompatibleSubentryFlow(ServerSubentryFlow):
    """A vLLM, llama.cpp, SGLang or TGI server: its metrics must be found."""

    kind_name = "OpenAI-compatible"
    own_errors = frozenset({ERROR_NO_METRICS})

    async def _async_check(
        self,
        client: ServerClient,
        data: dict[str, Any],  # noqa: ARG002 - nothing beyond the connection to check
    ) -> dict[str, Any]:
        try:
            kind = server_kind(await client.get_text("/metrics"))
        except ServerError as err:
            if err.problem in NOT_ANSWERED:
                raise  # not reached, or refused: nothing says its metrics are off
            raise FlowError(
                ERROR_NO_METRICS, error=await async_error_text(self.hass, err)
            ) from None
        served_models(await client.get_json("/v1/models"))
        return {CONF_SERVER_KIND: kind.value}

    def _title_kind(self, data: dict[str, Any]) -> str:
        return KIND_NAMES[ServerKind(data[CONF_SERVER_KIND])]


class PrometheusSubentryFlow(ServerSubentryFlow):
    """A Prometheus server and the queries to show as sensors."""

    kind_name = "Prometheus"
    own_errors = frozenset({ERROR_NO_QUERIES, ERROR_QUERY_INVALID, ERROR_QUERY_FAILED})

    def _extra_schema(self) -> dict[Any, Any]:
        return {
            probatio.Optional(CONF_PRESETS, default=[]): SelectSelector(
                SelectSelectorConfig(
                    options=list(PRESETS),
                    multiple=True,
                    mode=SelectSelectorMode.LIST,
                    translation_key=CONF_PRESETS,
                )
            ),
            probatio.Optional(CONF_QUERIES, default=[]): ObjectSelector(
                ObjectSelectorConfig(
                    multiple=True,
                    label_field=CONF_NAME,
                    translation_key=CONF_QUERIES,
                    fields={
                        CONF_NAME: {"required": True, "selector": {"text": {}}},
                        CONF_QUERY: {
                            "required": True,
                            "selector": {"text": {"multiline": True}},
                        },
                        CONF_UNIT: {"required": False, "selector": {"text": {}}},
                    },
                )
            ),
        }

    async def _async_check(
        self, client: ServerClient, data: dict[str, Any]
    ) -> dict[str, Any]:
        queries = _user_queries(data.get(CONF_QUERIES))
        checked = {**data, CONF_QUERIES: queries}
        every = configured_queries(checked)
        if not every:
            raise FlowError(ERROR_NO_QUERIES, CONF_QUERIES)
        for query in every:
            try:
                await async_run_query(client, query.promql)
            except QueryError as err:
                if err.problem in PASSING_PROBLEMS:
                    continue
                raise FlowError(
                    ERROR_QUERY_FAILED,
                    CONF_QUERIES,
                    name=shorten(query.name),
                    error=str(err),
                ) from None
        return {CONF_QUERIES: queries}


def _user_queries(value: Any) -> list[dict[str, str]]:
    """Return the user's queries, trimmed; FlowError names the first bad one."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise FlowError(ERROR_QUERY_INVALID, CONF_QUERIES, name="")
    queries: list[dict[str, str]] = []
    keys: set[str] = set()
    for item in value:
        name = str(item.get(CONF_NAME) or "").strip() if isinstance(item, dict) else ""
        promql = (
            str(item.get(CONF_QUERY) or "").strip() if isinstance(item, dict) else ""
        )
        unit = str(item.get(CONF_UNIT) or "").strip() if isinstance(item, dict) else ""
        key = user_query_key(name)
        if not name or not promql or key in keys:
            raise FlowError(ERROR_QUERY_INVALID, CONF_QUERIES, name=shorten(name))
        keys.add(key)
        queries.append({CONF_NAME: name, CONF_QUERY: promql, CONF_UNIT: unit})
    return queries


SERVER_SUBENTRY_FLOWS: Final[dict[str, type[ConfigSubentryFlow]]] = {
    SUBENTRY_OLLAMA: OllamaSubentryFlow,
    SUBENTRY_OPENAI_COMPATIBLE: OpenAICompatibleSubentryFlow,
    SUBENTRY_PROMETHEUS: PrometheusSubentryFlow,
}
