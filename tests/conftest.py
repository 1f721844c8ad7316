"""Fixtures shared by the whole suite."""

from collections.abc import Generator
from typing import Any
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigSubentryDataWithId
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

# Imported before the test plugin's own custom_components package can shadow ours.
import custom_components.ai_performance  # noqa: F401
from custom_components.ai_performance.collectors import gpu as gpu_collector
from custom_components.ai_performance.const import DOMAIN

from .fake_pynvml import FakeGpu, FakeNvml

ENTRY_ID = "01JAIPERFORMANCE0000000000"


@pytest.fixture(autouse=True)
def nvml() -> Generator[FakeNvml]:
    """Stand in for NVML, with no library by default: every test sees the same GPUs (none).

    Tests that need GPUs plug FakeGpus into it before setting the integration up.
    """
    fake = FakeNvml(library=False)
    with patch.object(gpu_collector, "pynvml", fake):
        yield fake


@pytest.fixture
def gpu(nvml: FakeNvml) -> FakeGpu:
    """One GPU, cool to begin with."""
    fake = FakeGpu(uuid="GPU-a", temperature=60)
    nvml.plug(fake)
    return fake


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    nvml: FakeNvml, enable_custom_integrations: Any
) -> None:
    """Let Home Assistant load our integration in every test.

    Takes ``nvml`` first, so that the fake NVML outlives Home Assistant, which shuts it down.
    """


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, also those disabled by default (for snapshots)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def our_entry(
    options: dict[str, Any] | None = None,
    subentries: list[ConfigSubentryDataWithId] | None = None,
) -> MockConfigEntry:
    """Return our config entry with a fixed id (so that snapshots are stable) and ``options``.

    ``subentries``: model servers.
    """
    return MockConfigEntry(
        subentries_data=subentries or [],
        domain=DOMAIN,
        title="AI Performance Monitor",
        unique_id=DOMAIN,
        entry_id=ENTRY_ID,
        data={},
        options=options or {},
        version=1,
        minor_version=1,
    )


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """Return our config entry, without options."""
    return our_entry()


async def setup_integration(hass: Any, entry: MockConfigEntry) -> None:
    """Add ``entry`` to Home Assistant and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def tick(
    hass: Any, freezer: FrozenDateTimeFactory | None = None, seconds: float = 30
) -> None:
    """Let ``seconds`` pass (with a frozen clock) and run one coordinator tick."""
    if freezer is not None:
        freezer.tick(seconds)
    entry = hass.config_entries.async_get_entry(ENTRY_ID)
    assert entry is not None
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def start_fix(hass: Any, issue_id: str) -> Any:
    """Open the fix flow of our repair issue ``issue_id``, as the Repairs dashboard does."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return await manager.async_init(DOMAIN, data={"issue_id": issue_id})


async def fix_step(hass: Any, flow_id: str, data: dict[str, Any]) -> Any:
    """Answer a fix flow's current step."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return await manager.async_configure(flow_id, data)
