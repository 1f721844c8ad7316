"""Forecast sensors (memory, disks and GPU memory full in) and latency anomaly binary sensors."""

from collections.abc import Iterable
from dataclasses import replace
import time
from typing import Any, Final, override

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import UnitOfTime
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .alert_entities import subject_device_info
from .collectors.base import request_subject
from .coordinator import AIPerformanceCoordinator
from .engine.anomaly import LatencyCheck
from .engine.forecast import DAY_S, ResourceForecast
from .entity import AIPerformanceEntity
from .trends import DISK

ATTR_LATENCY: Final = "latency"


def _full_in(key: str) -> SensorEntityDescription:
    return SensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        suggested_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=1,
    )


FULL_IN: Final = {
    "memory": _full_in("memory_full_in"),
    "vram": _full_in("vram_full_in"),
    "config_disk": _full_in("config_disk_full_in"),
    DISK: _full_in("disk_full_in"),
}
LATENCY_ANOMALY: Final = BinarySensorEntityDescription(
    key="latency_anomaly",
    translation_key="latency_anomaly",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


class ForecastSensor(AIPerformanceEntity, SensorEntity):
    """Hours until a resource is full, from the trend of its recorded hourly means.

    Unknown until half a day is recorded, and while the resource is not filling up.
    """

    def __init__(self, coordinator: AIPerformanceCoordinator, key: str) -> None:
        """Initialise the sensor of forecast ``key``."""
        forecast = coordinator.data.forecasts[key]
        if forecast.resource != DISK:
            description = FULL_IN[forecast.resource]
        elif forecast.item is None:  # the configuration directory's disk
            description = FULL_IN["config_disk"]
        else:
            description = replace(
                FULL_IN[DISK], key=f"{FULL_IN[DISK].key}_{forecast.item}"
            )
            self._attr_translation_placeholders = {"mount": forecast.item}
        super().__init__(
            coordinator,
            description,
            subject=forecast.subject,
            device_info=subject_device_info(coordinator, forecast.subject),
            need=None,
        )
        self.forecast_key = key

    @property
    def forecast(self) -> ResourceForecast | None:
        """Return this resource's forecast in the latest snapshot."""
        return self.coordinator.data.forecasts.get(self.forecast_key)

    @property
    @override
    def native_value(self) -> StateType:
        """Return the hours until full, to a tenth (it changes every six minutes)."""
        forecast = self.forecast
        if forecast is None:
            return None
        seconds = forecast.seconds_until_full(time.time())
        return None if seconds is None else round(seconds / 3600, 1)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the trend: growth per day, the value in a day, and how well a line fits."""
        forecast = self.forecast
        trend = None if forecast is None else forecast.trend
        if trend is None:
            return None
        return {
            "growth_per_day": round(trend.slope_per_day, 2),
            "in_24_h": round(trend.value_at(time.time() + DAY_S), 1),
            "confidence": round(trend.r_squared * 100),
            "hours_of_history": trend.points,
        }


class LatencyAnomalySensor(AIPerformanceEntity, BinarySensorEntity):
    """On while an agent is unusually slow for this hour of the week."""

    # The latency and its score change every tick.
    _unrecorded_attributes = frozenset({ATTR_LATENCY, "score"})

    def __init__(self, coordinator: AIPerformanceCoordinator, key: str) -> None:
        """Initialise the anomaly sensor of request subject ``key``."""
        subject = request_subject(key)
        super().__init__(
            coordinator,
            LATENCY_ANOMALY,
            subject=subject,
            device_info=subject_device_info(coordinator, subject),
            need=None,
        )
        self.check_key = key

    @property
    def check(self) -> LatencyCheck | None:
        """Return this subject's latency check in the latest snapshot."""
        return self.coordinator.data.latency_checks.get(self.check_key)

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True while unusually slow; unknown until a baseline is recorded."""
        check = self.check
        return None if check is None else check.is_anomaly

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the latency, what is usual now, the score and how the baseline was made.

        An anomaly that started within a day after an update also names the update and when
        it was seen.
        """
        check = self.check
        if check is None or check.baseline is None:
            return None
        score = check.score
        attributes: dict[str, Any] = {
            ATTR_LATENCY: None if check.value is None else round(check.value),
            "usual_latency": round(check.baseline.center),
            "score": None if score is None else round(score, 2),
            "baseline": check.baseline.method,
        }
        if check.after_update is not None and check.updated_at is not None:
            attributes["after_update"] = check.after_update
            attributes["updated_at"] = dt_util.utc_from_timestamp(
                check.updated_at
            ).isoformat()
        return attributes


def forecast_sensors(
    coordinator: AIPerformanceCoordinator, keys: Iterable[str] | None = None
) -> list[ForecastSensor]:
    """Return the forecast sensors of ``keys`` (every forecast when None)."""
    wanted = coordinator.data.forecasts if keys is None else keys
    return [ForecastSensor(coordinator, key) for key in wanted]


def latency_anomaly_sensors(
    coordinator: AIPerformanceCoordinator, keys: Iterable[str] | None = None
) -> list[LatencyAnomalySensor]:
    """Return the anomaly binary sensors of ``keys`` (every agent when None)."""
    wanted = coordinator.data.latency_checks if keys is None else keys
    return [LatencyAnomalySensor(coordinator, key) for key in wanted]
