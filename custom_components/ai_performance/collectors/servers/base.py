"""What every model-server source shares: its settings, its own poll interval, outage repairs.

Each server is a config subentry and one collector keyed ``server:<subentry id>``. The
coordinator ticks every 30 s; a server with a longer interval answers the ticks in between
from its last poll (or its last error). A poll is bounded by its own timeout, shorter than the
coordinator's cut-off, so a slow server is recorded as down here rather than cut off there.
"""

from abc import abstractmethod
import asyncio
from dataclasses import dataclass
import time
from typing import Any, Final, override

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import (
    CONF_API_KEY,
    CONF_SCAN_INTERVAL,
    CONF_URL,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant

from ...const import (
    CONF_OUTAGE_MINUTES,
    DEFAULT_COLLECT_TIMEOUT,
    DEFAULT_OUTAGE_MINUTES,
    DEFAULT_SERVER_INTERVAL_S,
)
from ...issues import async_clear_server_unreachable, async_raise_server_unreachable
from .client import (
    ServerClient,
    ServerError,
    ServerProblem,
    async_error_text,
    timeout_error,
)

# A poll (all of its requests together) gives up after this long: within the coordinator's
# cut-off, so the outage is seen and recorded here.
POLL_TIMEOUT_S: Final = DEFAULT_COLLECT_TIMEOUT - 2
# Ticks come every 30 s give or take scheduling: poll when at most this early.
INTERVAL_SLACK_S: Final = 2.0
# A server too busy to answer its metrics (see ``_busy_sample``) counts as busy for this long
# after its last answer, and as down after that.
BUSY_LIMIT_S: Final = 600.0


def server_source(subentry_id: str) -> str:
    """Return the collector key of the server of config subentry ``subentry_id``."""
    return f"server:{subentry_id}"


def server_subject(subentry_id: str) -> str:
    """Return the device subject of a server."""
    return f"server_{subentry_id}"


def model_subject(subentry_id: str, model: str) -> str:
    """Return the device subject of one model on a server."""
    return f"{server_subject(subentry_id)}_model_{model}"


def probe_subject(subentry_id: str, model: str) -> str:
    """Return the requests subject under which a server's probes of ``model`` are counted."""
    return f"probe_{subentry_id}_{model}"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One server's subentry, read once at setup."""

    subentry_id: str
    subentry_type: str
    title: str
    url: str
    api_key: str | None
    verify_ssl: bool
    interval_s: float
    # 0: never raise a repair issue.
    outage_s: float
    data: dict[str, Any]

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> ServerSettings:
        """Read the settings of a server subentry."""
        data = dict(subentry.data)
        return cls(
            subentry_id=subentry.subentry_id,
            subentry_type=subentry.subentry_type,
            title=subentry.title,
            url=data[CONF_URL],
            api_key=data.get(CONF_API_KEY) or None,
            verify_ssl=data.get(CONF_VERIFY_SSL, True),
            interval_s=float(data.get(CONF_SCAN_INTERVAL, DEFAULT_SERVER_INTERVAL_S)),
            outage_s=60.0 * data.get(CONF_OUTAGE_MINUTES, DEFAULT_OUTAGE_MINUTES),
            data=data,
        )

    def client(self, hass: HomeAssistant) -> ServerClient:
        """Return a client for this server."""
        return ServerClient(
            hass,
            self.url,
            api_key=self.api_key,
            verify_ssl=self.verify_ssl,
            timeout=POLL_TIMEOUT_S,
        )


class PolledCollector[SampleT]:
    """Polls one HTTP source at its own interval and raises a repair issue after a long outage.

    Subclasses say how to read the source (``_async_poll``) and which issue an outage raises.
    """

    timeout = DEFAULT_COLLECT_TIMEOUT

    def __init__(
        self, hass: HomeAssistant, entry_id: str, settings: ServerSettings
    ) -> None:
        """Prepare polling the server of ``settings``."""
        self.hass = hass
        self.entry_id = entry_id
        self.settings = settings
        self.key = server_source(settings.subentry_id)
        self.client = settings.client(hass)
        self._sample: SampleT | None = None
        self._error: ServerError | None = None
        self._next_poll = 0.0
        self._failing_since: float | None = None
        self._answered_at = time.monotonic()
        # An issue may be left from before a restart: the first good poll clears it.
        self._issue_raised = True

    async def async_start(self) -> None:
        """Nothing to open: the shared HTTP session is Home Assistant's."""

    async def async_stop(self) -> None:
        """Nothing to close."""

    def poll_next_tick(self) -> None:
        """Read the server again at the next tick (after a change), whatever its interval."""
        self._next_poll = 0.0

    @abstractmethod
    async def _async_poll(self) -> SampleT:
        """Read the server once; raise ServerError (or ValueError for a bad payload)."""

    async def async_collect(self) -> SampleT:
        """Return the latest sample, polling when the server's interval has passed."""
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + self.settings.interval_s - INTERVAL_SLACK_S
            await self._async_poll_once()
        if self._error is not None or self._sample is None:
            raise self._error or ServerError(ServerProblem.CANNOT_CONNECT, "not polled")
        return self._sample

    def _busy_sample(self, error: ServerError) -> SampleT | None:
        """Return the sample to show when ``error`` means the server is busy, not down.

        None by default: a server that cannot be read is down.
        """
        del error
        return None

    async def _async_poll_once(self) -> None:
        try:
            async with asyncio.timeout(POLL_TIMEOUT_S):
                self._sample = await self._async_poll()
        except ServerError as err:
            self._error = err
        except TimeoutError:
            self._error = timeout_error(POLL_TIMEOUT_S)
        except ValueError as err:
            self._error = ServerError(ServerProblem.MALFORMED, str(err))
        else:
            self._error = None
        if self._error is None:
            self._answered_at = time.monotonic()
        elif (
            self._failing_since is None
            and time.monotonic() - self._answered_at < BUSY_LIMIT_S
            and (busy := self._busy_sample(self._error))
        ):
            # Its last poll was answered: busy, not down (never once it failed).
            self._sample, self._error = busy, None
            return
        await self._async_track_outage()

    async def _async_track_outage(self) -> None:
        """Raise the repair issue once an outage lasts; clear it when the server is back."""
        if self._error is None:
            self._failing_since = None
            if self._issue_raised:
                self._issue_raised = False
                self._clear_outage_issue()
            return
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        outage = now - self._failing_since
        if self.settings.outage_s and outage >= self.settings.outage_s:
            self._issue_raised = True
            self._raise_outage_issue(
                str(round(outage / 60)), await async_error_text(self.hass, self._error)
            )

    @abstractmethod
    def _raise_outage_issue(self, minutes: str, error: str) -> None:
        """Raise (or refresh) the repair issue of an outage of ``minutes`` so far."""

    @abstractmethod
    def _clear_outage_issue(self) -> None:
        """Delete the repair issue of an outage (nothing happens without one)."""


class ServerCollector[SampleT](PolledCollector[SampleT]):
    """Polls one model server; its outage raises the server's repair issue."""

    @override
    def _raise_outage_issue(self, minutes: str, error: str) -> None:
        async_raise_server_unreachable(
            self.hass,
            self.entry_id,
            self.settings.subentry_id,
            {"server": self.settings.title, "minutes": minutes, "error": error},
        )

    @override
    def _clear_outage_issue(self) -> None:
        async_clear_server_unreachable(self.hass, self.settings.subentry_id)
