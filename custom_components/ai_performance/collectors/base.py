"""The contract every source implements, so that a new source is one new module."""

from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.exceptions import ConfigEntryNotReady

from ..const import DOMAIN, SOURCE_HOST, SUBJECT_HOST


def device_identifier(entry_id: str, subject: str) -> tuple[str, str]:
    """Return the device registry identifier of ``subject`` (the overview, a GPU, ...)."""
    return (DOMAIN, f"{entry_id}_{subject}")


def host_subject(source: str) -> str:
    """Return the device subject of the host read by ``source``: "host", or an AI host's."""
    return SUBJECT_HOST if source == SOURCE_HOST else source.replace(":", "_", 1)


def gpu_subject(uuid: str) -> str:
    """Return the subject of the GPU with NVML UUID ``uuid``."""
    return f"gpu_{uuid}"


def request_subject(key: str) -> str:
    """Return the device subject of the requests subject ``key`` (an agent, a pipeline, ...)."""
    return f"requests_{key}"


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


def source_name(collector: Collector[Any]) -> str:
    """Return how logs name a source: a model server by its title, others by their key.

    An AI host's exporters are named by the host's title and the exporter's name.
    """
    if isinstance(title := getattr(collector, "source_title", None), str):
        return title
    title = getattr(getattr(collector, "settings", None), "title", None)
    return title if isinstance(title, str) and title else collector.key


class Need(NamedTuple):
    """One thing a source can read, named by the source's key and the need's name."""

    source: str
    name: str


class Needs:
    """What the enabled entities need read, per source, so that sources read nothing more.

    Entities subscribe to a need (``"load"``, ``"disk:/config"``, a GPU field, ...) when they are
    added and unsubscribe when they are removed; disabled entities are never added, so what they
    show is never read. Until ``narrow`` is called everything is wanted: the first snapshot must
    show every supported value, because that is how the platforms learn which entities exist.
    """

    def __init__(self) -> None:
        """Start wanting everything."""
        self._counts: Counter[tuple[str, str]] = Counter()
        self._everything = True

    def narrow(self) -> None:
        """From now on, want only what some entity subscribed to."""
        self._everything = False

    def select(self, source: str, offered: Iterable[str]) -> frozenset[str]:
        """Return which of the needs ``offered`` by ``source`` to read now."""
        if self._everything:
            return frozenset(offered)
        return frozenset(need for need in offered if self._counts[source, need])

    @callback
    def async_subscribe(self, source: str, need: str) -> CALLBACK_TYPE:
        """Want ``need`` of ``source`` until the returned callback is called."""
        self._counts[source, need] += 1

        @callback
        def unsubscribe() -> None:
            self._counts[source, need] -= 1

        return unsubscribe
