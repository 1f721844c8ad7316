"""Home Assistant's own LLM integrations as the agents under test, served by llama-server."""

from homeassistant.const import CONF_PROMPT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

PROMPT = "You are a terse assistant. Answer in one short sentence."


async def add_llm_agent(
    hass: HomeAssistant,
    domain: str,
    data: dict[str, object],
    *,
    model: str,
    max_tokens: int,
) -> str:
    """Add an entry of the LLM integration ``domain`` with one agent; return its entity id.

    The agent asks ``model`` for at most ``max_tokens`` tokens, at temperature 0.
    """
    assert await async_setup_component(hass, "homeassistant", {})
    title = f"{domain} agent"
    entry = MockConfigEntry(
        domain=domain,
        data=data,
        subentries_data=[
            {
                "data": {
                    "recommended": False,
                    "chat_model": model,
                    "max_tokens": max_tokens,
                    "temperature": 0.0,
                    "top_p": 1.0,
                    CONF_PROMPT: PROMPT,
                },
                "subentry_type": "conversation",
                "title": title,
                "unique_id": None,
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # Home Assistant's OpenAI integration adds subentries of its own to an entry it migrates.
    (subentry_id,) = [
        s.subentry_id for s in entry.subentries.values() if s.title == title
    ]
    (entity,) = [
        e
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.domain == "conversation" and e.config_subentry_id == subentry_id
    ]
    return entity.entity_id


def generation_speed(before: dict[str, float], after: dict[str, float]) -> float:
    """Return llama-server's own generation speed between two reads of its /metrics."""
    tokens = (
        after["llamacpp:tokens_predicted_total"]
        - before["llamacpp:tokens_predicted_total"]
    )
    seconds = (
        after["llamacpp:tokens_predicted_seconds_total"]
        - before["llamacpp:tokens_predicted_seconds_total"]
    )
    return tokens / seconds


def input_tokens(metrics: dict[str, float]) -> float:
    """Return the prompt tokens the server read: processed plus served from its cache."""
    return metrics["llamacpp:prompt_tokens_total"] + metrics.get(
        "llamacpp:prompt_tokens_cached_total", 0.0
    )
