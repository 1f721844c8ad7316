"""GPU energy per request: the NVML energy counter over each request, shared when concurrent."""

import asyncio
from collections.abc import Generator
from unittest.mock import patch

from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ai_performance import request_energy
from custom_components.ai_performance.const import DOMAIN
from custom_components.ai_performance.engine.requests import RequestRecord

from ..conftest import setup_integration
from ..fake_pynvml import ENERGY, FakeGpu, FakeNvml
from .test_agents import requests_collector, sensor_state, settle_and_refresh
from .test_services import record

WATTS = 300.0


@pytest.fixture(autouse=True)
def fast_readings() -> Generator[None]:
    """Read the counters every 10 ms while requests run, instead of every second."""
    with patch.object(request_energy, "SAMPLE_S", 0.01):
        yield


@pytest.fixture
def steady_gpu(nvml: FakeNvml) -> FakeGpu:
    """Plug a GPU that draws WATTS all the time."""
    gpu = FakeGpu(uuid="GPU-a", steady_watts=WATTS)
    nvml.plug(gpu)
    return gpu


async def _settled(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait until every finished request has its energy, then take a snapshot."""
    energy = requests_collector(entry).energy
    for _ in range(200):
        await settle_and_refresh(hass, entry)
        if not energy.pending:
            return
    pytest.fail("requests still wait for their energy")


def _wh(seconds: float) -> float:
    return WATTS * seconds / 3600


def _records(entry: MockConfigEntry, subject: str) -> list[RequestRecord]:
    return list(entry.runtime_data.ledger.subjects[subject].log.recent)


@pytest.mark.usefixtures("steady_gpu")
async def test_a_request_gets_the_energy_the_gpu_used_while_it_ran(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llm_agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)

    await conversation.async_converse(
        hass, "use lamp_on", None, Context(), agent_id=llm_agent
    )
    await _settled(hass, mock_config_entry)

    (record,) = _records(mock_config_entry, llm_agent)
    expected = _wh(record.end - record.start)
    assert record.energy_wh == pytest.approx(expected, rel=0.01)
    assert float(sensor_state(hass, llm_agent, "gpu_energy")) == pytest.approx(
        expected, abs=1e-6
    )
    assert float(
        sensor_state(hass, llm_agent, "gpu_energy_per_request")
    ) == pytest.approx(expected, abs=1e-6)


@pytest.mark.usefixtures("steady_gpu")
async def test_concurrent_requests_share_the_energy_of_the_time_they_overlap(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    llm_agent: str,
) -> None:
    await setup_integration(hass, mock_config_entry)

    await asyncio.gather(
        *(
            conversation.async_converse(
                hass, "use lamp_on broken_tool", None, Context(), agent_id=llm_agent
            )
            for _ in range(3)
        )
    )
    await _settled(hass, mock_config_entry)

    records = _records(mock_config_entry, llm_agent)
    assert len(records) == 3
    union = max(r.end for r in records) - min(r.start for r in records)
    assert all(r.start < min(o.end for o in records) for r in records)  # they overlap
    # Together they used what the GPU used while any ran; none was charged for the others.
    assert sum(r.energy_wh or 0 for r in records) == pytest.approx(_wh(union), rel=0.01)
    for request in records:
        assert request.energy_wh is not None
        assert request.energy_wh < _wh(request.end - request.start)


@pytest.mark.usefixtures("steady_gpu")
async def test_a_reported_request_gets_its_energy_too(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
) -> None:
    await setup_integration(hass, mock_config_entry)
    await asyncio.sleep(
        0.3
    )  # the request reported below started after the first reading

    await record(hass, subject="rag", duration_ms=200)
    await _settled(hass, mock_config_entry)

    (request,) = _records(mock_config_entry, "rag")
    assert request.energy_wh == pytest.approx(_wh(0.2), rel=0.01)


@pytest.mark.usefixtures("steady_gpu")
async def test_a_request_older_than_the_readings_gets_no_energy(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
) -> None:
    await setup_integration(hass, mock_config_entry)

    # It started a minute before the integration took its first reading.
    await record(hass, subject="rag", duration_ms=60_000)
    await _settled(hass, mock_config_entry)

    (request,) = _records(mock_config_entry, "rag")
    assert request.energy_wh is None
    assert float(sensor_state(hass, "rag", "gpu_energy")) == 0


@pytest.mark.parametrize(
    "gpus",
    [[], [FakeGpu(uuid="GPU-a", unsupported={ENERGY})]],
    ids=["no GPU", "no energy counter"],
)
async def test_without_an_energy_counter_there_are_no_energy_sensors(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    nvml: FakeNvml,
    gpus: list[FakeGpu],
) -> None:
    nvml.plug(*gpus)
    await setup_integration(hass, mock_config_entry)
    reads_before = nvml.calls.count(ENERGY)

    await record(hass, subject="rag", duration_ms=10)
    await settle_and_refresh(hass, mock_config_entry)

    assert not requests_collector(mock_config_entry).energy.available
    registry = er.async_get(hass)
    prefix = f"{mock_config_entry.entry_id}_requests_rag"
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{prefix}_requests")
    assert not registry.async_get_entity_id("sensor", DOMAIN, f"{prefix}_gpu_energy")
    assert nvml.calls.count(ENERGY) == reads_before  # nothing is read per request


@pytest.mark.usefixtures("steady_gpu")
async def test_no_counter_is_read_while_no_request_runs(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    nvml: FakeNvml,
) -> None:
    await setup_integration(hass, mock_config_entry)
    await record(hass, subject="rag", duration_ms=10)
    await _settled(hass, mock_config_entry)
    settled_reads = nvml.calls.count(ENERGY)

    await asyncio.sleep(0.2)  # twenty reading intervals with nothing running

    assert nvml.calls.count(ENERGY) == settled_reads
