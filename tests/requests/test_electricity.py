"""Local inference priced: each request's GPU energy at the Energy settings' grid price."""

import asyncio
from collections.abc import Generator
from typing import Any
from unittest.mock import patch

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.ai_performance import request_energy
from custom_components.ai_performance.electricity import _grid_flows

from ..conftest import our_entry, setup_integration
from ..fake_pynvml import FakeGpu, FakeNvml
from .test_agents import requests_collector, settle_and_refresh
from .test_services import record

WATTS = 300.0


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Start the recorder (the Energy settings need it) before our integration loads."""


@pytest.fixture
def steady_gpu(nvml: FakeNvml) -> Generator[None]:
    """Plug a GPU that draws WATTS; read its counters every 10 ms while requests run."""
    nvml.plug(FakeGpu(uuid="GPU-a", steady_watts=WATTS))
    with patch.object(request_energy, "SAMPLE_S", 0.01):
        yield


async def _energy_settings(
    hass: HomeAssistant, client_factory: WebSocketGenerator, **grid: Any
) -> None:
    """Save a grid source in the Energy settings, as the Energy configuration page does."""
    assert await async_setup_component(hass, "energy", {})
    client = await client_factory(hass)
    await client.send_json_auto_id(
        {
            "type": "energy/save_prefs",
            "energy_sources": [
                {
                    "type": "grid",
                    "stat_energy_from": "sensor.grid_import",
                    "cost_adjustment_day": 0,
                    **grid,
                }
            ],
        }
    )
    answer = await client.receive_json()
    assert answer["success"], answer


async def _priced_request(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    """Record a 200 ms request once metering runs; return its record when it has energy."""
    await setup_integration(hass, entry)
    await asyncio.sleep(0.3)  # the request starts after the first reading
    await record(hass, subject="rag", duration_ms=200)
    energy = requests_collector(entry).energy
    for _ in range(200):
        await settle_and_refresh(hass, entry)
        if not energy.pending:
            break
    (request,) = entry.runtime_data.ledger.subjects["rag"].log.recent
    assert request.energy_wh
    return request


def _cost(hass: HomeAssistant) -> Any:
    state = hass.states.get("sensor.ai_performance_overall_cost")
    assert state is not None
    return state


@pytest.mark.usefixtures("steady_gpu")
async def test_the_energy_settings_fixed_grid_price_prices_each_request(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await _energy_settings(hass, hass_ws_client, number_energy_price=0.40)

    request = await _priced_request(hass, our_entry())

    expected = request.energy_wh / 1000 * 0.40
    assert request.cost == pytest.approx(expected)
    state = _cost(hass)
    assert float(state.state) == pytest.approx(expected, abs=1e-6)
    assert state.attributes["unit_of_measurement"] == hass.config.currency
    assert state.attributes["electricity_cost"] == pytest.approx(expected, abs=1e-6)
    assert state.attributes["token_cost"] == 0
    assert state.attributes["electricity_price"] == 0.40


@pytest.mark.usefixtures("steady_gpu")
async def test_a_price_entity_is_read_when_the_request_ends_in_its_unit(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    # A dynamic tariff in EUR/MWh, as some price integrations give it.
    hass.states.async_set(
        "sensor.spot_price", "250", {"unit_of_measurement": "EUR/MWh"}
    )
    await _energy_settings(
        hass, hass_ws_client, entity_energy_price="sensor.spot_price"
    )
    hass.config.currency = "EUR"

    request = await _priced_request(hass, our_entry())

    assert request.cost == pytest.approx(request.energy_wh / 1000 * 0.25)
    assert _cost(hass).attributes["electricity_price"] == 0.25


@pytest.mark.usefixtures("steady_gpu")
async def test_the_options_price_is_only_the_fallback(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await _energy_settings(hass, hass_ws_client, number_energy_price=0.40)
    # Costs in another currency than the Energy settings': only the options' price fits.
    entry = our_entry({"currency": "CHF", "electricity_price": 0.30})
    hass.config.currency = "EUR"

    request = await _priced_request(hass, entry)

    assert request.cost == pytest.approx(request.energy_wh / 1000 * 0.30)
    assert _cost(hass).attributes["unit_of_measurement"] == "CHF"


@pytest.mark.usefixtures("steady_gpu")
async def test_without_any_price_local_inference_has_no_cost(
    hass: HomeAssistant,
) -> None:
    request = await _priced_request(hass, our_entry())

    assert request.cost is None
    assert hass.states.get("sensor.ai_performance_overall_cost") is None


def test_both_formats_of_the_grid_settings_are_read() -> None:
    legacy = {
        "energy_sources": [
            {"type": "solar", "stat_energy_from": "sensor.solar"},
            {
                "type": "grid",
                "flow_from": [{"number_energy_price": 0.2}],
                "flow_to": [],
            },
        ]
    }
    unified = {"energy_sources": [{"type": "grid", "number_energy_price": 0.3}]}

    assert [f["number_energy_price"] for f in _grid_flows(legacy)] == [0.2]
    assert [f["number_energy_price"] for f in _grid_flows(unified)] == [0.3]


async def test_without_a_gpu_an_electricity_price_prices_nothing(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await _energy_settings(hass, hass_ws_client, number_energy_price=0.40)
    await setup_integration(hass, our_entry())
    await record(hass, subject="rag", duration_ms=200)
    await settle_and_refresh(
        hass, hass.config_entries.async_entries("ai_performance")[0]
    )

    # No cost sensor reads a false 0: the energy of the requests is not measured here.
    assert hass.states.get("sensor.ai_performance_overall_cost") is None
    assert hass.states.get("sensor.rag_cost") is None


@pytest.mark.usefixtures("steady_gpu")
async def test_a_grid_price_set_later_brings_the_cost_sensors_and_changes_apply_at_once(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await _energy_settings(hass, hass_ws_client)  # a grid, no price yet
    entry = our_entry()
    await setup_integration(hass, entry)
    assert hass.states.get("sensor.ai_performance_overall_cost") is None

    await _energy_settings(hass, hass_ws_client, number_energy_price=0.40)
    await settle_and_refresh(hass, entry)
    await hass.async_block_till_done()

    # Reloaded by itself: the cost sensors are there, with the new price.
    assert _cost(hass).attributes["electricity_price"] == 0.40
    await _energy_settings(hass, hass_ws_client, number_energy_price=0.10)
    await settle_and_refresh(hass, entry)
    assert _cost(hass).attributes["electricity_price"] == 0.10
