"""Config subentry flows: add or reconfigure a model server (Ollama, vLLM / llama.cpp, Prometheus).

Each flow reads the server before saving, exactly as its collector will, and shows a translated
error (``cannot_connect``, ``invalid_auth``, ``unknown``, ...) until it answers as expected.
"""

from abc import abstractmethod
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
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
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .collectors.ai_host import AI_HOST_TITLE, GPU, NODE, ScrapeTarget, scrape_targets
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
    CONF_AI_HOST,
    CONF_GPU_EXPORTER_URL,
    CONF_GPU_SELECTOR,
    CONF_NODE_EXPORTER_URL,
    CONF_NODE_SELECTOR,
    CONF_OUTAGE_MINUTES,
    CONF_PRESETS,
    CONF_PROBE_MINUTES,
    CONF_PROBE_MODEL,
    CONF_PROMETHEUS_URL,
    CONF_QUERIES,
    CONF_QUERY,
    CONF_SERVER_KIND,
    DEFAULT_OUTAGE_MINUTES,
    DEFAULT_SERVER_INTERVAL_S,
    LOGGER,
    MAX_SERVER_INTERVAL_S,
    MIN_SERVER_INTERVAL_S,
    SUBENTRY_AI_HOST,
    SUBENTRY_OLLAMA,
    SUBENTRY_OPENAI_COMPATIBLE,
    SUBENTRY_PROMETHEUS,
)
from .engine.gpu_exporters import detect_gpu_exporter, parse_gpu_exporter
from .engine.node_exporter import NotNodeExporterError, SeveralMachinesError, parse_node
from .engine.ollama import parse_installed_models, parse_version
from .engine.prometheus import ExpositionError, parse_labelled
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
ERROR_NO_EXPORTER: Final = "no_exporter"
ERROR_NOT_NODE_EXPORTER: Final = "not_node_exporter"
ERROR_NOT_GPU_EXPORTER: Final = "not_gpu_exporter"
ERROR_NO_SELECTOR: Final = "no_selector"
ERROR_SELECTOR_INVALID: Final = "selector_invalid"
ERROR_SELECTOR_EMPTY: Final = "selector_empty"
ERROR_SELECTOR_SEVERAL: Final = "selector_several"
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


def polling_schema() -> dict[Any, Any]:
    """Return the fields every source read over HTTP has: TLS, its interval, its outage."""
    return {
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
    }


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
    # Its steps beyond adding and reconfiguring.
    extra_steps: ClassVar[tuple[str, ...]] = ()

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
                **polling_schema(),
                **self._extra_schema(),
                **self._ai_host_schema(),
            }
        )

    def _ai_host_schema(self) -> dict[Any, Any]:
        """Offer the AI hosts the server may run on, once there are some."""
        hosts = [
            SelectOptionDict(value=subentry.subentry_id, label=subentry.title)
            for subentry in self._get_entry().subentries.values()
            if subentry.subentry_type == SUBENTRY_AI_HOST
        ]
        if not hosts:
            return {}
        return {
            probatio.Optional(CONF_AI_HOST): SelectSelector(
                SelectSelectorConfig(options=hosts, mode=SelectSelectorMode.DROPDOWN)
            )
        }

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


class AiHostSubentryFlow(ConfigSubentryFlow):
    """The machine a model server runs on: its node_exporter and/or its GPU exporter.

    Read either from the exporters themselves, or, for a fleet, from the Prometheus server that
    scrapes them (its federation endpoint, with a label selector per exporter). Each exporter
    given is read as its collector will, and must answer as that exporter does; an error shows
    on that exporter's own field.
    """

    kind_name = "AI host"
    extra_steps = ("exporters", "prometheus")
    own_errors = frozenset(
        {
            ERROR_NO_EXPORTER,
            ERROR_NOT_NODE_EXPORTER,
            ERROR_NOT_GPU_EXPORTER,
            ERROR_NO_SELECTOR,
            ERROR_SELECTOR_INVALID,
            ERROR_SELECTOR_EMPTY,
            ERROR_SELECTOR_SEVERAL,
        }
    )

    def _exporters_schema(self) -> probatio.Schema:
        url = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
        return probatio.Schema(
            {
                probatio.Optional(CONF_NODE_EXPORTER_URL): url,
                probatio.Optional(CONF_GPU_EXPORTER_URL): url,
                **polling_schema(),
            }
        )

    def _prometheus_schema(self) -> probatio.Schema:
        return probatio.Schema(
            {
                probatio.Required(CONF_PROMETHEUS_URL): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.URL)
                ),
                probatio.Optional(CONF_NODE_SELECTOR): TextSelector(),
                probatio.Optional(CONF_GPU_SELECTOR): TextSelector(),
                **polling_schema(),
            }
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose how the AI host is read: its exporters, or a Prometheus scraping them."""
        del user_input
        return self.async_show_menu(
            step_id="user", menu_options=["exporters", "prometheus"]
        )

    async def async_step_exporters(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add an AI host read from its exporters."""
        return await self._async_step(
            "exporters", user_input, {}, self._exporters_schema()
        )

    async def async_step_prometheus(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add (or reconfigure) an AI host read through a Prometheus server."""
        current = (
            dict(self._get_reconfigure_subentry().data) if self._reconfiguring else {}
        )
        return await self._async_step(
            "prometheus", user_input, current, self._prometheus_schema()
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change an AI host's exporters (or selectors) and polling."""
        current = dict(self._get_reconfigure_subentry().data)
        if CONF_PROMETHEUS_URL in current:
            return await self.async_step_prometheus(user_input)
        return await self._async_step(
            "reconfigure", user_input, current, self._exporters_schema()
        )

    @property
    def _reconfiguring(self) -> bool:
        return self.source == SOURCE_RECONFIGURE

    async def _async_step(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        current: dict[str, Any],
        schema: probatio.Schema,
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"error": "", "machines": ""}
        if user_input is not None:
            data = {**user_input}
            try:
                _check_numbers(user_input)
                hostname = await self._async_check(data)
            except FlowError as err:
                errors[err.field] = err.key
                placeholders |= err.placeholders
            except Exception:  # noqa: BLE001 - any other failure is shown as "unknown"
                LOGGER.exception("Unexpected error checking an AI host")
                errors["base"] = ERROR_UNKNOWN
            else:
                return self._async_save(data, hostname)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or current
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_check(self, data: dict[str, Any]) -> str:
        """Read each exporter given; return the machine's name as its exporters give it."""
        federated = CONF_PROMETHEUS_URL in data
        fields = _normalised(data)
        targets = scrape_targets(data)
        hostname = ""
        if (target := targets.get(NODE)) is not None:
            text = await self._async_scrape(target, fields[NODE], data)
            try:
                hostname = parse_node(text).hostname
            except NotNodeExporterError as err:
                key = ERROR_SELECTOR_EMPTY if federated else ERROR_NOT_NODE_EXPORTER
                raise FlowError(key, fields[NODE], error=str(err)) from None
            except SeveralMachinesError as err:
                raise FlowError(
                    ERROR_SELECTOR_SEVERAL, fields[NODE], machines=str(err.machines)
                ) from None
            except ExpositionError as err:  # a web page, not metrics
                raise FlowError(
                    ERROR_UNEXPECTED_ANSWER, fields[NODE], error=str(err)
                ) from None
        if (target := targets.get(GPU)) is not None:
            text = await self._async_scrape(target, fields[GPU], data)
            kind = detect_gpu_exporter(text)
            try:
                gpus = parse_gpu_exporter(text, kind) if kind else {}
                if not gpus:
                    parse_labelled(
                        text, ()
                    )  # metrics of another exporter, or no metrics?
            except ExpositionError as err:
                raise FlowError(
                    ERROR_UNEXPECTED_ANSWER, fields[GPU], error=str(err)
                ) from None
            if not gpus:
                key = ERROR_SELECTOR_EMPTY if federated else ERROR_NOT_GPU_EXPORTER
                raise FlowError(key, fields[GPU], error="no GPU listed")
            hostname = hostname or next(iter(gpus.values())).hostname
        return hostname

    async def _async_scrape(
        self, target: ScrapeTarget, field: str, data: dict[str, Any]
    ) -> str:
        try:
            return await self.hass.async_add_executor_job(
                target.fetch, data.get(CONF_VERIFY_SSL, True)
            )
        except ServerError as err:
            key, _ = _PROBLEM_ERRORS[err.problem]
            if key == ERROR_INVALID_AUTH and _has_credentials(target.base):
                key = ERROR_CREDENTIALS_REFUSED
            if target.params and err.problem is ServerProblem.BAD_STATUS:
                key = ERROR_SELECTOR_INVALID  # Prometheus refuses a selector it cannot parse
            if target.params and key != ERROR_SELECTOR_INVALID:
                field = CONF_PROMETHEUS_URL  # Prometheus itself did not answer
            raise FlowError(
                key, field, error=await async_error_text(self.hass, err)
            ) from None
        except ValueError as err:  # an exporter's garbled text
            raise FlowError(ERROR_UNEXPECTED_ANSWER, field, error=str(err)) from None

    def _async_save(self, data: dict[str, Any], hostname: str) -> SubentryFlowResult:
        """Save the AI host, unless it is one already added (its exporters, or its name).

        The same machine added once directly and once through Prometheus has other URLs, but
        the same name: node_exporter's host name, or dcgm-exporter's.
        """
        entry = self._get_entry()
        targets = set(scrape_targets(data).values())
        # Named after the machine, or else after the address it was read at.
        named = hostname or urlsplit(next(iter(targets)).base).hostname
        title = f"{AI_HOST_TITLE} {named}"
        own = (
            self._get_reconfigure_subentry().subentry_id
            if self._reconfiguring
            else None
        )
        for subentry in entry.subentries.values():
            if (
                subentry.subentry_type != SUBENTRY_AI_HOST
                or subentry.subentry_id == own
            ):
                continue
            if targets & set(scrape_targets(subentry.data).values()) or (
                own is None and hostname and subentry.title == title
            ):
                return self.async_abort(reason="already_configured")
        if not self._reconfiguring:
            return self.async_create_entry(title=title, data=data)
        return self.async_update_and_abort(
            entry, self._get_reconfigure_subentry(), data=data
        )


def _normalised(data: dict[str, Any]) -> dict[str, str]:
    """Trim an AI host's form in place; return each exporter's field, by which exporter.

    FlowError when no exporter is given, or an URL cannot work.
    """
    if CONF_PROMETHEUS_URL in data:
        data[CONF_PROMETHEUS_URL] = _valid_exporter_url(
            data[CONF_PROMETHEUS_URL], CONF_PROMETHEUS_URL, keep_path=True
        )
        fields = {NODE: CONF_NODE_SELECTOR, GPU: CONF_GPU_SELECTOR}
        missing = ERROR_NO_SELECTOR
    else:
        fields = {NODE: CONF_NODE_EXPORTER_URL, GPU: CONF_GPU_EXPORTER_URL}
        missing = ERROR_NO_EXPORTER
    for conf in fields.values():
        if not (value := (data.get(conf) or "").strip()):
            data.pop(conf, None)
        elif conf in (CONF_NODE_EXPORTER_URL, CONF_GPU_EXPORTER_URL):
            data[conf] = _valid_exporter_url(value, conf)
        else:
            data[conf] = value
    if not data.keys() & set(fields.values()):
        raise FlowError(missing)
    return fields


def _valid_exporter_url(url: str, field: str, *, keep_path: bool = False) -> str:
    """Return an exporter's URL, trimmed: /metrics unless it names a path.

    A Prometheus URL (``keep_path``) keeps its path, the prefix of a reverse proxy.
    """
    try:
        url = _valid_url(url, None)
    except FlowError as err:
        raise FlowError(err.key, field) from None
    if keep_path:
        return url
    target = ScrapeTarget.exporter(url)
    return f"{target.base}{target.path}"


SERVER_SUBENTRY_FLOWS: Final[dict[str, type[ConfigSubentryFlow]]] = {
    SUBENTRY_OLLAMA: OllamaSubentryFlow,
    SUBENTRY_OPENAI_COMPATIBLE: OpenAICompatibleSubentryFlow,
    SUBENTRY_PROMETHEUS: PrometheusSubentryFlow,
    SUBENTRY_AI_HOST: AiHostSubentryFlow,
}
