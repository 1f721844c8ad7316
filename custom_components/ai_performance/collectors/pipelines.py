"""Assist pipelines: one request per finished run, read from the pipeline debug store.

Home Assistant has no event for pipeline runs; it keeps the events of the last 10 runs per
pipeline, in memory, in a private store. We read that store every ``POLL_S`` and whenever a
satellite changes state (a run ends), take only finished runs, and remember which we took (in
the ledger, saved with its totals, because Home Assistant still holds them after we reload), so
no run is missed or counted twice. If the store ever changes shape, this part turns itself off and
raises a repair issue; everything else keeps running.
"""

from datetime import timedelta
from typing import Any, Final

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval

from ..const import DOMAIN, LOGGER
from ..engine.pipeline_runs import RunShapeError, is_finished, pipeline_record
from ..ledger import RequestLedger

POLL_S: Final = timedelta(seconds=2)
# Run ids already counted; the store holds 10 per pipeline, so this covers 400 pipelines.
MAX_PROCESSED_RUNS: Final = 4096
ISSUE_INTERNALS_CHANGED: Final = "assist_internals_changed"
SATELLITE_PREFIX: Final = "assist_satellite."


class PipelineWatcher:
    """Turns finished Assist pipeline runs into requests in the ledger."""

    def __init__(self, hass: HomeAssistant, ledger: RequestLedger) -> None:
        """Watch nothing yet; ``start`` begins polling."""
        self.hass = hass
        self.ledger = ledger
        self.available = False
        self._store_key: Any = None
        self._unsubscribers: list[CALLBACK_TYPE] = []

    @callback
    def start(self) -> None:
        """Start polling the debug store, if this Home Assistant has one we understand."""
        try:
            from homeassistant.components.assist_pipeline.pipeline import (  # noqa: PLC0415
                KEY_ASSIST_PIPELINE,
            )
        except ImportError:
            self._turn_off("the pipeline module has moved")
            return
        self._store_key = KEY_ASSIST_PIPELINE
        self.available = True
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_INTERNALS_CHANGED)
        self._unsubscribers = [
            async_track_time_interval(self.hass, self._poll, POLL_S),
            self.hass.bus.async_listen(
                EVENT_STATE_CHANGED,
                self._poll,
                event_filter=_is_satellite_change,
            ),
        ]
        self.poll()

    @callback
    def stop(self) -> None:
        """Stop polling."""
        while self._unsubscribers:
            self._unsubscribers.pop()()

    @callback
    def _poll(self, _event_or_time: Any) -> None:
        self.poll()

    @callback
    def poll(self) -> None:
        """Record every finished run not recorded yet."""
        if not self.available:
            return
        data = self.hass.data.get(self._store_key)
        if data is None:  # Assist is not set up (yet)
            return
        counted = self.ledger.counted_runs
        try:
            for pipeline_id, runs in list(data.pipeline_debug.items()):
                for run_id, run in list(runs.items()):
                    if run_id not in counted and is_finished(run.events):
                        self._record(pipeline_id, run_id, run.events)
        except (AttributeError, KeyError, TypeError, RunShapeError) as err:
            self._turn_off(str(err))

    def _record(self, pipeline_id: str, run_id: str, events: list[Any]) -> None:
        # The run's own id: it names the run in the Assist debug view.
        record = pipeline_record(run_id, pipeline_id, events)
        counted = self.ledger.counted_runs
        counted[run_id] = None
        while len(counted) > MAX_PROCESSED_RUNS:
            counted.popitem(last=False)
        self.ledger.add(record, name=_pipeline_name(self.hass, pipeline_id))
        if record.ttft_ms is not None and record.conversation_id:
            self.ledger.add_ttft(record.conversation_id, record.ttft_ms)

    def _turn_off(self, reason: str) -> None:
        self.available = False
        self.stop()
        LOGGER.warning("Assist pipeline runs are no longer measured: %s", reason)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            ISSUE_INTERNALS_CHANGED,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="assist_internals_changed",
            translation_placeholders={"reason": reason},
        )


@callback
def _is_satellite_change(data: Any) -> bool:
    return str(data["entity_id"]).startswith(SATELLITE_PREFIX)


def _pipeline_name(hass: HomeAssistant, pipeline_id: str) -> str | None:
    from homeassistant.components import assist_pipeline  # noqa: PLC0415

    try:
        return assist_pipeline.async_get_pipeline(hass, pipeline_id).name
    except Exception:  # noqa: BLE001 - a name is a nicety; the run still counts
        return None
