"""Names never collide: every device of a busy install has a name of its own, every entity an id
without a numeric suffix (Home Assistant adds "_2" when two devices share a name)."""

import re

from homeassistant.components import assist_pipeline, conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest

from custom_components.ai_performance.collectors.servers.ollama import OllamaCollector
from custom_components.ai_performance.const import (
    CONF_PROBE_MINUTES,
    CONF_PROBE_MODEL,
    DOMAIN,
    SUBENTRY_OLLAMA,
)

from ..conftest import our_entry, setup_integration
from ..fake_pynvml import FakeGpu
from ..servers.conftest import server_subentry
from ..servers.fake_servers import OllamaState, ollama_server
from .test_agents import settle_and_refresh
from .test_benchmark import benchmark
from .test_pipelines import run_text

NUMBERED: re.Pattern[str] = re.compile(r"_\d+$")


@pytest.fixture(autouse=True)
def local_servers(socket_enabled: None) -> None:
    """Let the test run a fake Ollama on 127.0.0.1."""


async def test_an_install_with_agents_a_pipeline_models_and_a_benchmark_has_unique_names(
    hass: HomeAssistant, llm_agent: str, gpu: FakeGpu
) -> None:
    # Assist's preferred pipeline and Home Assistant's own agent are both "Home Assistant".
    assert await async_setup_component(hass, "assist_pipeline", {})
    assert assist_pipeline.async_get_pipeline(hass).name == "Home Assistant"
    async with ollama_server(OllamaState()) as server:
        subentry = server_subentry(
            SUBENTRY_OLLAMA,
            server.url,
            **{CONF_PROBE_MODEL: "qwen3:8b", CONF_PROBE_MINUTES: 10},
        )
        entry = our_entry(subentries=[subentry])
        await setup_integration(hass, entry)

        await conversation.async_converse(
            hass, "use lamp_on", None, Context(), agent_id=llm_agent
        )
        await run_text(hass, "what time is it")
        await hass.services.async_call(
            DOMAIN,
            "record_request",
            {"subject": "rag_service", "duration_ms": 900},
            blocking=True,
        )
        ollama = next(
            c
            for c in entry.runtime_data.coordinator.collectors
            if isinstance(c, OllamaCollector)
        )
        await ollama.async_probe()
        run = await benchmark(
            hass,
            agents=[llm_agent, conversation.HOME_ASSISTANT_AGENT],
            models=["llama3.2:3b"],
            prompts=["Hi"],
            count=1,
            warm_up=0,
        )
        assert run["status"] == "finished"
        for _ in range(2):  # devices of new subjects and models come with the next tick
            await settle_and_refresh(hass, entry)

        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        names = sorted(str(device.name_by_user or device.name) for device in devices)
        entity_ids = [
            entity.entity_id
            for entity in er.async_entries_for_config_entry(
                er.async_get(hass), entry.entry_id
            )
        ]

    # Every kind of device is there: agents, the pipeline, the server, its models and probe...
    assert {
        "Home Assistant",
        "Assist: Home Assistant",
        "Test LLM",
        "rag_service",
        "ollama test",
        "llama3.2:3b on ollama test",
        "qwen3:8b on ollama test",
        "qwen3:8b probe on ollama test",
    } <= set(names)
    # ... but no benchmark target.
    assert not [name for name in names if "enchmark" in name]
    assert len(names) == len(set(names)), names
    assert [e for e in entity_ids if NUMBERED.search(e)] == []
