"""The SLA ledger: hourly counts per subject, written to the recorder as external statistics.

Each finished request is counted in the hour in progress, which is saved in our storage so a
restart loses nothing. When the hour is over its counts are written to the recorder as four
statistics per subject (``ai_performance:<subject>_requests``, ``_within_target``, ``_errors``
and ``_error_allowance``), sums that only grow, and kept in memory for the windows. At start the
last 30 days are read back from the recorder, so the 7- and 30-day windows survive restarts.
Without the recorder the windows cover the hours since Home Assistant started.
"""

from collections.abc import Iterable, Mapping
from datetime import timedelta
import time
from typing import Any, Final

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util, slugify

from .const import (
    CONF_AVAILABILITY,
    CONF_LATENCY_S,
    CONF_SLA_AGENTS,
    CONF_SLA_CLASSES,
    DOMAIN,
    LOGGER,
)
from .engine.requests import Complexity, RequestRecord, RequestSource
from .engine.sla import (
    DEFAULT_CLASSES,
    MAX_HOURS,
    Counts,
    SlaBook,
    SlaClass,
    SlaFigures,
    hour_start,
)
from .engine.windows import DEFAULT_ANSWER_CODES
from .ledger import AGENT_LEVEL_KINDS, Subject, SubjectKind, answer_codes

STORAGE_VERSION: Final = 1
SAVE_DELAY_S: Final = 30
# The key of every agent-level request together.
OVERALL: Final = "overall"
STATISTICS: Final = ("requests", "within_target", "errors", "error_allowance")
# Subjects with a service level: what users wait for. Probes and benchmarks are synthetic.
SLA_KINDS: Final = AGENT_LEVEL_KINDS | {SubjectKind.PIPELINE}


def statistic_id(key: str, statistic: str) -> str:
    """Return the recorder id of one of subject ``key``'s hourly counts."""
    return f"{DOMAIN}:{slugify(key)}_{statistic}"


class SlaLedger:
    """Counts requests against their promises; owns the hour in progress and the statistics."""

    @classmethod
    def from_options(cls, hass: HomeAssistant, entry: ConfigEntry) -> SlaLedger:
        """Return the ledger of ``entry``, with the promises set in its options."""
        saved = entry.options.get(CONF_SLA_CLASSES) or {}
        classes = {
            level: SlaClass(
                latency_ms=float(saved[level][CONF_LATENCY_S]) * 1000,
                availability_percent=float(saved[level][CONF_AVAILABILITY]),
            )
            if level in saved
            else default
            for level, default in DEFAULT_CLASSES.items()
        }
        agents = {
            agent: Complexity(level)
            for agent, level in (entry.options.get(CONF_SLA_AGENTS) or {}).items()
        }
        return cls(hass, entry.entry_id, classes, agents, answer_codes(entry.options))

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        classes: Mapping[Complexity, SlaClass] | None = None,
        agent_classes: Mapping[str, Complexity] | None = None,
        answers: frozenset[str] = DEFAULT_ANSWER_CODES,
    ) -> None:
        """Prepare an empty ledger; ``async_start`` reads what was saved and recorded.

        A request whose error is coded with one of ``answers`` was answered, not failed.
        """
        self._hass = hass
        self.answers = answers
        self.classes = dict(classes or DEFAULT_CLASSES)
        # An agent whose every request is held to one class, whatever its complexity.
        self.agent_classes = dict(agent_classes or {})
        self.book = SlaBook(hour_start(time.time()))
        self.names: dict[str, str] = {OVERALL: "Overall"}
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.sla"
        )
        # Per statistic: the start of the newest hour recorded, and its sum.
        self._recorded: dict[str, tuple[float, float]] = {}

    @property
    def _recorder(self) -> bool:
        return "recorder" in self._hass.config.components

    async def async_start(self, subjects: Iterable[str]) -> None:
        """Read what was saved and recorded, then close the hours that are over.

        The hour in progress is saved; closed hours come back from the recorder or, without
        it, from the store.
        """
        data = await self._store.async_load() or {}
        if (saved_start := data.get("open_start")) is not None:
            self.book.open_start = float(saved_start)
            for key, counts in data.get("open", {}).items():
                self.book.add_counts(key, Counts.from_dict(counts))
            self.names.update(data.get("names", {}))
        for key, rows in (data.get("closed") or {}).items():
            self.book.load_closed(
                key,
                [(float(start), Counts.from_dict(counts)) for start, counts in rows],
            )
        if self._recorder:
            await self._async_read_recorded({OVERALL, *subjects, *self.book.subjects})
        self.close_hours(time.time())

    async def _async_read_recorded(self, keys: set[str]) -> None:
        instance = get_instance(self._hass)
        if not await instance.async_db_ready:
            return
        ids = {statistic_id(k, s): (k, s) for k in keys for s in STATISTICS}
        since = dt_util.utcnow() - timedelta(hours=MAX_HOURS + 2)
        rows, last = await instance.async_add_executor_job(
            _read_statistics, self._hass, set(ids), since
        )
        self._recorded.update(last)
        hours: dict[str, dict[float, Counts]] = {}
        for stat_id, stat_rows in rows.items():
            key, statistic = ids[stat_id]
            for row in stat_rows:
                counts = hours.setdefault(key, {}).setdefault(row["start"], Counts())
                value = row.get("change") or 0.0
                setattr(
                    counts,
                    statistic,
                    value if statistic == "error_allowance" else round(value),
                )
        for key, by_start in hours.items():
            self.book.load_closed(key, sorted(by_start.items()))

    @callback
    def add(self, subject: Subject, record: RequestRecord) -> None:
        """Count a finished request of ``subject`` (synthetic ones are not counted)."""
        if subject.kind not in SLA_KINDS or record.source is RequestSource.BENCHMARK:
            return
        level = self.agent_classes.get(record.subject, record.complexity)
        promise = self.classes[level]
        error = record.error is not None and record.error not in self.answers
        self.names[subject.key] = subject.name
        self.book.add(subject.key, record.duration_ms, error=error, promise=promise)
        if subject.kind in AGENT_LEVEL_KINDS:
            self.book.add(OVERALL, record.duration_ms, error=error, promise=promise)
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)

    @callback
    def close_hours(self, now: float) -> None:
        """Close the hour in progress once it is over, and record it."""
        closed = self.book.close_hours(now)
        if not closed:
            return
        if self._recorder:
            for key, start, counts in closed:
                self._record(key, start, counts)
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)

    def _record(self, key: str, start: float, counts: Counts) -> None:
        for statistic in STATISTICS:
            stat_id = statistic_id(key, statistic)
            last_start, last_sum = self._recorded.get(stat_id, (-1.0, 0.0))
            if start <= last_start:
                continue  # already recorded (before a restart)
            value = float(getattr(counts, statistic))
            total = last_sum + value
            metadata = StatisticMetaData(
                mean_type=StatisticMeanType.NONE,
                has_sum=True,
                name=f"{self.names.get(key, key)} SLA {statistic.replace('_', ' ')}",
                source=DOMAIN,
                statistic_id=stat_id,
                unit_class=None,
                unit_of_measurement=None,
            )
            row = StatisticData(
                start=dt_util.utc_from_timestamp(start), state=value, sum=total
            )
            async_add_external_statistics(self._hass, metadata, [row])
            self._recorded[stat_id] = (start, total)

    def figures(self, key: str) -> dict[int, SlaFigures]:
        """Return subject ``key``'s service level over every window."""
        return self.book.figures(key)

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "open_start": self.book.open_start,
            "open": {
                key: hours.open.as_dict()
                for key, hours in self.book.subjects.items()
                if hours.open.requests
            },
            "names": dict(self.names),
            # Without the recorder nothing else keeps the closed hours across a reload.
            "closed": {}
            if self._recorder
            else {
                key: [
                    [start, counts.as_dict()]
                    for start, counts in hours.closed
                    if counts.requests
                ]
                for key, hours in self.book.subjects.items()
            },
        }

    async def async_save(self) -> None:
        """Write the hour in progress now (on unload)."""
        await self._store.async_save(self._data_to_save())


def _read_statistics(
    hass: HomeAssistant, ids: set[str], since: Any
) -> tuple[dict[str, list[Any]], dict[str, tuple[float, float]]]:
    """Read each statistic's hourly changes since ``since`` and its newest sum (executor)."""
    rows = statistics_during_period(hass, since, None, ids, "hour", None, {"change"})
    last: dict[str, tuple[float, float]] = {}
    for stat_id in ids:
        newest = get_last_statistics(
            hass, 1, stat_id, convert_units=False, types={"sum"}
        ).get(stat_id)
        if newest:
            last[stat_id] = (newest[0]["start"], newest[0].get("sum") or 0.0)
    if rows:
        LOGGER.debug("Read %s SLA statistics back from the recorder", len(rows))
    return dict(rows), last
