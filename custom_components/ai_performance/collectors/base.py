"""The contract every source implements, so that a new source is one new module."""

from typing import Protocol

from homeassistant.exceptions import ConfigEntryNotReady


class CollectorNotReady(ConfigEntryNotReady):
    """Raised by ``async_start`` when the source cannot start yet; setup is retried later.

    Give it a ``translation_key``: Home Assistant shows the text on the integration card.
    """


class Collector[SampleT](Protocol):
    """A source of samples that the coordinator polls once per tick.

    ``async_collect`` must be fast and must never block the event loop: blocking work goes to the
    executor. The coordinator runs every collector concurrently, each under its own ``timeout``
    (seconds); an exception or a timeout marks only this source's entities unavailable.
    """

    key: str
    timeout: float

    async def async_start(self) -> None:
        """Prepare the source (subscribe, open handles); may raise CollectorNotReady."""

    async def async_collect(self) -> SampleT:
        """Return the current sample."""

    async def async_stop(self) -> None:
        """Release everything async_start acquired; called once on unload."""
