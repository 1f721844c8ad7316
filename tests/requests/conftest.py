"""Fixtures for the request tests: real conversation components and a fast settle time."""

from collections.abc import AsyncGenerator, Generator
from unittest.mock import patch

from homeassistant.config_entries import ConfigFlow
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import mock_config_flow

from custom_components.ai_performance.collectors import chat_logs

from ..llm_agent import DOMAIN as LLM_DOMAIN, async_setup_llm_agent

# Turns settle in 10 ms instead of 500 ms, so tests wait little.
SETTLE_S = 0.01


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
