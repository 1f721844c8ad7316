"""The requests source: aggregates every subject's AI requests once per tick.

Requests are pushed into the ledger as they finish (chat logs, pipeline runs, the record_request
action); this collector owns those watchers and turns the ledger into per-subject window
aggregates for the entities.
"""

from collections.abc import Callable, Mapping, Set as AbstractSet
from dataclasses import dataclass
import time

from homeassistant.core import HomeAssistant

from ..const import DEFAULT_COLLECT_TIMEOUT, SOURCE_REQUESTS
from ..engine.energy import EnergyReading
from ..engine.requests import WINDOWS_S, RequestRecord, Totals
from ..engine.sla import SlaFigures
from ..engine.stages import SlowestRequest, slowest_request
from ..engine.windows import WindowStats
from ..ledger import RequestLedger, SubjectKind, current_month
from ..request_energy import RequestEnergy
from ..sla import OVERALL, SLA_KINDS, SlaLedger
from .chat_logs import ChatLogWatcher
from .pipelines import PipelineWatcher

# The 5-minute window gives rates; the entities show the hour, with 5 minutes and the day as
# attributes.
RATE_WINDOW_S, MAIN_WINDOW_S, DAY_WINDOW_S = WINDOWS_S


@dataclass(frozen=True, slots=True)
class SubjectStats:
    """One subject as the entities show it."""

    key: str
    kind: SubjectKind
    name: str
    totals: Totals
    windows: Mapping[float, WindowStats]
    last: RequestRecord | None
    # Service level by window (hours); empty for subjects without one (probes).
    sla: Mapping[int, SlaFigures]
    # The slowest of the recent requests within the main window, and where its time went.
    slowest: SlowestRequest | None = None


@dataclass(frozen=True, slots=True)
class RequestsSample:
    """Every subject's aggregates, and the overall ones."""

    subjects: Mapping[str, SubjectStats]
    overall: Mapping[float, WindowStats]
    overall_sla: Mapping[int, SlaFigures]
    open_turns: int
    abandoned_turns: int
    # Turns dropped because MAX_OPEN_TURNS were open at once (normally 0).
    dropped_turns: int
    # Requests pushed out of their subject's windows by the log's count bound (still counted
    # in the totals; the windows then cover the newest DEFAULT_CAPACITY requests).
    left_out_of_windows: int
    pipelines_measured: bool
    agents_measured: bool
    # True when a GPU counts energy, so agent requests get theirs.
    energy_measured: bool
    # What requests cost in the current calendar month ("2026-11"), over every subject.
    month: str
    month_cost: float
    # What 1 kWh costs now, in the cost currency (None: local inference is not priced).
    electricity_price: float | None = None


class RequestsCollector:
    """Aggregates the ledger; starts and stops the watchers that fill it."""

    key = SOURCE_REQUESTS
    timeout = DEFAULT_COLLECT_TIMEOUT

    def __init__(  # noqa: PLR0913 - what the requests source is built from
        self,
        hass: HomeAssistant,
        ledger: RequestLedger,
        sla: SlaLedger,
        read_gpu_energy: Callable[[], EnergyReading | None] = lambda: None,
        *,
        probes: AbstractSet[str] = frozenset(),
        energy_expected: bool = False,
    ) -> None:
        """Prepare the watchers over ``ledger``; ``read_gpu_energy`` reads GPU counters.

        ``sla`` counts every request against its service level; ``probes`` are the subjects
        of the servers' probes configured now; ``energy_expected``: an AI host's GPUs count
        the requests' energy, read from the first tick on.
        """
        self.ledger = ledger
        self.sla = sla
        self.probes = probes
        self.chat_logs = ChatLogWatcher(hass, ledger)
        self.pipelines = PipelineWatcher(hass, ledger)
        self.energy = RequestEnergy(
            hass,
            read_gpu_energy,
            ledger.add_energy,
            self.chat_logs.oldest_open_start,
            expected=energy_expected,
        )

    async def async_start(self) -> None:
        """Read the saved totals, then start watching (and metering, with a GPU)."""
        await self.ledger.async_load()
        # The probes of a server removed, or switched to another model or off, are gone for
        # good: their devices go too.
        self.ledger.forget_probes_except(self.probes)
        await self.sla.async_start(self.ledger.subjects)
        self.ledger.on_request = self.sla.add
        await self.energy.async_start()
        if self.energy.available:
            self.ledger.on_agent_request = self.energy.request_finished
            self.chat_logs.on_turn_open = self.energy.request_started
        self.chat_logs.start()
        self.pipelines.start()

    async def async_collect(self) -> RequestsSample:
        """Aggregate every subject over every window (on the loop: no I/O).

        Each log's figures are kept up to date incrementally, so this costs what changed since
        the last tick, not what the logs hold.
        """
        # Runs that finished since the last 2 s poll count in this snapshot already (cheap:
        # the store holds at most 10 runs per pipeline, and known runs are skipped).
        self.pipelines.poll()
        now = time.time()
        self.sla.close_hours(now)
        month = current_month()
        answers = self.ledger.answers
        subjects = {
            key: SubjectStats(
                key=key,
                kind=subject.kind,
                name=subject.name,
                totals=subject.totals.copy(),
                windows={w: subject.log.stats(now, w, answers) for w in WINDOWS_S},
                last=subject.log.recent[-1] if subject.log.recent else None,
                sla=self.sla.figures(key) if subject.kind in SLA_KINDS else {},
                slowest=slowest_request(subject.log.recent, now - MAIN_WINDOW_S),
            )
            for key, subject in self.ledger.subjects.items()
        }
        return RequestsSample(
            subjects=subjects,
            overall={w: self.ledger.overall.stats(now, w, answers) for w in WINDOWS_S},
            overall_sla=self.sla.figures(OVERALL),
            open_turns=self.chat_logs.open_turns,
            abandoned_turns=self.chat_logs.abandoned,
            dropped_turns=self.chat_logs.dropped,
            left_out_of_windows=sum(
                subject.log.evicted for subject in self.ledger.subjects.values()
            ),
            pipelines_measured=self.pipelines.available,
            agents_measured=self.chat_logs.available,
            energy_measured=self.energy.available,
            month=month,
            month_cost=self.ledger.monthly_spend.spent_in(month),
            electricity_price=self.ledger.electricity_price(),
        )

    async def async_stop(self) -> None:
        """Stop watching and write the totals."""
        self.chat_logs.stop()
        self.pipelines.stop()
        await self.energy.async_stop()
        await self.ledger.async_save()
        await self.sla.async_save()
