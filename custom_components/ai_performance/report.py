"""The performance report (get_report): per subject, what a period of hours was like.

Read from the recorder's statistics (the SLA ledger's hourly counts, the hourly means of the
latency sensors, the changes of the token and cost sensors) and from our own state (the alerts
raised, the recommendations of now). The hour in progress is not in the statistics yet: its
counts come from the service-level ledger, as do the closed hours the recorder does not hold
(yet, or at all without the recorder). So a named period is the sensors' window: the last whole
days of hours and the hour in progress, and its counts agree with theirs.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import time
from typing import Any, Final

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN
from homeassistant.const import UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .alerts import RaisedAlert
from .collectors.base import request_subject
from .collectors.requests import RequestsCollector
from .const import DOMAIN, SUBJECT_OVERVIEW
from .coordinator import AIPerformanceConfigEntry
from .engine.report import HourCounts, subject_report
from .engine.sla import SlaBook, hour_start
from .optimizer import async_as_dicts, recommendations
from .sla import OVERALL, SLA_KINDS, statistic_id

PERIOD_DAYS: Final = {"day": 1, "week": 7, "month": 30}
MAX_PERIOD: Final = timedelta(days=366)
LATENCY_KEYS: Final = ("latency_p50", "latency_p95")
TOTAL_KEYS: Final = ("input_tokens", "output_tokens", "cost")
OVERALL_COST: Final = "overall_cost"
TOP_ALERTS: Final = 5
COUNTS: Final = ("requests", "within_target", "errors", "error_allowance")


def report_period(
    period: str | None, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """Return the hours of a period: a named one, or from ``start`` to ``end``.

    A named period is its whole hours before the current one, and the current hour up to now
    (the service-level sensors' window); a period that ends within the current hour ends now.
    """
    now = dt_util.utcnow()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    if start is None:
        end = now
        start = this_hour - timedelta(days=PERIOD_DAYS[period or "day"])
    else:
        start = dt_util.as_utc(start).replace(minute=0, second=0, microsecond=0)
        end = min(dt_util.as_utc(end) if end is not None else now, now)
        if end > this_hour:
            end = now  # the hour in progress is counted whole, up to now
    if not start < end or end - start > MAX_PERIOD:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_period",
            translation_placeholders={
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
    return start, end


@dataclass(frozen=True, slots=True)
class _Statistics:
    """What the recorder holds for the period, by statistic or entity id."""

    counts: Mapping[str, Mapping[float, float]]
    means: Mapping[str, Mapping[float, float]]
    changes: Mapping[str, float]


def _read(
    hass: HomeAssistant,
    start: datetime,
    end: datetime,
    ids: tuple[set[str], set[str], set[str]],
) -> _Statistics:
    """Read the hourly counts, hourly means and total changes (in the recorder's executor)."""
    count_ids, mean_ids, change_ids = ids
    counts = statistics_during_period(
        hass, start, end, count_ids, "hour", None, {"change"}
    )
    means = statistics_during_period(
        hass,
        start,
        end,
        mean_ids,
        "hour",
        {"duration": UnitOfTime.MILLISECONDS},
        {"mean"},
    )
    changes = statistics_during_period(
        hass, start, end, change_ids, "hour", None, {"change"}
    )
    return _Statistics(
        counts={
            stat_id: {row["start"]: row.get("change") or 0.0 for row in rows}
            for stat_id, rows in counts.items()
        },
        means={
            stat_id: {
                row["start"]: mean
                for row in rows
                if (mean := row.get("mean")) is not None
            }
            for stat_id, rows in means.items()
        },
        changes={
            stat_id: sum(row.get("change") or 0.0 for row in rows)
            for stat_id, rows in changes.items()
        },
    )


def _hours(
    statistics: _Statistics, key: str, book: SlaBook, period: tuple[float, float]
) -> list[HourCounts]:
    """Return the hours of subject ``key`` in ``period``: recorded, else the ledger's.

    The ledger holds the hour in progress, and the closed hours of the last 30 days (an hour
    just closed is written to the recorder a moment later).
    """
    by_kind = {
        kind: statistics.counts.get(statistic_id(key, kind), {}) for kind in COUNTS
    }
    hours = {
        start: HourCounts(start, *(by_kind[kind].get(start, 0.0) for kind in COUNTS))
        for start in set().union(*by_kind.values())
    }
    if (ledger := book.subjects.get(key)) is not None:
        for start, counts in [*ledger.closed, (book.open_start, ledger.open)]:
            if period[0] <= start < period[1] and start not in hours:
                hours[start] = HourCounts(
                    start,
                    counts.requests,
                    counts.within_target,
                    counts.errors,
                    counts.error_allowance,
                )
    return [hours[start] for start in sorted(hours)]


def _top_alerts(
    history: Iterable[RaisedAlert], subject: str | None, start: float, end: float
) -> list[dict[str, Any]]:
    """Return the alerts raised most often in the period (for one subject, or all)."""
    found: dict[str, dict[str, Any]] = {}
    for item in history:
        if not start <= item.at < end:
            continue
        if subject is not None and item.subject != subject:
            continue
        entry = found.setdefault(
            item.alert_id,
            {"alert_id": item.alert_id, "rule": item.rule, "name": item.name,
             "raised": 0, "critical": 0},
        )  # fmt: skip
        entry["raised"] += 1
        entry["critical"] += item.severity == "critical"
    ranked = sorted(found.values(), key=lambda a: (-a["critical"], -a["raised"]))
    return ranked[:TOP_ALERTS]


def _sla_book(entry: AIPerformanceConfigEntry) -> SlaBook:
    """Return the service-level ledger's hours (the requests source owns it)."""
    for collector in entry.runtime_data.coordinator.collectors:
        if isinstance(collector, RequestsCollector):
            return collector.sla.book
    return SlaBook(hour_start(time.time()))


async def async_report(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """Return the report of the whole hours from ``start`` to ``end``."""
    data = entry.runtime_data
    book = _sla_book(entry)
    subjects = {
        key: subject
        for key, subject in data.ledger.subjects.items()
        if subject.kind in SLA_KINDS
    }
    registry = er.async_get(hass)

    def entity_id(subject: str, key: str) -> str | None:
        unique_id = f"{entry.entry_id}_{subject}_{key}"
        return registry.async_get_entity_id(SENSOR_DOMAIN, DOMAIN, unique_id)

    sensors = {
        (key, sensor): entity
        for key in subjects
        for sensor in (*LATENCY_KEYS, *TOTAL_KEYS)
        if (entity := entity_id(request_subject(key), sensor)) is not None
    }
    overall_cost = entity_id(SUBJECT_OVERVIEW, OVERALL_COST)
    ids = (
        {statistic_id(key, kind) for key in (*subjects, OVERALL) for kind in COUNTS},
        {e for (_, sensor), e in sensors.items() if sensor in LATENCY_KEYS},
        {e for (_, sensor), e in sensors.items() if sensor in TOTAL_KEYS}
        | ({overall_cost} if overall_cost else set()),
    )
    statistics = _Statistics({}, {}, {})
    if "recorder" in hass.config.components:
        statistics = await get_instance(hass).async_add_executor_job(
            _read, hass, start, end, ids
        )

    def means(key: str, sensor: str) -> Mapping[float, float]:
        entity = sensors.get((key, sensor))
        return {} if entity is None else statistics.means.get(entity, {})

    def change(key: str, sensor: str) -> float | None:
        entity = sensors.get((key, sensor))
        return None if entity is None else statistics.changes.get(entity)

    now_recommended = await async_as_dicts(hass, recommendations(hass, entry))
    history = data.alerts.history
    period = (start.timestamp(), end.timestamp())
    report: dict[str, Any] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "overall": {
            **subject_report(
                _hours(statistics, OVERALL, book, period),
                {},
                {},
            ),
            "cost": None
            if overall_cost is None
            else statistics.changes.get(overall_cost),
            "top_alerts": _top_alerts(history, None, *period),
        },
        "subjects": {},
        # What auto-optimisation did in the period, and how much each action helped.
        "optimizations": [
            {
                **record.as_dict(),
                "at": dt_util.utc_from_timestamp(record.at).isoformat(),
            }
            for record in data.optimizer.records
            if period[0] <= record.at < period[1]
        ],
    }
    for key, subject in subjects.items():
        report["subjects"][key] = {
            "name": subject.name,
            "kind": subject.kind.value,
            **subject_report(
                _hours(statistics, key, book, period),
                means(key, "latency_p50"),
                means(key, "latency_p95"),
            ),
            "input_tokens": change(key, "input_tokens"),
            "output_tokens": change(key, "output_tokens"),
            "cost": change(key, "cost"),
            "top_alerts": _top_alerts(history, request_subject(key), *period),
            "recommendations": [
                item for item in now_recommended if item["subject"] == key
            ],
        }
    return report
