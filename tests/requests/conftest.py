"""Fixtures for the request tests: real conversation components and a fast settle time."""

from collections.abc import AsyncGenerator, Generator
from unittest.mock import patch

from homeassistant.config_entries import ConfigFlow
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_config_flow,
)

from custom_components.ai_performance.collectors import chat_logs
from custom_components.ai_performance.const import (
    CONF_CURRENCY,
    CONF_MONTHLY_BUDGET,
    CONF_PRICES,
)

from ..conftest import our_entry
from ..llm_agent import DOMAIN as LLM_DOMAIN, MODEL, async_setup_llm_agent

# Turns settle in 10 ms instead of 500 ms, so tests wait little.
SETTLE_S = 0.01
# Prices per million tokens of the test LLM's model, and a budget to measure spend against.
PRICES = {MODEL: {"input": 2.0, "cached_input": 0.5, "output": 8.0}}
MONTHLY_BUDGET = 10.0


@pytest.fixture(autouse=True)
def fast_settle() -> Generator[None]:
    """Finish turns 10 ms after their answer."""
    with patch.object(chat_logs, "SETTLE_S", SETTLE_S):
        yield


class _LLMFlow(ConfigFlow):
    """The test LLM integration's (unused) config flow: every entry needs one."""


@pytest.fixture
async def llm_agent(hass: HomeAssistant) -> AsyncGenerator[str]:
    """Set up the conversation component and the test LLM agent; yield the agent's id."""
    with mock_config_flow(LLM_DOMAIN, _LLMFlow):
        yield await async_setup_llm_agent(hass)


@pytest.fixture
def priced_entry() -> MockConfigEntry:
    """Our config entry with prices for the test LLM's model and a monthly budget."""
    return our_entry(
        {
            CONF_CURRENCY: "EUR",
            CONF_PRICES: PRICES,
            CONF_MONTHLY_BUDGET: MONTHLY_BUDGET,
        }
    )
