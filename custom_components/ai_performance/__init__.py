"""AI Performance Monitor: how the AI in a Home Assistant install performs."""

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, Final

from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType

from .alert_rules import (
    CONF_CRITICAL,
    CONF_FOR_MINUTES,
    CONF_HYSTERESIS,
    CONF_TARGET,
    CONF_WARNING,
    RULES_BY_KEY,
    RuleKey,
    alert_settings,
    alert_units,
)
from .alerts import AlertManager
from .autopilot import AutoOptimizer
from .benchmark import BenchmarkRunner
from .collectors import build_collectors
from .collectors.ai_host import GpuExporterCollector
from .collectors.base import Needs, gpu_subject
from .collectors.host import monitored_disks
from .collectors.requests import RequestsCollector
from .collectors.servers.base import model_subject
from .collectors.servers.ollama import OllamaCollector
from .const import (
    CONF_ALERT_RULES,
    CONF_AVAILABILITY,
    CONF_COOLDOWN_MINUTES,
    CONF_DISKS,
    CONF_ELECTRICITY_PRICE,
    CONF_GPU_MONITORING,
    CONF_LATENCY_S,
    CONF_MAX_ACTIONS_PER_HOUR,
    CONF_MONTHLY_BUDGET,
    CONF_OUTAGE_MINUTES,
    CONF_PROBE_MINUTES,
    CONF_REPAIR_MINUTES,
    CONF_SLA_AGENTS,
    CONF_SLA_CLASSES,
    DOMAIN,
    ENTRY_STORES,
    GPU_MONITORING_ON,
    LOGGER,
    SOURCE_GPU,
    SOURCE_REQUESTS,
)
from .coordinator import (
    AIPerformanceConfigEntry,
    AIPerformanceCoordinator,
    AIPerformanceData,
    Judges,
)
from .costs import CostSettings, async_electricity_reader, cost_settings
from .dashboard import async_keep_dashboard_current
from .electricity import ElectricityPrice
from .engine.alerts import ThresholdError
from .engine.requests import Complexity
from .entity import (
    ai_host_collectors,
    async_register_ai_host_devices,
    async_remove_stale_devices,
    current_subjects,
    device_identifier,
    server_collectors,
)
from .issues import async_clear_removed_servers
from .ledger import RequestLedger, answer_codes
from .model_control import model_held
from .services import async_setup_services
from .source_health import SourceHealth
from .trends import TrendWatcher
from .validation import finite_only, is_finite_number, shorten

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.SENSOR,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

# Numbers in the options and in a server's settings; one missing is read as its default.
_NUMBER_OPTIONS: Final = (
    CONF_REPAIR_MINUTES,
    CONF_COOLDOWN_MINUTES,
    CONF_MAX_ACTIONS_PER_HOUR,
)
_RULE_NUMBERS: Final = (
    CONF_TARGET,
    CONF_WARNING,
    CONF_CRITICAL,
    CONF_FOR_MINUTES,
    CONF_HYSTERESIS,
)
_SERVER_NUMBERS: Final = (CONF_SCAN_INTERVAL, CONF_OUTAGE_MINUTES, CONF_PROBE_MINUTES)

# Setup and unload return a boolean: Home Assistant 2026.10 requires one, and 2026.11 still accepts
# it from custom integrations. Return None once 2026.10 support is dropped.


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, once for the integration."""
    async_setup_services(hass)
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> bool:
    """Start the collectors, take the first snapshot and set up the platforms."""
    _async_repair_stored_numbers(hass, entry)
    needs = Needs()
    costs = cost_settings(hass, entry.options)
    electricity = await async_electricity_reader(hass, costs, entry.options)
    ledger = RequestLedger(
        hass, entry.entry_id, costs.prices, answer_codes(entry.options)
    )
    ledger.electricity_price = electricity.read
    collectors = build_collectors(hass, entry, needs, ledger)
    # Agent requests are cold when a watched Ollama server did not hold their model.
    ledger.model_loaded = partial(
        model_held, [c for c in collectors if isinstance(c, OllamaCollector)]
    )
    alerts = AlertManager(
        hass, entry.entry_id, alert_settings(entry.options), alert_units(costs.currency)
    )
    await alerts.async_load()
    alerts.async_subscribe_needs(
        needs,
        monitored_disks(hass.config.config_dir, entry.options.get(CONF_DISKS, ())),
    )
    entry.async_on_unload(alerts.async_stop)
    trends = TrendWatcher(hass, entry.entry_id, costs)
    await trends.async_load(entry)
    health = SourceHealth(
        hass,
        entry.entry_id,
        repair_after_s=alerts.settings.repair_s,
        gpu_required=entry.options.get(CONF_GPU_MONITORING) == GPU_MONITORING_ON,
    )
    entry.async_on_unload(health.async_stop)
    coordinator = AIPerformanceCoordinator(
        hass, entry, collectors, Judges(trends=trends, alerts=alerts, health=health)
    )
    # The coordinator stops its collectors on unload, also when this setup fails part way.
    await coordinator.async_config_entry_first_refresh()
    # Without a GPU measuring requests' energy, an electricity price prices nothing.
    if _energy_measured(collectors):
        if electricity.source is not None:
            costs = replace(costs, electricity=electricity)
        entry.async_on_unload(
            coordinator.async_add_listener(
                partial(_reload_when_priced_anew, hass, entry, electricity, costs)
            )
        )
    benchmark = BenchmarkRunner(hass, ledger)
    entry.async_on_unload(benchmark.async_stop)
    optimizer = AutoOptimizer(hass, entry)
    await optimizer.async_load()
    entry.async_on_unload(optimizer.async_stop)
    entry.runtime_data = AIPerformanceData(
        coordinator=coordinator,
        needs=needs,
        ledger=ledger,
        costs=costs,
        alerts=alerts,
        trends=trends,
        benchmark=benchmark,
        optimizer=optimizer,
    )
    async_register_ai_host_devices(hass, coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # The entities have subscribed to what they show: from now on read nothing else.
    needs.narrow()
    trends.async_start(entry)
    entry.async_on_unload(trends.async_stop)
    # Auto-optimisation judges each snapshot once it is published, the first one too.
    entry.async_on_unload(coordinator.async_add_listener(optimizer.async_on_tick))
    optimizer.async_on_tick()
    _async_track_stale_devices(hass, entry, coordinator)
    entry.async_on_unload(async_keep_dashboard_current(hass, entry))
    async_clear_removed_servers(hass, set(entry.subentries))
    # Options and model servers (subentries) added, changed or removed: start afresh.
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


@callback
def _reload_when_priced_anew(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    electricity: ElectricityPrice,
    costs: CostSettings,
) -> None:
    """Reload once an electricity price is set or removed in the Energy settings.

    The cost sensors exist only while something is priced; a price changed in the settings
    needs no reload (it is read for every request).
    """
    if (electricity.source is not None) != (costs.electricity is not None):
        LOGGER.info("The electricity price was set or removed: reloading")
        hass.config_entries.async_schedule_reload(entry.entry_id)


def _energy_measured(collectors: Iterable[object]) -> bool:
    """Return True when a GPU measures the energy of each request."""
    return any(
        isinstance(c, RequestsCollector) and c.energy.available for c in collectors
    )


@callback
def _async_repair_stored_numbers(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> None:
    """Reset to its default every stored number that cannot work, so that setup never fails.

    Earlier versions saved NaN and infinities typed into the forms; JSON stores NaN as null.
    The forms refuse them now; this repairs what was saved before, at every setup.
    """
    options = repaired_options(entry.options)
    if options != entry.options:
        changed = sorted(k for k in entry.options if options.get(k) != entry.options[k])
        LOGGER.warning(
            "Saved options that cannot work were reset to their defaults: %s",
            ", ".join(changed),
        )
        hass.config_entries.async_update_entry(entry, options=options)
    for subentry in list(entry.subentries.values()):
        data = finite_only(subentry.data, _SERVER_NUMBERS)
        if data != subentry.data:
            LOGGER.warning(
                "Settings of %s that cannot work were reset to their defaults",
                shorten(subentry.title),
            )
            hass.config_entries.async_update_subentry(entry, subentry, data=data)


def repaired_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``options`` without the numbers that cannot work (null, NaN, ±inf).

    A rule whose remaining thresholds are out of order, and a service level class missing
    either number, fall back to their defaults whole; so does an agent held to no known class.
    """
    repaired = finite_only(options, _NUMBER_OPTIONS)
    for optional in (CONF_MONTHLY_BUDGET, CONF_ELECTRICITY_PRICE):
        value = options.get(optional)
        if value is not None and not is_finite_number(value):  # None: not set
            del repaired[optional]
    if isinstance(rules := options.get(CONF_ALERT_RULES), Mapping):
        repaired[CONF_ALERT_RULES] = {
            key: rule
            for key, saved in rules.items()
            if isinstance(saved, Mapping)
            and _rule_works(key, rule := finite_only(saved, _RULE_NUMBERS))
        }
    if isinstance(classes := options.get(CONF_SLA_CLASSES), Mapping):
        repaired[CONF_SLA_CLASSES] = {
            level: promise
            for level, promise in classes.items()
            if isinstance(promise, Mapping)
            and all(
                is_finite_number(promise.get(key))
                for key in (CONF_LATENCY_S, CONF_AVAILABILITY)
            )
        }
    if isinstance(agents := options.get(CONF_SLA_AGENTS), Mapping):
        levels = {level.value for level in Complexity}
        repaired[CONF_SLA_AGENTS] = {
            agent: level
            for agent, level in agents.items()
            if isinstance(level, str) and level in levels
        }
    return repaired


def _rule_works(key: str, saved: Mapping[str, Any]) -> bool:
    """Return whether a saved alert rule (over its defaults) gives thresholds that work."""
    if key not in set(RuleKey):
        return True  # not ours to judge: alert settings read only known rules
    try:
        RULES_BY_KEY[RuleKey(key)].settings_from(saved)
    except ThresholdError, TypeError, ValueError:
        return False
    return True


async def _async_reload(hass: HomeAssistant, entry: AIPerformanceConfigEntry) -> None:
    hass.config_entries.async_schedule_reload(entry.entry_id)


@callback
def _async_track_stale_devices(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    coordinator: AIPerformanceCoordinator,
) -> None:
    """Remove the device of a subject that is gone (a GPU lost for good), now and later."""
    known: set[str] = set()

    @callback
    def remove_stale() -> None:
        # A tick in which a source failed says nothing about which of its subjects exist.
        if not all(
            coordinator.data.source_ok(s) for s in (SOURCE_GPU, SOURCE_REQUESTS)
        ):
            return
        # The device registry is only read when the set of subjects changed, not every tick.
        subjects = current_subjects(coordinator)
        if subjects != known:
            async_remove_stale_devices(hass, entry, subjects)
            known.clear()
            known.update(subjects)

    remove_stale()
    entry.async_on_unload(coordinator.async_add_listener(remove_stale))


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device whose subject is gone; current ones would come back."""
    coordinator = entry.runtime_data.coordinator
    # A model that is not loaded now can go; it comes back when it is loaded again.
    for collector in server_collectors(coordinator):
        if isinstance(collector, OllamaCollector):
            for model in collector.known_models:
                subject = model_subject(collector.settings.subentry_id, model)
                if device_identifier(entry.entry_id, subject) in device.identifiers:
                    return collector.forget(model)
    # A GPU an AI host's exporter no longer lists can go; one it lists comes back.
    for host in ai_host_collectors(coordinator):
        if isinstance(host, GpuExporterCollector):
            for uuid in list(host.layout.gpus):
                if (
                    device_identifier(entry.entry_id, gpu_subject(uuid))
                    in device.identifiers
                ):
                    return host.forget(uuid)
    subjects = current_subjects(coordinator)
    return not any(
        device_identifier(entry.entry_id, subject) in device.identifiers
        for subject in subjects
    )


async def async_unload_entry(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> bool:
    """Unload the platforms; the coordinator's shutdown then stops every collector."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> None:
    """Delete what the entry saved (totals, request logs, alerts, service levels)."""
    for name in ENTRY_STORES:
        await Store[Any](hass, 1, f"{DOMAIN}.{entry.entry_id}.{name}").async_remove()
