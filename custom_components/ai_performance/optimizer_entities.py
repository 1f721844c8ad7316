"""The overview's optimization entities: the Benchmark sensor and the two buttons."""

from typing import Any, Final, override

from homeassistant.components import persistent_notification
from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .benchmark import BenchmarkStatus, async_benchmark_plan
from .const import DOMAIN
from .coordinator import AIPerformanceCoordinator
from .engine.autopilot import mean_effect
from .entity import OverviewEntity
from .optimizer import async_optimize

OPTIMIZE_NOTIFICATION_ID: Final = f"{DOMAIN}_optimize"

BENCHMARK: Final = SensorEntityDescription(
    key="benchmark",
    translation_key="benchmark",
    device_class=SensorDeviceClass.ENUM,
    options=[status.value for status in BenchmarkStatus],
)
RUN_BENCHMARK: Final = ButtonEntityDescription(
    key="run_benchmark", translation_key="run_benchmark"
)
EFFECTIVENESS: Final = SensorEntityDescription(
    key="optimization_effectiveness",
    translation_key="optimization_effectiveness",
    native_unit_of_measurement=PERCENTAGE,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=1,
)
# The newest actions listed in the effectiveness sensor's attributes.
LISTED_ACTIONS: Final = 10
OPTIMIZE: Final = ButtonEntityDescription(
    key="optimize", translation_key="optimize", entity_category=EntityCategory.CONFIG
)


class BenchmarkSensor(OverviewEntity, SensorEntity):
    """Where the benchmark stands, with its progress and results as attributes."""

    # Results and progress are in the response and the notification; the recorder keeps states.
    _unrecorded_attributes = frozenset({"results", "comparison", "prompts"})

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Show the entry's benchmark runner."""
        super().__init__(coordinator, BENCHMARK)
        self._runner = coordinator.config_entry.runtime_data.benchmark

    @override
    async def async_added_to_hass(self) -> None:
        """Follow every step of the runs."""
        await super().async_added_to_hass()
        self.async_on_remove(self._runner.async_add_listener(self.async_write_ha_state))

    @property
    @override
    def native_value(self) -> str:
        """Return the status of the last run (idle before any)."""
        run = self._runner.run
        return BenchmarkStatus.IDLE if run is None else run.status

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the last run's progress and results."""
        run = self._runner.run
        if run is None:
            return None
        attributes = run.as_dict()
        del attributes["status"]
        return attributes


class EffectivenessSensor(OverviewEntity, SensorEntity):
    """How much auto-optimization's actions improved their KPI, on average, in %."""

    _unrecorded_attributes = frozenset({"actions"})

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Show the entry's auto-optimizer."""
        super().__init__(coordinator, EFFECTIVENESS)
        self._optimizer = coordinator.config_entry.runtime_data.optimizer

    @override
    async def async_added_to_hass(self) -> None:
        """Follow every action taken and measured."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._optimizer.async_add_listener(self.async_write_ha_state)
        )

    @property
    @override
    def native_value(self) -> float | None:
        """Return the mean improvement of the measured actions."""
        return mean_effect(self._optimizer.records)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the newest actions, how many are measured, and how many still wait."""
        records = list(self._optimizer.records)
        return {
            "actions_taken": len(records),
            "measured": sum(1 for r in records if r.effect_percent is not None),
            "waiting": sum(
                1 for r in records if not r.measured and r.before is not None
            ),
            "actions": [
                {
                    **record.as_dict(),
                    "at": dt_util.utc_from_timestamp(record.at).isoformat(),
                }
                for record in records[-LISTED_ACTIONS:]
            ],
        }


class RunBenchmarkButton(OverviewEntity, ButtonEntity):
    """Runs the default benchmark in the background; results in a notification."""

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Run the entry's default benchmark."""
        super().__init__(coordinator, RUN_BENCHMARK)

    @override
    async def async_press(self) -> None:
        """Start the benchmark of the preferred Assist agent."""
        plan = await async_benchmark_plan(self.hass)
        self.coordinator.config_entry.runtime_data.benchmark.async_start(
            plan, notify=True
        )


class OptimizeButton(OverviewEntity, ButtonEntity):
    """Runs the optimizer as a dry run; the recommendations go to a notification."""

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Optimize the entry's install."""
        super().__init__(coordinator, OPTIMIZE)

    @override
    async def async_press(self) -> None:
        """Recommend, changing nothing."""
        found = await async_optimize(
            self.hass, self.coordinator.config_entry, dry_run=True
        )
        persistent_notification.async_create(
            self.hass,
            recommendations_text(found["recommendations"]),
            title="AI optimization",
            notification_id=OPTIMIZE_NOTIFICATION_ID,
        )


def recommendations_text(recommendations: list[dict[str, Any]]) -> str:
    """Return the recommendations as Markdown, most severe first."""
    if not recommendations:
        return "Nothing to optimize: no recommendation applies now."
    lines = []
    for item in recommendations:
        rationale = item["rationale"]
        lines += [
            f"**{item['title']}: {item['name']}** ({item['severity']}): {rationale}",
            f"Expected: {item['expected_effect']}",
        ]
        if item["action"] is not None:
            lines.append(
                f"Safe action: {item['action']['description']} "
                "(the optimize action with dry run off carries it out)."
            )
        lines.append("")
    return "\n".join(lines).rstrip()


@callback
def optimizer_sensors(coordinator: AIPerformanceCoordinator) -> list[SensorEntity]:
    """Return the overview's optimization sensors (effectiveness with auto-optimization on)."""
    sensors: list[SensorEntity] = [BenchmarkSensor(coordinator)]
    if coordinator.config_entry.runtime_data.optimizer.settings.enabled:
        sensors.append(EffectivenessSensor(coordinator))
    return sensors
