"""The optimizer: gathers the evidence, asks the recommendation engine, carries out safe actions.

The evidence is each agent's last day of requests (from the ledger), the models of the watched
Ollama servers (loaded, sizes, last use) and each GPU's memory and throttling (from the last
snapshot). Entities exposed to Assist are counted only when some agent's prompts are large
enough for the count to matter: it reads every entity's exposure setting.
"""

from collections.abc import Collection, Iterable
import math
import time
from typing import Any, Final

from homeassistant.components.homeassistant.exposed_entities import async_should_expose
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .collectors.gpu import GpuSample
from .collectors.servers.ollama import OllamaCollector
from .const import DOMAIN
from .coordinator import AIPerformanceConfigEntry
from .costs import agent_model
from .engine.ollama import canonical_model
from .engine.recommend import (
    LARGE_PROMPT_TOKENS,
    AgentEvidence,
    Evidence,
    GpuEvidence,
    Kind,
    Recommendation,
    ServedModel,
    agent_evidence,
    recommend,
)
from .ledger import AGENT_LEVEL_KINDS, RequestLedger, Subject
from .model_control import async_carry_out, ollama_servers, server_by_id

DAY_S: Final = 86_400.0
CONVERSATION: Final = "conversation"
# The count of exposed entities is reused this long (auto-optimization asks every tick).
EXPOSED_TTL_S: Final = 600.0
EXPOSED_CACHE: Final = f"{DOMAIN}_exposed_entities"


def served_models(
    servers: Iterable[OllamaCollector], ledger: RequestLedger
) -> list[ServedModel]:
    """Return every model the Ollama servers hold or were seen to hold."""
    last_used = {
        canonical_model(model): at for model, at in ledger.model_last_used.items()
    }
    models = []
    for server in servers:
        for name in server.known_models:
            loaded = server.loaded.get(name)
            models.append(
                ServedModel(
                    server_id=server.settings.subentry_id,
                    server_name=server.settings.title,
                    model=name,
                    loaded=loaded is not None,
                    size_bytes=0 if loaded is None else loaded.size_bytes,
                    vram_bytes=0 if loaded is None else loaded.vram_bytes,
                    expires_at=None
                    if loaded is None or loaded.expires_at is None
                    else loaded.expires_at.timestamp(),
                    last_used=last_used.get(name),
                    quantization=None if loaded is None else loaded.quantization,
                )
            )
    return models


def _subject_model(hass: HomeAssistant, subject: Subject) -> str | None:
    """Return the model an agent runs: as its integration says, else as its requests said."""
    model = agent_model(hass, subject.key)
    if model is None:
        model = next((r.model for r in reversed(subject.log.recent) if r.model), None)
    return None if model is None else canonical_model(model)


def _agents(
    hass: HomeAssistant,
    ledger: RequestLedger,
    models: list[ServedModel],
    now: float,
) -> list[AgentEvidence]:
    by_name = {m.model: m for m in models}
    agents = []
    for subject in ledger.subjects.values():
        if subject.kind not in AGENT_LEVEL_KINDS:
            continue
        rows = subject.log.rows_within(now, DAY_S)
        if not len(rows):
            continue
        model = _subject_model(hass, subject)
        agents.append(
            agent_evidence(
                subject.key,
                subject.name,
                rows,
                served=None if model is None else by_name.get(model),
                usage=subject.usage,
                error_codes=subject.log.error_codes,
                answers=ledger.answers,
            )
        )
    return agents


def _gpus(entry: AIPerformanceConfigEntry) -> list[GpuEvidence]:
    """Return the evidence of every GPU: NVML's and each AI host's."""
    samples = entry.runtime_data.coordinator.data.samples(GpuSample).values()
    return [
        GpuEvidence(
            key=uuid,
            name=sample.gpus[uuid].device_name,
            memory_used_percent=reading.memory_used_percent,
            throttle_reasons=reading.throttle_reasons or (),
            temperature_c=reading.temperature_c,
            power_w=reading.power_w,
            power_limit_w=reading.power_limit_w,
        )
        for sample in samples
        for uuid, reading in sample.readings.items()
        if uuid in sample.gpus
    ]


def exposed_entity_count(hass: HomeAssistant, now: float) -> int:
    """Return how many entities are exposed to Assist (conversation agents).

    Counting reads every entity's exposure setting, so a count is reused for EXPOSED_TTL_S.
    """
    counted_at, count = hass.data.get(EXPOSED_CACHE, (-math.inf, 0))
    if now - counted_at < EXPOSED_TTL_S:
        return int(count)
    count = sum(
        1
        for entity_id in hass.states.async_entity_ids()
        if async_should_expose(hass, CONVERSATION, entity_id)
    )
    hass.data[EXPOSED_CACHE] = (now, count)
    return count


def gather_evidence(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry, now: float | None = None
) -> Evidence:
    """Return the evidence of now."""
    now = time.time() if now is None else now
    ledger = entry.runtime_data.ledger
    models = served_models(ollama_servers(entry), ledger)
    agents = _agents(hass, ledger, models, now)
    local = dt_util.as_local(dt_util.utc_from_timestamp(now))
    large = any((a.input_tokens_mean or 0) >= LARGE_PROMPT_TOKENS for a in agents)
    return Evidence(
        now=now,
        today=local.date().toordinal(),
        seconds_into_day=local.hour * 3600 + local.minute * 60 + local.second,
        agents=agents,
        models=models,
        gpus=_gpus(entry),
        exposed_entities=exposed_entity_count(hass, now) if large else None,
    )


def recommendations(
    hass: HomeAssistant, entry: AIPerformanceConfigEntry
) -> list[Recommendation]:
    """Return the recommendations of now."""
    return recommend(gather_evidence(hass, entry))


async def async_apply(
    entry: AIPerformanceConfigEntry, recommendation: Recommendation
) -> dict[str, Any]:
    """Carry out a recommendation's action; return what was done, or why not."""
    action = recommendation.action
    if action is None:
        return {"id": recommendation.id, "changed": False, "reason": "no_action"}
    server = server_by_id(entry, action.server_id)
    if server is None:
        return {"id": recommendation.id, "changed": False, "reason": "server_gone"}
    try:
        done = await async_carry_out(entry, server, action)
    except HomeAssistantError as err:
        return {"id": recommendation.id, "changed": False, "reason": str(err)}
    return {"id": recommendation.id, **done}


async def async_optimize(
    hass: HomeAssistant,
    entry: AIPerformanceConfigEntry,
    *,
    dry_run: bool,
    kinds: Collection[Kind] | None = None,
) -> dict[str, Any]:
    """Return the recommendations (of ``kinds``, all by default).

    Unless a dry run, also carry out their safe actions.
    """
    found = [
        item
        for item in recommendations(hass, entry)
        if kinds is None or item.kind in kinds
    ]
    taken = []
    if not dry_run:
        # Two recommendations may ask for the same change (unload the same idle model).
        actions = {item.action: item for item in reversed(found) if item.action}
        taken = [await async_apply(entry, item) for item in reversed(actions.values())]
    return {
        "dry_run": dry_run,
        "recommendations": await async_as_dicts(hass, found),
        "actions": taken,
    }


async def async_as_dicts(
    hass: HomeAssistant, items: Iterable[Recommendation]
) -> list[dict[str, Any]]:
    """Return recommendations as an action's response, each titled in words beside its kind."""
    translations = await async_get_translations(
        hass, hass.config.language, "selector", {DOMAIN}
    )
    prefix = f"component.{DOMAIN}.selector.recommendation_kind.options."
    return [
        {
            "title": translations.get(prefix + item.kind, item.kind.value),
            **item.as_dict(),
        }
        for item in items
    ]
