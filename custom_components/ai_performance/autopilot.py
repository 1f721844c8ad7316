"""Auto-optimisation (opt-in): safe actions taken on their own, logged, and measured.

After every tick the recommendations are made afresh; those whose action is allowed and whose
condition has held for its duration are carried out in a background task (see
engine/autopilot.py for the guards). Every action is written to the logbook and fired as an
``ai_performance_optimization`` event, and its KPI is measured over equal windows before and
after it: the mean latency of the agent's requests, the VRAM in use, or the model's share in
VRAM. What was done, and its effect, survive restarts.
"""

import asyncio
from collections import deque
import time
from typing import Any, Final

from homeassistant.components.logbook import async_log_entry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .collectors.gpu import GpuSample
from .const import (
    CONF_AUTO_OPTIMIZE,
    CONF_AUTO_OPTIMIZE_ACTIONS,
    CONF_COOLDOWN_MINUTES,
    CONF_MAX_ACTIONS_PER_HOUR,
    DEFAULT_COOLDOWN_MINUTES,
    DEFAULT_MAX_ACTIONS_PER_HOUR,
    DOMAIN,
    EVENT_OPTIMIZATION,
    LOGGER,
)
from .coordinator import AIPerformanceConfigEntry
from .engine.autopilot import (
    EFFECT_WINDOW_S,
    ActionRecord,
    Autopilot,
    AutopilotSettings,
    window_mean,
)
from .engine.recommend import ActionKind, Kind, Recommendation
from .engine.requests import column
from .model_control import ollama_servers
from .optimizer import async_apply, recommendations, served_models

STORAGE_VERSION: Final = 1
# Actions remembered with their effects.
MAX_RECORDS: Final = 50
# Gauge samples kept per KPI: two windows of ticks, with room to spare.
MAX_SAMPLES: Final = 256
AGENT_KINDS: Final = frozenset({Kind.COLD_STARTS, Kind.PREDICTIVE_PRELOAD})


def autopilot_settings(options: dict[str, Any]) -> AutopilotSettings:
    """Return the auto-optimisation settings of the entry's options."""
    return AutopilotSettings(
        enabled=bool(options.get(CONF_AUTO_OPTIMIZE, False)),
        allowed=frozenset(
            ActionKind(kind) for kind in options.get(CONF_AUTO_OPTIMIZE_ACTIONS, ())
        ),
        cooldown_s=60.0 * options.get(CONF_COOLDOWN_MINUTES, DEFAULT_COOLDOWN_MINUTES),
        max_per_hour=int(
            options.get(CONF_MAX_ACTIONS_PER_HOUR, DEFAULT_MAX_ACTIONS_PER_HOUR)
        ),
    )


def kpi_of(item: Recommendation) -> tuple[str, bool]:
    """Return the KPI an action on ``item`` should move, and whether lower is better."""
    if item.kind in AGENT_KINDS:
        return f"latency:{item.subject}", True
    if item.kind is Kind.VRAM_PRESSURE:
        return f"vram:{item.subject}", True
    if item.kind is Kind.CPU_OFFLOAD:
        return f"gpu_offload:{item.subject}", False
    return f"none:{item.id}", True


class AutoOptimizer:
    """Carries out the allowed actions on its own and measures their effect."""

    def __init__(self, hass: HomeAssistant, entry: AIPerformanceConfigEntry) -> None:
        """Prepare; ``async_load`` reads what was done before."""
        self._hass = hass
        self._entry = entry
        self.settings = autopilot_settings(dict(entry.options))
        self._autopilot = Autopilot(self.settings)
        self.records: deque[ActionRecord] = deque(maxlen=MAX_RECORDS)
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.optimizations"
        )
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[CALLBACK_TYPE] = []

    async def async_load(self) -> None:
        """Read the actions taken before (their effects, the cooldowns, the hourly cap)."""
        data = await self._store.async_load() or {}
        for saved in data.get("records", []):
            try:
                self.records.append(ActionRecord.from_dict(saved))
            except KeyError, TypeError, ValueError:
                LOGGER.debug("Dropping a malformed saved optimisation %s", saved)
        self._autopilot.restore(
            (float(at), (str(server), str(model)))
            for at, (server, model) in data.get("taken", [])
        )

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``listener`` whenever an action is taken or measured."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def _changed(self) -> None:
        self._store.async_delay_save(self._data_to_save, 10)
        for listener in list(self._listeners):
            listener()

    def _data_to_save(self) -> dict[str, Any]:
        return {
            "records": [record.as_dict() for record in self.records],
            "taken": [[at, list(target)] for at, target in self._autopilot.history()],
        }

    async def async_stop(self) -> None:
        """Cancel an action under way and save."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self._store.async_save(self._data_to_save())

    @callback
    def async_on_tick(self) -> None:
        """Judge the recommendations of the new snapshot; start the actions that are due."""
        if not self.settings.enabled:
            return
        now = time.time()
        found = recommendations(self._hass, self._entry)
        self._sample(found, now)
        self._measure(now)
        due = self._autopilot.due(found, now)
        if due and (self._task is None or self._task.done()):
            self._task = self._hass.async_create_background_task(
                self._async_act(due, now), f"{DOMAIN} auto-optimization"
            )

    def _gauges(self) -> dict[str, float]:
        """Return the gauge KPIs of now: each GPU's VRAM in use, each model's share in VRAM."""
        values: dict[str, float] = {}
        snapshot = self._entry.runtime_data.coordinator.data
        for gpus in snapshot.samples(GpuSample).values():
            for uuid, reading in gpus.readings.items():
                if (used := reading.memory_used_percent) is not None:
                    values[f"vram:{uuid}"] = used
        models = served_models(
            ollama_servers(self._entry), self._entry.runtime_data.ledger
        )
        for model in models:
            if (offload := model.gpu_offload_percent) is not None:
                values[f"gpu_offload:{model.server_id}/{model.model}"] = offload
        return values

    def _sample(self, found: list[Recommendation], now: float) -> None:
        """Keep the gauge KPIs of what is recommended or being measured."""
        wanted = {kpi_of(item)[0] for item in found} | {
            r.kpi for r in self.records if not r.measured
        }
        for key, value in self._gauges().items():
            if key in wanted:
                self._samples.setdefault(key, deque(maxlen=MAX_SAMPLES)).append(
                    (now, value)
                )
        for key in [k for k in self._samples if k not in wanted]:
            del self._samples[key]

    def _kpi_mean(self, kpi: str, start: float, end: float) -> float | None:
        """Return the KPI's mean over (start, end]: from the request log or the samples."""
        kind, _, subject = kpi.partition(":")
        if kind == "latency":
            ledger_subject = self._entry.runtime_data.ledger.subjects.get(subject)
            if ledger_subject is None:
                return None
            rows = ledger_subject.log.rows_within(end, end - start)
            durations = column(rows, "duration_ms")[column(rows, "end") <= end]
            return float(durations.mean()) if len(durations) else None
        return window_mean(self._samples.get(kpi, ()), start, end)

    def _measure(self, now: float) -> None:
        """Measure the actions whose window after them is over."""
        measured = False
        for record in self.records:
            if record.measured or record.before is None:
                continue
            if now >= record.at + EFFECT_WINDOW_S:
                record.after = self._kpi_mean(
                    record.kpi, record.at, record.at + EFFECT_WINDOW_S
                )
                if record.after is None:
                    record.before = None  # nothing to compare with: not measurable
                measured = True
        if measured:
            self._changed()

    async def _async_act(self, due: list[Recommendation], now: float) -> None:
        for item in due:
            if item.action is None:
                continue
            kpi, lower_is_better = kpi_of(item)
            before = self._kpi_mean(kpi, now - EFFECT_WINDOW_S, now)
            done = await async_apply(self._entry, item)
            self._autopilot.taken(item.action, now)
            record = ActionRecord(
                at=now,
                recommendation_id=item.id,
                description=item.action.describe(),
                kpi=kpi,
                lower_is_better=lower_is_better,
                before=before,
                changed=bool(done.get("changed")),
                error=None if done.get("changed") else str(done.get("reason")),
            )
            self.records.append(record)
            self._announce(item, record)
        self._changed()

    def _announce(self, item: Recommendation, record: ActionRecord) -> None:
        """Write the action to the logbook and fire it as an event."""
        outcome = "done" if record.changed else f"not done: {record.error}"
        async_log_entry(
            self._hass,
            "AI Performance Monitor",
            f"optimized on its own: {record.description} ({outcome}). {item.rationale}",
            DOMAIN,
        )
        self._hass.bus.async_fire(
            EVENT_OPTIMIZATION,
            {
                "config_entry_id": self._entry.entry_id,
                "recommendation_id": item.id,
                "kind": item.kind.value,
                "subject": item.subject,
                "action": None if item.action is None else item.action.kind.value,
                "model": None if item.action is None else item.action.model,
                "description": record.description,
                "changed": record.changed,
                "error": record.error,
                "rationale": item.rationale,
                "at": dt_util.utc_from_timestamp(record.at).isoformat(),
            },
        )
