"""Why a server was not reached, told in translated words; the class name stays in the log."""

import errno
import socket
import ssl
from types import SimpleNamespace

import aiohttp
from homeassistant.core import HomeAssistant
import pytest

from custom_components.ai_performance.collectors.servers.client import (
    ServerCause,
    ServerError,
    ServerProblem,
    async_error_text,
    connection_cause,
)

# What aiohttp's connector errors name in their text: only read by str().
KEY = SimpleNamespace(host="gpu-box", port=8000, ssl=None)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            aiohttp.ClientConnectorError(
                KEY, ConnectionRefusedError(errno.ECONNREFUSED, "")
            ),
            ServerCause.CONNECTION_REFUSED,
        ),
        (
            aiohttp.ClientConnectorDNSError(
                KEY, socket.gaierror(-2, "Name or service not known")
            ),
            ServerCause.NAME_NOT_FOUND,
        ),
        (
            aiohttp.ClientConnectorError(KEY, socket.gaierror(-3, "Temporary failure")),
            ServerCause.NAME_NOT_FOUND,
        ),
        (
            aiohttp.ClientConnectorError(
                KEY, OSError(errno.EHOSTUNREACH, "No route to host")
            ),
            ServerCause.HOST_UNREACHABLE,
        ),
        (
            aiohttp.ClientConnectorError(KEY, OSError(errno.EPERM, "")),
            ServerCause.CONNECTION_FAILED,
        ),
        (
            aiohttp.ClientConnectorSSLError(KEY, ssl.SSLError("wrong version")),
            ServerCause.TLS,
        ),
        (
            aiohttp.ClientConnectorCertificateError(
                KEY, ssl.SSLCertVerificationError("self-signed")
            ),
            ServerCause.TLS,
        ),
        (aiohttp.ServerDisconnectedError(), ServerCause.CONNECTION_LOST),
        (aiohttp.ClientPayloadError(), ServerCause.CONNECTION_LOST),
        (aiohttp.InvalidURL("x"), ServerCause.CONNECTION_FAILED),
    ],
)
def test_each_connection_failure_has_its_cause(
    error: aiohttp.ClientError, cause: ServerCause
) -> None:
    assert connection_cause(error) is cause


async def test_the_cause_is_translated_and_the_class_kept_for_the_log(
    hass: HomeAssistant,
) -> None:
    err = ServerError(
        ServerProblem.CANNOT_CONNECT,
        "/api/ps: ClientConnectorDNSError",
        cause=ServerCause.NAME_NOT_FOUND,
        path="/api/ps",
    )

    assert await async_error_text(hass, err) == "/api/ps: host name not found"
    assert str(err) == "/api/ps: ClientConnectorDNSError"


async def test_every_cause_has_a_translation(hass: HomeAssistant) -> None:
    for cause in ServerCause:
        err = ServerError(ServerProblem.TIMEOUT, "", cause=cause, seconds="8")

        assert await async_error_text(hass, err) != cause.value
