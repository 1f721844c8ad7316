"""The request ledger: every finished AI request, per subject, with totals that survive restarts.

Sources (chat logs, pipeline runs, the record_request action) add finished requests here; the
requests collector aggregates the ledger once per tick. Totals are saved with a debounced write
(at most SAVE_DELAY_S after a change); the request logs behind the windowed figures every
LOG_SAVE_INTERVAL_S while requests come in. Both are written when Home Assistant stops or the
entry unloads (every reload, every options save) and read back at setup, so a reload or a
restart changes no figure: no request is counted twice, and only a crash loses the requests of
the last save interval from the windows.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping, Set as AbstractSet
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
import json
import logging
import time
from typing import Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import CONF_ANSWER_CODES, DOMAIN, LOGGER
from .engine.cost import ModelPrice, MonthlySpend, price_for, request_cost
from .engine.requests import (
    CombinedWindows,
    RequestLog,
    RequestRecord,
    RequestSource,
    Totals,
)
from .engine.usage import UsageProfile
from .engine.windows import DEFAULT_ANSWER_CODES

STORAGE_VERSION: Final = 1
# Totals are written at most this often while requests come in (and always on stop).
SAVE_DELAY_S: Final = 30
# The request logs (megabytes for a busy install) are written this often while requests come in,
# and always on stop: a crash loses at most this much of the windowed figures' requests.
LOG_SAVE_INTERVAL_S: Final = 300
# Conversations remembered to attach a pipeline's time to first token to its agent's request.
MAX_LINKED_CONVERSATIONS: Final = 256


class SubjectKind(StrEnum):
    """What a subject is; each kind gets its own device model and sensors."""

    AGENT = "agent"
    AI_TASK = "ai_task"
    PIPELINE = "pipeline"
    EXTERNAL = "external"
    # A model server's synthetic requests: measured like the others, never counted as use.
    PROBE = "probe"


_KIND_OF_SOURCE: Final = {
    RequestSource.ASSIST: SubjectKind.PIPELINE,
    RequestSource.AGENT: SubjectKind.AGENT,
    RequestSource.AI_TASK: SubjectKind.AI_TASK,
    RequestSource.PROBE: SubjectKind.PROBE,
}
# Saved by earlier versions, which kept the benchmark's requests under subjects (devices) of
# their own: dropped on load.
_FORMER_BENCHMARK_KIND: Final = "benchmark"


# Subjects whose requests use the GPU themselves (a pipeline's GPU time is its agent's).
AGENT_LEVEL_KINDS: Final = frozenset(
    {SubjectKind.AGENT, SubjectKind.AI_TASK, SubjectKind.EXTERNAL}
)
# Subjects measured here under the ids Home Assistant gives them (entity and pipeline ids).
OBSERVED: Final = frozenset(
    {SubjectKind.AGENT, SubjectKind.AI_TASK, SubjectKind.PIPELINE}
)
# Subjects that people use: their hours of use are learned (for predictive preloading).
USED_KINDS: Final = AGENT_LEVEL_KINDS | {SubjectKind.PIPELINE}
# Models whose last use is remembered (to find the least recently used one).
MAX_MODELS_REMEMBERED: Final = 256
# The conversations of the run_benchmark action: a chat log of one is never counted as use.
BENCHMARK_CONVERSATION_PREFIX: Final = f"{DOMAIN}_benchmark_"


def _log(record: RequestRecord) -> None:
    """Log a request as one DEBUG line of JSON."""
    if LOGGER.isEnabledFor(logging.DEBUG):
        LOGGER.debug("request %s", json.dumps(record.as_log_dict()))


def current_month() -> str:
    """Return the calendar month in Home Assistant's time zone, as "2026-11"."""
    return dt_util.now().strftime("%Y-%m")


def answer_codes(options: Mapping[str, Any]) -> frozenset[str]:
    """Return the error codes that ``options`` count as answers, not failures."""
    saved = options.get(CONF_ANSWER_CODES)
    if not isinstance(saved, list | tuple):
        return DEFAULT_ANSWER_CODES
    return frozenset(code for code in saved if isinstance(code, str))


def subject_kind(source: RequestSource) -> SubjectKind:
    """Return the kind of subject requests from ``source`` are counted under."""
    return _KIND_OF_SOURCE.get(source, SubjectKind.EXTERNAL)


@dataclass(slots=True)
class Subject:
    """One monitored subject: its log of recent requests and its lifetime totals."""

    key: str
    kind: SubjectKind
    name: str
    totals: Totals = field(default_factory=Totals)
    log: RequestLog = field(default_factory=RequestLog)
    usage: UsageProfile = field(default_factory=UsageProfile)


class RequestLedger:
    """Every subject's requests, in memory, with persisted totals."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        prices: Mapping[str, ModelPrice] | None = None,
        answers: frozenset[str] = DEFAULT_ANSWER_CODES,
    ) -> None:
        """Create an empty ledger; ``async_load`` reads the saved totals.

        Errors coded with one of ``answers`` are the assistant answering, not failing: the
        windows count them apart (as they are read, so the restored logs follow a change).
        """
        self.hass = hass
        self.answers = answers
        self.subjects: dict[str, Subject] = {}
        # Model -> prices per million tokens (the options' price table).
        self.prices: Mapping[str, ModelPrice] = prices or {}
        self.monthly_spend = MonthlySpend()
        # The current price of 1 kWh in the cost currency (None: local inference unpriced).
        self.electricity_price: Callable[[], float | None] = lambda: None
        # Told of every agent-level request as it is added (to measure its GPU energy).
        self.on_agent_request: Callable[[str, int, RequestRecord], None] | None = None
        # Told of every request as it is added (to count it against its service level).
        self.on_request: Callable[[Subject, RequestRecord], None] | None = None
        # Whether a watched model server holds a model at a time (None: no server says).
        self.model_loaded: Callable[[str, float], bool | None] = lambda _m, _t: None
        # Model -> when a request last used it (wall-clock seconds), oldest first.
        self.model_last_used: OrderedDict[str, float] = OrderedDict()
        # Assist pipeline runs already counted, oldest first: Home Assistant still holds its
        # last runs after a reload, and they must not count again.
        self.counted_runs: OrderedDict[str, None] = OrderedDict()
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.requests"
        )
        self._save_pending = False
        # The logs are built into plain strings on the loop and serialised in a thread.
        self._log_store: Store[dict[str, Any]] = Store(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}.request_logs",
            atomic_writes=True,
            serialize_in_event_loop=False,
        )
        # Requests added since the logs were last written.
        self._logs_changed = False
        self._cancel_log_saves: CALLBACK_TYPE | None = None
        # The overview's figures: every agent-level subject's requests together.
        self.overall = CombinedWindows()
        # conversation id -> (subject, sequence number) of its newest agent request, and the
        # time to first token a pipeline measured before that request was recorded.
        self._agent_requests: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._early_ttft: OrderedDict[str, float] = OrderedDict()
        # Benchmark conversation id -> who waits for the chat log's record of its turn.
        self._claims: dict[str, asyncio.Future[RequestRecord]] = {}

    async def async_load(self) -> None:
        """Read the saved subjects, totals and request logs; then save the logs periodically."""
        data = await self._store.async_load() or {}
        for key, saved in data.get("subjects", {}).items():
            if saved["kind"] == _FORMER_BENCHMARK_KIND:
                continue
            self._track(
                Subject(
                    key,
                    SubjectKind(saved["kind"]),
                    saved["name"],
                    Totals.from_dict(saved["totals"]),
                    usage=UsageProfile.from_dict(saved.get("usage") or {}),
                )
            )
        await self._async_load_logs()
        self._cancel_log_saves = async_track_time_interval(
            self.hass,
            self._async_save_logs_if_changed,
            timedelta(seconds=LOG_SAVE_INTERVAL_S),
            name=f"{DOMAIN} request logs",
        )
        if (spend := data.get("monthly_spend")) is not None:
            self.monthly_spend = MonthlySpend(spend["month"], spend["cost"])
        self.model_last_used.update(
            (model, float(at))
            for model, at in (data.get("model_last_used") or {}).items()
            if isinstance(at, int | float)
        )
        self.counted_runs.update(
            (run_id, None)
            for run_id in data.get("counted_runs") or []
            if isinstance(run_id, str)
        )

    async def _async_load_logs(self) -> None:
        saved_logs = (await self._log_store.async_load() or {}).get("logs") or {}
        for key, saved in saved_logs.items():
            if (subject := self.subjects.get(key)) is None:
                continue
            try:
                log = RequestLog.restored(saved)
            except ValueError as err:
                LOGGER.warning("The saved requests of %s are unreadable: %s", key, err)
                continue
            self._replace_log(subject, log)

    async def async_save(self) -> None:
        """Write the totals and the request logs now (on unload and stop)."""
        if self._cancel_log_saves is not None:
            self._cancel_log_saves()
            self._cancel_log_saves = None
        self._save_pending = False
        await self._store.async_save(self._data_to_save())
        await self._async_save_logs()

    async def _async_save_logs_if_changed(self, _now: Any = None) -> None:
        if self._logs_changed:
            await self._async_save_logs()

    async def _async_save_logs(self) -> None:
        self._logs_changed = False
        now = time.time()
        await self._log_store.async_save(
            {
                "logs": {
                    key: subject.log.as_saved(now)
                    for key, subject in self.subjects.items()
                }
            }
        )

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        self._save_pending = False
        return {
            "subjects": {
                key: {
                    "kind": subject.kind.value,
                    "name": subject.name,
                    "totals": subject.totals.as_dict(),
                    "usage": subject.usage.as_dict(),
                }
                for key, subject in self.subjects.items()
            },
            "monthly_spend": {
                "month": self.monthly_spend.month,
                "cost": self.monthly_spend.cost,
            },
            "model_last_used": dict(self.model_last_used),
            "counted_runs": list(self.counted_runs),
        }

    @callback
    def schedule_save(self) -> None:
        """Save soon; one write covers every change until then."""
        if not self._save_pending:
            self._save_pending = True
            self._store.async_delay_save(self._data_to_save, SAVE_DELAY_S)

    @callback
    def subject(self, key: str, kind: SubjectKind, name: str | None = None) -> Subject:
        """Return the subject ``key``, creating it on first sight.

        Requests reported (before such reports were refused) under the id of something measured
        here are not its own: the first measured request starts that subject afresh.
        """
        subject = self.subjects.get(key)
        if (
            subject is not None
            and subject.kind is SubjectKind.EXTERNAL
            and kind in OBSERVED
        ):
            LOGGER.warning(
                "Requests reported under %s, which is measured here, are dropped from its"
                " figures",
                key,
            )
            self.overall.detach(subject.log)
            del self.subjects[key]
            subject = None
        if subject is None:
            subject = self._track(Subject(key, kind, name or key))
        elif name and subject.name != name:
            subject.name = name
        return subject

    @callback
    def forget_probes_except(self, kept: AbstractSet[str]) -> None:
        """Forget every probe subject not in ``kept``, its totals and requests included."""
        stale = [
            key
            for key, subject in self.subjects.items()
            if subject.kind is SubjectKind.PROBE and key not in kept
        ]
        for key in stale:
            del self.subjects[key]
        if stale:
            self._logs_changed = True
            self.schedule_save()

    def _track(self, subject: Subject) -> Subject:
        """Hold ``subject``; an agent-level one counts in the overall figures."""
        self.subjects[subject.key] = subject
        if subject.kind in AGENT_LEVEL_KINDS:
            self.overall.attach(subject.log)
        return subject

    def _replace_log(self, subject: Subject, log: RequestLog) -> None:
        self.overall.detach(subject.log)
        subject.log = log
        if subject.kind in AGENT_LEVEL_KINDS:
            self.overall.attach(log)

    @callback
    def claim(self, conversation_id: str) -> asyncio.Future[RequestRecord]:
        """Return a future that gets the chat log's record of a benchmark conversation's turn.

        The benchmark records its requests itself; this only lends it the tokens the chat log
        saw. Call ``release`` when done waiting.
        """
        future: asyncio.Future[RequestRecord] = self.hass.loop.create_future()
        self._claims[conversation_id] = future
        return future

    @callback
    def release(self, conversation_id: str) -> None:
        """Stop waiting for a benchmark conversation's record."""
        self._claims.pop(conversation_id, None)

    @callback
    def add(self, record: RequestRecord, name: str | None = None) -> None:
        """Count one finished request exactly once, and log it as one DEBUG line of JSON."""
        if (record.conversation_id or "").startswith(
            BENCHMARK_CONVERSATION_PREFIX
        ) and record.source is not RequestSource.BENCHMARK:
            # A benchmark's turn seen in the chat logs: lent to the benchmark, never counted.
            future = self._claims.pop(record.conversation_id or "", None)
            if future is not None and not future.done():
                future.set_result(record)
            return
        if record.source is RequestSource.BENCHMARK:
            # Its figures are the benchmark's results: no subject (device), no use, no
            # service level; only what it cost and its model's use count.
            self._price(record)
            self._note_model_use(record)
            self.schedule_save()
            _log(record)
            return
        kind = subject_kind(record.source)
        known = self.subjects.get(record.subject)
        if kind is SubjectKind.EXTERNAL and known and known.kind is not kind:
            # Never into the figures of something measured here (the action refuses it too).
            LOGGER.warning("A request reported under %s is not counted", record.subject)
            return
        subject = self.subject(record.subject, kind, name)
        # An agent's request can get its time to first token from the pipeline that ran it.
        conversation_id = (
            record.conversation_id
            if record.source in (RequestSource.AGENT, RequestSource.AI_TASK)
            else None
        )
        if conversation_id is not None and record.ttft_ms is None:
            record.ttft_ms = self._early_ttft.pop(conversation_id, None)
        self._price(record)
        self._note_model_use(record)
        if subject.kind in USED_KINDS:
            started = dt_util.as_local(dt_util.utc_from_timestamp(record.start))
            subject.usage.add(started.date().toordinal(), started.hour)
        seq = subject.log.append(record)
        if conversation_id is not None:
            self._link(conversation_id, record.subject, seq)
        subject.totals.add(record)
        self._logs_changed = True
        self.schedule_save()
        if self.on_agent_request is not None and subject.kind in AGENT_LEVEL_KINDS:
            self.on_agent_request(subject.key, seq, record)
        if self.on_request is not None:
            self.on_request(subject, record)
        _log(record)

    def _note_model_use(self, record: RequestRecord) -> None:
        """Say whether the request found its model loaded, and remember when it was used."""
        if not record.model:
            return
        if record.model_loaded is None and record.load_ms is None:
            record.model_loaded = self.model_loaded(record.model, record.start)
        self.model_last_used[record.model] = max(
            record.end, self.model_last_used.pop(record.model, record.end)
        )
        while len(self.model_last_used) > MAX_MODELS_REMEMBERED:
            self.model_last_used.popitem(last=False)

    def _price(self, record: RequestRecord) -> None:
        """Work out what the request cost, where its model has prices and it reported tokens."""
        if record.cost is None and record.model and self.prices:
            price = price_for(self.prices, record.model)
            if price is not None:
                record.cost = request_cost(
                    price,
                    record.input_tokens,
                    record.output_tokens,
                    record.cached_input_tokens,
                )
        if record.cost:
            self.monthly_spend.add(current_month(), record.cost)

    @callback
    def add_energy(
        self, subject_key: str, seq: int, record: RequestRecord, energy_wh: float
    ) -> None:
        """Add the GPU energy a recorded request used, measured after it finished.

        With an electricity price, the energy is priced now, at the price of this hour, and
        the request's cost (its tokens', if any) grows by it.
        """
        record.energy_wh = energy_wh
        subject = self.subjects[subject_key]
        subject.totals.energy_wh += energy_wh
        price = self.electricity_price()
        if price is not None and energy_wh > 0:
            cost = energy_wh / 1000 * price
            record.cost = (record.cost or 0.0) + cost
            subject.totals.cost += cost
            subject.totals.electricity_cost += cost
            self.monthly_spend.add(current_month(), cost)
        subject.log.amend(seq, energy_wh=energy_wh, cost=record.cost)
        self._logs_changed = True
        self.schedule_save()

    @callback
    def add_ttft(self, conversation_id: str, ttft_ms: float) -> None:
        """Attach a pipeline's time to first token to the agent request of the same turn."""
        link = self._agent_requests.get(conversation_id)
        if link is not None:
            subject_key, seq = link
            log = self.subjects[subject_key].log
            log.amend(seq, ttft_ms=ttft_ms)
            # The recent records show where a request's time went: the newest of this
            # conversation (the linked one) gets it too.
            for record in reversed(log.recent):
                if record.conversation_id == conversation_id:
                    if record.ttft_ms is None:
                        record.ttft_ms = ttft_ms
                    break
            self._logs_changed = True
            return
        self._early_ttft[conversation_id] = ttft_ms
        while len(self._early_ttft) > MAX_LINKED_CONVERSATIONS:
            self._early_ttft.popitem(last=False)

    def _link(self, conversation_id: str, subject: str, seq: int) -> None:
        self._agent_requests[conversation_id] = (subject, seq)
        self._agent_requests.move_to_end(conversation_id)
        while len(self._agent_requests) > MAX_LINKED_CONVERSATIONS:
            self._agent_requests.popitem(last=False)

    @callback
    def reset(self, keys: list[str]) -> dict[str, dict[str, float]]:
        """Start the subjects ``keys`` afresh: totals to zero, recent requests forgotten.

        Return what each held before. Their hours of use and names are kept; with every
        subject reset, the month's spend starts afresh too.
        """
        before = {key: self.summary(key) for key in keys}
        for key in keys:
            subject = self.subjects[key]
            subject.totals = Totals()
            self._replace_log(subject, RequestLog())
        if set(keys) == set(self.subjects):
            self.monthly_spend = MonthlySpend()
        self._logs_changed = True
        self.schedule_save()
        return before

    def summary(self, key: str) -> dict[str, float]:
        """Return the lifetime counts of subject ``key`` that a reset would clear."""
        totals = self.subjects[key].totals
        return {
            "requests": totals.requests,
            "errors": totals.errors,
            "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens,
            "cost": round(totals.cost, 6),
            "energy_wh": round(totals.energy_wh, 3),
        }

    @callback
    def rate(
        self, subject_key: str | None, conversation_id: str | None, *, up: bool
    ) -> str:
        """Count a thumbs up or down for a conversation's agent; return the agent rated.

        Without a conversation id the newest agent request is rated. Raise LookupError when
        there is no such request.
        """
        if conversation_id is not None:
            link = self._agent_requests.get(conversation_id)
            if link is None:
                raise LookupError(conversation_id)
            subject_key = link[0]
        elif subject_key is None:
            if not self._agent_requests:
                msg = "no request yet"
                raise LookupError(msg)
            subject_key = next(reversed(self._agent_requests.values()))[0]
        subject = self.subjects.get(subject_key)
        if subject is None:
            raise LookupError(subject_key)
        if up:
            subject.totals.ratings_up += 1
        else:
            subject.totals.ratings_down += 1
        self.schedule_save()
        return subject_key
