"""A Prometheus server: preset and user queries as sensors; a failing query fails alone."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from custom_components.ai_performance.collectors.servers.prometheus import PRESETS
from custom_components.ai_performance.const import (
    CONF_PRESETS,
    CONF_QUERIES,
    SUBENTRY_PROMETHEUS,
)

from ..conftest import our_entry, setup_integration
from .conftest import poll, server_state, server_subentry
from .fake_servers import prometheus_server

MY_QUERY = "sum(rate(my_requests_total[5m]))"


async def test_queries_become_sensors_and_fail_one_by_one(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    dcgm = {
        q.promql: value
        for q, value in zip(PRESETS["dcgm_fleet"], (63.5, 40960, 412.0), strict=True)
    }
    answers = {**dcgm, MY_QUERY: 1.25}
    async with prometheus_server(answers) as server:
        subentry = server_subentry(
            SUBENTRY_PROMETHEUS,
            server.url,
            **{
                CONF_PRESETS: ["dcgm_fleet"],
                CONF_QUERIES: [
                    {"name": "My requests", "query": MY_QUERY, "unit": "req/s"}
                ],
            },
        )
        await setup_integration(hass, our_entry(subentries=[subentry]))

        assert (
            server_state(hass, "sensor", "dcgm_fleet_gpu_utilization").state == "63.5"
        )
        power = server_state(hass, "sensor", "dcgm_fleet_power")
        assert (power.state, power.attributes["unit_of_measurement"]) == ("412.0", "W")
        mine = server_state(hass, "sensor", "query_my_requests")
        assert mine.state == "1.25"
        assert mine.attributes["unit_of_measurement"] == "req/s"
        assert mine.attributes["friendly_name"].endswith("My requests")
        assert mine.attributes["query"] == MY_QUERY

        # One query now returns several series, another nothing: only those two change.
        answers[MY_QUERY] = [1.0, 2.0]
        answers[PRESETS["dcgm_fleet"][2].promql] = []
        await poll(hass, freezer)
        assert (
            server_state(hass, "sensor", "query_my_requests").state == STATE_UNAVAILABLE
        )
        assert server_state(hass, "sensor", "dcgm_fleet_power").state == STATE_UNKNOWN
        assert (
            server_state(hass, "sensor", "dcgm_fleet_gpu_utilization").state == "63.5"
        )

        # The whole server down: every query unavailable, Reachable off.
        server.behaviour.status = 502
        await poll(hass, freezer)
        assert server_state(hass, "sensor", "dcgm_fleet_gpu_utilization").state == (
            STATE_UNAVAILABLE
        )
        assert server_state(hass, "binary_sensor", "reachable").state == STATE_OFF
