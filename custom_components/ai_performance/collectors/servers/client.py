"""HTTP to model servers: bounded in time and size, with errors that name no secret.

Every request goes through Home Assistant's shared aiohttp session. A body is read in chunks and
given up as soon as it passes its cap, so a huge or endless answer costs at most the cap. Error
messages name the path only: never the host's credentials or the API key.
"""

import asyncio
from enum import StrEnum
import errno
import socket
from typing import Any, Final

import aiohttp
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util.json import json_loads

from ...const import DOMAIN

# Caps on what one answer may be (a vLLM exposition is ~30 kB, an /api/ps answer ~2 kB).
MAX_METRICS_BYTES: Final = 4 * 1024 * 1024
MAX_JSON_BYTES: Final = 1024 * 1024
CHUNK_BYTES: Final = 64 * 1024
HTTP_ERROR: Final = 400
# How long a connection may take to be accepted (at most half of a request's time).
CONNECT_TIMEOUT_S: Final = 5.0
# Answers that say the path does not exist here (or not for this method).
NOT_FOUND_STATUSES: Final = (404, 405)


class ServerProblem(StrEnum):
    """Why a server could not be read; the values are translation keys."""

    CANNOT_CONNECT = "cannot_connect"
    INVALID_AUTH = "invalid_auth"
    TIMEOUT = "timeout"
    BAD_STATUS = "bad_status"
    # Something answers at the address, but has no such path: not this kind of server.
    NOT_FOUND = "not_found"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"


class ServerCause(StrEnum):
    """Why a connection failed, in words a user reads; the values are translation keys.

    The exception's class stays in ``str()``, for the log and the diagnostics only.
    """

    CONNECTION_REFUSED = "cause_connection_refused"
    NAME_NOT_FOUND = "cause_name_not_found"
    HOST_UNREACHABLE = "cause_host_unreachable"
    NOT_ACCEPTED = "cause_not_accepted"
    TIMEOUT = "cause_timeout"
    TLS = "cause_tls"
    CONNECTION_LOST = "cause_connection_lost"
    CONNECTION_FAILED = "cause_connection_failed"


# The errors of a host (or network) that cannot be reached at all.
_UNREACHABLE_ERRNOS: Final = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
)


class ServerError(Exception):
    """A server could not be read; ``str()`` is safe to log (no URL, no key).

    ``cause`` (with its ``placeholders``) says why in translated words, where the detail
    would name a Python class or be English from here.
    """

    def __init__(
        self,
        problem: ServerProblem,
        detail: str,
        *,
        cause: ServerCause | None = None,
        path: str = "",
        **placeholders: str,
    ) -> None:
        """Describe the problem."""
        super().__init__(detail)
        self.problem = problem
        self.cause = cause
        self.path = path
        self.placeholders = placeholders


# Connection failures named by their class; ClientConnectorError's others by their OS error.
_CLASS_CAUSES: Final = (
    (aiohttp.ClientConnectorDNSError, ServerCause.NAME_NOT_FOUND),
    (
        (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError),
        ServerCause.TLS,
    ),
    (
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError),
        ServerCause.CONNECTION_LOST,
    ),
)


def connection_cause(err: aiohttp.ClientError) -> ServerCause:
    """Return why a connection failed, from aiohttp's exception."""
    for types, cause in _CLASS_CAUSES:
        if isinstance(err, types):
            return cause
    if isinstance(err, aiohttp.ClientConnectorError):
        return os_error_cause(err.os_error)
    if isinstance(err, aiohttp.ClientOSError):  # after the connection was made
        return ServerCause.CONNECTION_LOST
    return ServerCause.CONNECTION_FAILED


def os_error_cause(os_error: OSError) -> ServerCause:
    """Return why a connection failed, from the operating system's error."""
    if isinstance(os_error, ConnectionRefusedError):
        return ServerCause.CONNECTION_REFUSED
    if isinstance(os_error, socket.gaierror):
        return ServerCause.NAME_NOT_FOUND
    if os_error.errno in _UNREACHABLE_ERRNOS:
        return ServerCause.HOST_UNREACHABLE
    return ServerCause.CONNECTION_FAILED


async def async_error_text(hass: HomeAssistant, err: ServerError) -> str:
    """Return ``err`` as a user reads it: its cause translated, no class name, no secret."""
    if err.cause is None:
        return str(err)
    translations = await async_get_translations(
        hass, hass.config.language, "exceptions", {DOMAIN}
    )
    text = translations.get(
        f"component.{DOMAIN}.exceptions.{err.cause}.message", err.cause.value
    )
    text = text.format(**err.placeholders).rstrip(".")
    return f"{err.path}: {text}" if err.path else text


class ServerClient:
    """Reads one server's endpoints."""

    def __init__(
        self,
        hass: HomeAssistant,
        url: str,
        *,
        api_key: str | None = None,
        verify_ssl: bool = True,
        timeout: float = 8.0,
    ) -> None:
        """Prepare requests to the server at ``url``."""
        self._session = async_get_clientsession(hass, verify_ssl=verify_ssl)
        self._base = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout

    async def get_text(
        self,
        path: str,
        max_bytes: int = MAX_METRICS_BYTES,
    ) -> str:
        """Return the body of ``GET path`` as text."""
        _, body = await self._request("GET", path, max_bytes, self.timeout)
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise ServerError(ServerProblem.MALFORMED, f"{path}: not UTF-8") from None

    async def get_json(
        self,
        path: str,
        params: dict[str, str] | None = None,
        max_bytes: int = MAX_JSON_BYTES,
        body_statuses: tuple[int, ...] = (),
        seconds: float | None = None,
    ) -> Any:
        """Return the JSON body of ``GET path`` (also for error ``body_statuses``).

        An error status among ``body_statuses`` whose body is not JSON (a proxy's page, say)
        is a bad status all the same.
        """
        status, body = await self._request(
            "GET",
            path,
            max_bytes,
            self.timeout if seconds is None else seconds,
            params=params,
            body_statuses=body_statuses,
        )
        if status >= HTTP_ERROR:
            try:
                return json_loads(body)
            except ValueError:
                raise bad_status(path, status) from None
        return _json(path, body)

    async def post_json(
        self, path: str, payload: dict[str, Any], seconds: float
    ) -> Any:
        """Return the JSON body of ``POST path`` with a JSON ``payload``."""
        _, body = await self._request(
            "POST", path, MAX_JSON_BYTES, seconds, payload=payload
        )
        return _json(path, body)

    async def _request(  # noqa: PLR0913 - the options of one HTTP call
        self,
        method: str,
        path: str,
        max_bytes: int,
        seconds: float,
        *,
        params: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        body_statuses: tuple[int, ...] = (),
    ) -> tuple[int, bytes]:
        """Return the status and the body of a request; ServerError for any failure."""
        url = f"{self._base}/{path.lstrip('/')}"
        try:
            async with asyncio.timeout(seconds):
                async with self._session.request(
                    method,
                    url,
                    params=params,
                    json=payload,
                    headers=self._headers,
                    # A host that never takes the connection is down, not slow to answer.
                    timeout=aiohttp.ClientTimeout(
                        sock_connect=min(CONNECT_TIMEOUT_S, seconds / 2)
                    ),
                ) as response:
                    if response.status in (401, 403):
                        raise ServerError(
                            ServerProblem.INVALID_AUTH,
                            f"{path}: HTTP {response.status}",
                        )
                    if (
                        response.status >= HTTP_ERROR
                        and response.status not in body_statuses
                    ):
                        raise bad_status(path, response.status)
                    return response.status, await _read_capped(
                        response, path, max_bytes
                    )
        except aiohttp.ConnectionTimeoutError:
            raise ServerError(
                ServerProblem.CANNOT_CONNECT,
                f"{path}: the connection was not taken",
                cause=ServerCause.NOT_ACCEPTED,
                path=path,
            ) from None
        except TimeoutError:
            raise timeout_error(seconds, path) from None
        except aiohttp.ClientError as err:
            # The exception's text may hold the URL with its credentials: give its type only.
            raise ServerError(
                ServerProblem.CANNOT_CONNECT,
                f"{path}: {type(err).__name__}",
                cause=connection_cause(err),
                path=path,
            ) from None


def timeout_error(seconds: float, path: str = "") -> ServerError:
    """Return the error of a server that did not answer within ``seconds``."""
    detail = f"no answer within {seconds:g} s"
    return ServerError(
        ServerProblem.TIMEOUT,
        f"{path}: {detail}" if path else detail,
        cause=ServerCause.TIMEOUT,
        path=path,
        seconds=f"{seconds:g}",
    )


def bad_status(path: str, status: int) -> ServerError:
    """Return the error of an answer with an error status (not found: not this server)."""
    problem = (
        ServerProblem.NOT_FOUND
        if status in NOT_FOUND_STATUSES
        else ServerProblem.BAD_STATUS
    )
    return ServerError(problem, f"{path}: HTTP {status}")


async def _read_capped(
    response: aiohttp.ClientResponse, path: str, max_bytes: int
) -> bytes:
    """Read the body, giving up once it passes ``max_bytes``."""
    too_large = ServerError(
        ServerProblem.TOO_LARGE, f"{path}: answer larger than {max_bytes} bytes"
    )
    if (response.content_length or 0) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _json(path: str, body: bytes) -> Any:
    try:
        return json_loads(body)
    except ValueError:
        raise ServerError(ServerProblem.MALFORMED, f"{path}: not JSON") from None
