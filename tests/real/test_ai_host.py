"""A real node_exporter added as an AI host: every host figure against its own answer.

Ground truth: node_exporter's text of the very scrapes our collector read (recorded as it
received them), read with prometheus_client and the formulas in node_truth.py.
"""

import asyncio

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import (
    CONF_SCAN_INTERVAL,
    CONF_VERIFY_SSL,
    UnitOfDataRate,
    UnitOfInformation,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util.unit_conversion import DataRateConverter, InformationConverter

from custom_components.ai_performance.collectors.ai_host import NodeExporterCollector
from custom_components.ai_performance.const import (
    CONF_GPU_EXPORTER_URL,
    CONF_NODE_EXPORTER_URL,
    CONF_NODE_SELECTOR,
    CONF_OUTAGE_MINUTES,
    CONF_PROMETHEUS_URL,
    DOMAIN,
    SUBENTRY_AI_HOST,
)
from custom_components.ai_performance.engine.node_exporter import NodeReading

from ..conftest import ENTRY_ID, our_entry, setup_integration
from ..real_servers import PrometheusServer
from ..servers.conftest import submit_flow
from ..servers.test_ai_host import start_ai_host_flow
from .node_truth import host_truth, mismatches, scraped_at


def host_input(**urls: str) -> dict[str, object]:
    """Return the AI host form as a user fills it in."""
    return {
        CONF_VERIFY_SSL: True,
        CONF_SCAN_INTERVAL: 30,
        CONF_OUTAGE_MINUTES: 15,
        **urls,
    }


async def add_ai_host(hass: HomeAssistant, **urls: str) -> str:
    """Add an AI host through the flow, as a user does; return its subentry id."""
    flow_id = await start_ai_host_flow(hass)
    result = await submit_flow(hass, flow_id, host_input(**urls))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    return next(
        s.subentry_id
        for s in entry.subentries.values()
        if s.subentry_type == SUBENTRY_AI_HOST
    )


def _node_collector(hass: HomeAssistant) -> NodeExporterCollector:
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    (collector,) = (
        c
        for c in entry.runtime_data.coordinator.collectors
        if isinstance(c, NodeExporterCollector)
    )
    return collector


def _recording(collector: NodeExporterCollector) -> list[tuple[str, float]]:
    """Record every text the collector reads, with the time it takes as the reading's."""
    scrapes: list[tuple[str, float]] = []
    read = collector.read

    def recorded(not_before: float = 0.0) -> tuple[str, NodeReading, float]:
        text, reading, at = read(not_before)
        scrapes.append((text, at))
        return text, reading, at

    collector.read = recorded  # type: ignore[method-assign]
    return scrapes


async def _two_polls(
    hass: HomeAssistant, apart_s: float
) -> tuple[tuple[str, float], tuple[str, float]]:
    """Enable every sensor, then poll twice ``apart_s`` apart; return what each poll read."""
    await _enable_everything(hass)
    collector = _node_collector(hass)
    scrapes = _recording(collector)
    await _poll(hass, collector)
    await asyncio.sleep(apart_s)
    await _poll(hass, collector)
    return scrapes[-2], scrapes[-1]


async def _enable_everything(hass: HomeAssistant) -> None:
    """Enable the entities disabled by default (each CPU core's), as a user may."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, ENTRY_ID):
        if entity.disabled_by is not None:
            registry.async_update_entity(entity.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(ENTRY_ID)
    await hass.async_block_till_done()


async def _poll(hass: HomeAssistant, collector: NodeExporterCollector) -> None:
    collector.poll_next_tick()
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


# What Home Assistant shows a size or a rate in (the sensors' suggested units), from bytes.
_CONVERTERS = {
    SensorDeviceClass.DATA_SIZE: (InformationConverter, UnitOfInformation.BYTES),
    SensorDeviceClass.DATA_RATE: (
        DataRateConverter,
        UnitOfDataRate.BYTES_PER_SECOND,
    ),
}


def host_states(hass: HomeAssistant, subject: str) -> dict[str, float]:
    """Return every host sensor of ``subject`` by its key, in its native unit (bytes).

    Home Assistant shows sizes and rates in GiB and MB/s; they are converted back with its own
    converters.
    """
    prefix = f"{ENTRY_ID}_{subject}_"
    states = {}
    for entity in er.async_entries_for_config_entry(er.async_get(hass), ENTRY_ID):
        if entity.domain == "sensor" and entity.unique_id.startswith(prefix):
            state = hass.states.get(entity.entity_id)
            if state is None or state.state in ("unknown", "unavailable"):
                continue
            value = float(state.state)
            if converter := _CONVERTERS.get(state.attributes.get("device_class")):
                kind, native = converter
                value = kind.convert(
                    value, state.attributes["unit_of_measurement"], native
                )
            states[entity.unique_id.removeprefix(prefix)] = value
    return states


async def test_every_host_figure_is_node_exporters_own(
    hass: HomeAssistant, node: str
) -> None:
    await setup_integration(hass, our_entry())
    subentry_id = await add_ai_host(hass, **{CONF_NODE_EXPORTER_URL: node})
    (first, then), (second, now) = await _two_polls(hass, 1.5)

    truth = host_truth(first, second, now - then)
    shown = host_states(hass, f"ai_host_{subentry_id}")
    assert sorted(shown) == sorted(truth)
    assert mismatches(shown, truth) == {}


async def test_the_ai_host_is_a_device_named_after_the_machine(
    hass: HomeAssistant, node: str
) -> None:
    await setup_integration(hass, our_entry())

    subentry_id = await add_ai_host(hass, **{CONF_NODE_EXPORTER_URL: node})

    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    subentry = entry.subentries[subentry_id]
    hostname = _node_collector(hass).layout.hostname
    assert hostname
    assert subentry.title == f"AI host {hostname}"
    assert subentry.data[CONF_NODE_EXPORTER_URL] == f"{node}/metrics"
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{ENTRY_ID}_ai_host_{subentry_id}"), ENTRY_ID
    )
    assert device is not None
    assert device.name == subentry.title
    assert device.sw_version.startswith("node_exporter 1.")
    # Home Assistant's own process and event loop are not the AI host's.
    assert "ha_memory" not in host_states(hass, f"ai_host_{subentry_id}")


async def test_a_node_exporter_given_as_the_gpu_exporter_is_refused_on_its_field(
    hass: HomeAssistant, node: str
) -> None:
    await setup_integration(hass, our_entry())
    flow_id = await start_ai_host_flow(hass)

    result = await submit_flow(
        hass, flow_id, host_input(**{CONF_GPU_EXPORTER_URL: node})
    )

    assert result["errors"] == {CONF_GPU_EXPORTER_URL: "not_gpu_exporter"}


async def test_through_prometheus_every_host_figure_is_what_prometheus_holds(
    hass: HomeAssistant, node_prometheus: PrometheusServer
) -> None:
    await setup_integration(hass, our_entry())
    flow_id = await start_ai_host_flow(hass, "prometheus")
    fleet = {CONF_PROMETHEUS_URL: node_prometheus.url}

    bad = await submit_flow(
        hass, flow_id, host_input(**fleet, **{CONF_NODE_SELECTOR: 'job="node'})
    )
    assert bad["errors"] == {CONF_NODE_SELECTOR: "selector_invalid"}
    none = await submit_flow(
        hass, flow_id, host_input(**fleet, **{CONF_NODE_SELECTOR: 'job="elsewhere"'})
    )
    assert none["errors"] == {CONF_NODE_SELECTOR: "selector_empty"}
    result = await submit_flow(
        hass, flow_id, host_input(**fleet, **{CONF_NODE_SELECTOR: 'job="node"'})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    await hass.async_block_till_done()
    subentry_id = next(
        s.subentry_id
        for s in hass.config_entries.async_get_entry(ENTRY_ID).subentries.values()
        if s.subentry_type == SUBENTRY_AI_HOST
    )
    assert result["title"] == f"AI host {_node_collector(hass).layout.hostname}"
    (first, _), (second, _) = await _two_polls(hass, 2.5)

    assert 'job="node"' in second  # Prometheus's federation answered, with its labels
    # Rates run over Prometheus's own scrape times, as its rate() does.
    then, now = scraped_at(first), scraped_at(second)
    assert then is not None
    assert now is not None
    assert now > then
    truth = host_truth(first, second, now - then)
    shown = host_states(hass, f"ai_host_{subentry_id}")
    assert sorted(shown) == sorted(truth)
    assert mismatches(shown, truth) == {}


async def test_the_same_machine_is_not_added_twice_through_prometheus(
    hass: HomeAssistant, node: str, node_prometheus: PrometheusServer
) -> None:
    await setup_integration(hass, our_entry())
    await add_ai_host(hass, **{CONF_NODE_EXPORTER_URL: node})
    flow_id = await start_ai_host_flow(hass, "prometheus")

    result = await submit_flow(
        hass,
        flow_id,
        host_input(
            **{
                CONF_PROMETHEUS_URL: node_prometheus.url,
                CONF_NODE_SELECTOR: 'job="node"',
            }
        ),
    )

    # Other URLs, but node_exporter names the same machine.
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
