"""An exporter's text, fetched by a worker thread: none of the transfer costs the event loop.

An exporter answers 60 kB (node_exporter) to a few hundred kB every poll. Fetched with aiohttp
on the event loop, the request and reading the answer cost the loop about 0.8 ms a poll; fetched
with the standard library in the executor, about 0.15 ms (docs/performance.md). The errors are
the model servers' own (ServerError, with the same problems and causes), so the flow, the repair
issue and the log say the same as for a model server: never the URL's credentials.
"""

import base64
from http.client import HTTPException, HTTPResponse
import ssl
import time
from typing import Final
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit
from urllib.request import (
    HTTPRedirectHandler,
    HTTPSHandler,
    ProxyHandler,
    Request,
    build_opener,
)

from .servers.client import (
    CHUNK_BYTES,
    MAX_METRICS_BYTES,
    ServerCause,
    ServerError,
    ServerProblem,
    bad_status,
    os_error_cause,
    timeout_error,
)


class _NoRedirects(HTTPRedirectHandler):
    """An exporter that redirects is not one: its answer is a bad status, as with aiohttp."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_OPENER: Final = build_opener(ProxyHandler({}), _NoRedirects)
_NO_VERIFY: Final = ssl.create_default_context()
# The user turned certificate checks off for this exporter (a self-signed certificate).
_NO_VERIFY.check_hostname = False
_NO_VERIFY.verify_mode = ssl.CERT_NONE
_UNVERIFIED: Final = build_opener(
    ProxyHandler({}), _NoRedirects, HTTPSHandler(context=_NO_VERIFY)
)


def fetch_text(  # noqa: PLR0913 - one GET and its bounds
    base: str,
    path: str,
    params: dict[str, str] | None = None,
    *,
    seconds: float,
    verify_ssl: bool = True,
    max_bytes: int = MAX_METRICS_BYTES,
) -> str:
    """Return the text of ``GET base + path`` (blocking: for the executor).

    Credentials in ``base`` are sent as basic authentication. The whole request, reading
    the answer included, gives up after ``seconds``; an answer over ``max_bytes`` is refused
    as soon as it passes them.
    """
    deadline = time.monotonic() + seconds
    url, headers = _without_credentials(base)
    if urlsplit(url).scheme not in ("http", "https"):
        raise ServerError(ServerProblem.CANNOT_CONNECT, f"{path}: not an http URL")
    query = f"?{urlencode(params)}" if params else ""
    request = Request(f"{url}{path}{query}", headers=headers)  # noqa: S310 - http(s) only
    opener = _OPENER if verify_ssl else _UNVERIFIED
    try:
        with opener.open(request, timeout=seconds) as response:
            body = _read_capped(response, path, max_bytes, deadline, seconds)
    except HTTPError as err:
        if err.code in (401, 403):
            raise ServerError(
                ServerProblem.INVALID_AUTH, f"{path}: HTTP {err.code}"
            ) from None
        raise bad_status(path, err.code) from None
    except TimeoutError:
        raise timeout_error(seconds, path) from None
    except URLError as err:
        raise _connection_error(path, err.reason, seconds) from None
    except (HTTPException, ConnectionError) as err:
        raise ServerError(
            ServerProblem.CANNOT_CONNECT,
            f"{path}: {type(err).__name__}",
            cause=ServerCause.CONNECTION_LOST,
            path=path,
        ) from None
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise ServerError(ServerProblem.MALFORMED, f"{path}: not UTF-8") from None


def _read_capped(
    response: HTTPResponse, path: str, max_bytes: int, deadline: float, seconds: float
) -> bytes:
    """Read the body, giving up once it passes ``max_bytes`` or the deadline."""
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise _too_large(path, max_bytes)
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(path, max_bytes)
        if time.monotonic() > deadline:
            raise timeout_error(seconds, path)
        chunks.append(chunk)
    return b"".join(chunks)


def _without_credentials(base: str) -> tuple[str, dict[str, str]]:
    """Return the URL without its user name and password, and the headers to send."""
    headers = {"Accept-Encoding": "identity"}
    parts = urlsplit(base.rstrip("/"))
    if "@" not in parts.netloc:
        return urlunsplit(parts), headers
    credentials, netloc = parts.netloc.rsplit("@", 1)
    user, _, password = credentials.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    headers["Authorization"] = f"Basic {token}"
    return urlunsplit(parts._replace(netloc=netloc)), headers


def _connection_error(path: str, reason: object, seconds: float) -> ServerError:
    """Return the error of a connection that failed, named by its cause (never the URL)."""
    if isinstance(reason, TimeoutError):
        return timeout_error(seconds, path)
    if isinstance(reason, ssl.SSLError):
        cause = ServerCause.TLS
    elif isinstance(reason, OSError):
        cause = os_error_cause(reason)
    else:
        cause = ServerCause.CONNECTION_FAILED
    return ServerError(
        ServerProblem.CANNOT_CONNECT,
        f"{path}: {type(reason).__name__}",
        cause=cause,
        path=path,
    )


def _too_large(path: str, max_bytes: int) -> ServerError:
    return ServerError(
        ServerProblem.TOO_LARGE, f"{path}: answer larger than {max_bytes} bytes"
    )
