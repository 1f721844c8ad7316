"""A test LLM agent: a real ConversationEntity that streams through the ChatLog, calls tools and
traces token stats exactly as the OpenAI integration does (``chat_log.async_trace({"stats":
...})`` once per model call).

Its "model" is a script: the first call asks for the tools named in the user's text ("use
lamp_on broken_tool"), the next answers. A pause before the first delta gives every request a
measurable time to first token.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Final

from homeassistant.components import ai_task, conversation
from homeassistant.config_entries import ConfigEntry, ConfigSubentryDataWithId
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_integration,
    mock_platform,
)

# Home Assistant 2026.11 changed APIs the tests call (see their uses).
AT_LEAST_2026_11: Final = (MAJOR_VERSION, MINOR_VERSION) >= (2026, 11)

DOMAIN: Final = "test_llm"
AGENT_ID: Final = "conversation.test_llm"
AI_TASK_ID: Final = "ai_task.test_llm_tasks"
# Each entity's model lives in its config subentry, as in the OpenAI integration.
MODEL: Final = "test-model-1"
AGENT_SUBENTRY: Final = "01JTESTLLMAGENT00000000000"
AI_TASK_SUBENTRY: Final = "01JTESTLLMTASK000000000000"
TOOLS_API: Final = "test_tools"
FIRST_TOKEN_DELAY_S: Final = 0.02
# Token stats per model call: (input, cached input, output).
CALL_STATS: Final = ((400, 100, 12), (450, 400, 30))


class LampOn(llm.Tool):
    """A tool that works."""

    name = "lamp_on"
    description = "Turn the lamp on"

    async def async_call(
        self,
        hass: HomeAssistant,  # noqa: ARG002
        tool_input: llm.ToolInput,  # noqa: ARG002
        llm_context: llm.LLMContext,  # noqa: ARG002
    ) -> llm.ToolResult:
        return llm.ToolResult(data={"success": True})


class BrokenTool(llm.Tool):
    """A tool that fails, as a tool whose device is offline does."""

    name = "broken_tool"
    description = "Always fails"

    async def async_call(
        self,
        hass: HomeAssistant,  # noqa: ARG002
        tool_input: llm.ToolInput,  # noqa: ARG002
        llm_context: llm.LLMContext,  # noqa: ARG002
    ) -> llm.ToolResult:
        msg = "device offline"
        raise HomeAssistantError(msg)


class ToolsAPI(llm.API):
    """An LLM API offering the two tools."""

    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(hass=hass, id=TOOLS_API, name="Test tools")

    async def async_get_api_instance(
        self, llm_context: llm.LLMContext
    ) -> llm.APIInstance:
        return llm.APIInstance(
            api=self,
            api_prompt="Use the tools.",
            llm_context=llm_context,
            tools=[LampOn(), BrokenTool()],
        )


class ScriptedLLMAgent(conversation.ConversationEntity):
    """A streaming LLM agent with tools and token stats."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_supports_streaming = True
    _attr_supported_features = conversation.ConversationEntityFeature.CONTROL

    def __init__(self) -> None:
        self._attr_unique_id = AGENT_SUBENTRY
        self._attr_device_info = {
            "identifiers": {(DOMAIN, AGENT_SUBENTRY)},
            "name": "Test LLM",
        }

    @property
    def supported_languages(self) -> str:
        return "*"

    async def _async_handle_message(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        await chat_log.async_provide_llm_data(
            user_input.as_llm_context(DOMAIN),
            TOOLS_API,
            None,
            user_input.extra_system_prompt,
        )
        wanted = [w for w in user_input.text.split() if w in ("lamp_on", "broken_tool")]
        for call in range(len(CALL_STATS)):
            tools = wanted if call == 0 else []
            async for _content in chat_log.async_add_delta_content_stream(
                self.entity_id, self._stream(chat_log, call, tools)
            ):
                pass
            if not chat_log.unresponded_tool_results:
                break
        return conversation.async_get_result_from_chat_log(user_input, chat_log)

    async def _stream(
        self, chat_log: conversation.ChatLog, call: int, tools: list[str]
    ) -> AsyncGenerator[conversation.AssistantContentDeltaDict]:
        await asyncio.sleep(FIRST_TOKEN_DELAY_S)
        yield {"role": "assistant"}
        if tools:
            yield {
                "tool_calls": [
                    llm.ToolInput(tool_name=name, tool_args={}) for name in tools
                ]
            }
        else:
            yield {"content": "Done, "}
            await asyncio.sleep(0.005)
            yield {"content": "the lamp is on."}
        input_tokens, cached, output = CALL_STATS[call]
        chat_log.async_trace(
            {
                "stats": {
                    "input_tokens": input_tokens,
                    "cached_input_tokens": cached,
                    "output_tokens": output,
                }
            }
        )


class ScriptedAITask(ai_task.AITaskEntity):
    """An AI Task entity that answers data tasks through its chat log, streaming."""

    _attr_has_entity_name = True
    _attr_name = "Tasks"
    _attr_supported_features = ai_task.AITaskEntityFeature.GENERATE_DATA

    def __init__(self) -> None:
        self._attr_unique_id = AI_TASK_SUBENTRY
        self._attr_device_info = {
            "identifiers": {(DOMAIN, AI_TASK_SUBENTRY)},
            "name": "Test LLM",
        }

    async def _async_generate_data(
        self,
        task: ai_task.GenDataTask,  # noqa: ARG002 - every task gets the same answer
        chat_log: conversation.ChatLog,
    ) -> ai_task.GenDataTaskResult:
        async for _content in chat_log.async_add_delta_content_stream(
            self.entity_id, self._stream()
        ):
            pass
        answer = chat_log.content[-1]
        assert isinstance(answer, conversation.AssistantContent)
        return ai_task.GenDataTaskResult(
            conversation_id=chat_log.conversation_id, data=answer.content
        )

    async def _stream(self) -> AsyncGenerator[conversation.AssistantContentDeltaDict]:
        await asyncio.sleep(FIRST_TOKEN_DELAY_S)
        yield {"role": "assistant"}
        yield {"content": "A summary."}


def _subentry(subentry_id: str, subentry_type: str) -> ConfigSubentryDataWithId:
    return ConfigSubentryDataWithId(
        data={"chat_model": MODEL},
        subentry_id=subentry_id,
        subentry_type=subentry_type,
        title="Test LLM",
        unique_id=None,
    )


async def async_setup_llm_agent(hass: HomeAssistant) -> str:
    """Set up Home Assistant's conversation and AI Task components and the test LLM's agent
    and AI Task entity; return the agent's id."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "ai_task", {})
    llm.async_register_api(hass, ToolsAPI(hass))

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool | None:
        await hass.config_entries.async_forward_entry_setups(
            entry, [Platform.AI_TASK, Platform.CONVERSATION]
        )
        # 2026.10 requires a boolean, 2026.11 refuses one from core (mock) integrations.
        return None if AT_LEAST_2026_11 else True

    async def setup_conversation(
        hass: HomeAssistant,
        entry: ConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        async_add_entities([ScriptedLLMAgent()], config_subentry_id=AGENT_SUBENTRY)

    async def setup_ai_task(
        hass: HomeAssistant,
        entry: ConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        async_add_entities([ScriptedAITask()], config_subentry_id=AI_TASK_SUBENTRY)

    mock_integration(hass, MockModule(DOMAIN, async_setup_entry=setup_entry))
    mock_platform(hass, f"{DOMAIN}.config_flow")
    mock_platform(
        hass,
        f"{DOMAIN}.conversation",
        MockPlatform(async_setup_entry=setup_conversation),
    )
    mock_platform(
        hass, f"{DOMAIN}.ai_task", MockPlatform(async_setup_entry=setup_ai_task)
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="01JTESTLLM00000000000000000",
        subentries_data=[
            _subentry(AGENT_SUBENTRY, "conversation"),
            _subentry(AI_TASK_SUBENTRY, "ai_task_data"),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(AGENT_ID) is not None
    assert hass.states.get(AI_TASK_ID) is not None
    return AGENT_ID
