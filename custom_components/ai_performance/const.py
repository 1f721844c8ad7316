"""Constants for the AI Performance Monitor integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "ai_performance"
# What an entry saves in .storage, as "ai_performance.<entry id>.<name>": deleted with the entry.
ENTRY_STORES: Final = (
    "requests",
    "request_logs",
    "alerts",
    "sla",
    "optimizations",
    "updates",
    "ai_hosts",
)
LOGGER = logging.getLogger(__package__)

# One tick collects every source; 30 s keeps our own overhead well below 1 % of a core.
UPDATE_INTERVAL: Final = timedelta(seconds=30)
# A source slower than this is cut off for the tick and its entities go unavailable.
DEFAULT_COLLECT_TIMEOUT: Final = 10.0

# Subjects: the things that get a device of their own.
SUBJECT_OVERVIEW: Final = "overview"
SUBJECT_HOST: Final = "host"

# Collector keys (see collectors/base.py).
SOURCE_HOST: Final = "host"
SOURCE_GPU: Final = "gpu"
SOURCE_REQUESTS: Final = "requests"

# Options.
CONF_DISKS: Final = "disks"
CONF_CURRENCY: Final = "currency"
CONF_PRICES: Final = "prices"
CONF_MONTHLY_BUDGET: Final = "monthly_budget"
# Per kWh, in the cost currency: only where the Energy settings price no grid.
CONF_ELECTRICITY_PRICE: Final = "electricity_price"
CONF_ALERT_RULES: Final = "alert_rules"
CONF_REPAIR_MINUTES: Final = "repair_minutes"
# Service levels: each class's promise, and agents held to one class.
CONF_SLA_CLASSES: Final = "sla_classes"
CONF_SLA_AGENTS: Final = "sla_agents"
CONF_LATENCY_S: Final = "latency_s"
CONF_AVAILABILITY: Final = "availability"
# The error codes that are answers (not understood, no such device), not failures.
CONF_ANSWER_CODES: Final = "answer_codes"
# Critical for this long raises a repair issue (and a source failing for this long does too).
DEFAULT_REPAIR_MINUTES: Final = 10
# GPU monitoring: "auto" uses NVIDIA GPUs where NVML is found; "on" also raises a repair issue
# when it is not.
CONF_GPU_MONITORING: Final = "gpu_monitoring"
GPU_MONITORING_AUTO: Final = "auto"
GPU_MONITORING_ON: Final = "on"

# Auto-optimisation (off unless switched on): the actions allowed, how soon the same model may
# be changed again, and how many actions an hour at most.
CONF_AUTO_OPTIMIZE: Final = "auto_optimize"
CONF_AUTO_OPTIMIZE_ACTIONS: Final = "auto_optimize_actions"
CONF_COOLDOWN_MINUTES: Final = "cooldown_minutes"
CONF_MAX_ACTIONS_PER_HOUR: Final = "max_actions_per_hour"
DEFAULT_COOLDOWN_MINUTES: Final = 30
DEFAULT_MAX_ACTIONS_PER_HOUR: Final = 4

# The bus event fired on every alert raised, changed or cleared.
EVENT_ALERT: Final = "ai_performance_alert"
# The bus event fired on every action auto-optimisation takes.
EVENT_OPTIMIZATION: Final = "ai_performance_optimization"

# Model servers: config subentry types and their settings.
SUBENTRY_OLLAMA: Final = "ollama"
SUBENTRY_OPENAI_COMPATIBLE: Final = "openai_compatible"
SUBENTRY_PROMETHEUS: Final = "prometheus"
# The machine a model server runs on, read from its node_exporter and GPU exporter.
SUBENTRY_AI_HOST: Final = "ai_host"
CONF_NODE_EXPORTER_URL: Final = "node_exporter_url"
CONF_GPU_EXPORTER_URL: Final = "gpu_exporter_url"
# Or, for a fleet, the Prometheus server that scrapes them, and a label selector for each.
CONF_PROMETHEUS_URL: Final = "prometheus_url"
CONF_NODE_SELECTOR: Final = "node_selector"
CONF_GPU_SELECTOR: Final = "gpu_selector"
# A model server's AI host (its subentry id): its requests' energy comes from that host's GPUs.
CONF_AI_HOST: Final = "ai_host"
CONF_OUTAGE_MINUTES: Final = "outage_minutes"
CONF_SERVER_KIND: Final = "server_kind"
CONF_PROBE_MODEL: Final = "probe_model"
CONF_PROBE_MINUTES: Final = "probe_minutes"
CONF_PRESETS: Final = "presets"
CONF_QUERIES: Final = "queries"
CONF_QUERY: Final = "query"
DEFAULT_SERVER_INTERVAL_S: Final = 30
MIN_SERVER_INTERVAL_S: Final = 30
MAX_SERVER_INTERVAL_S: Final = 3600
DEFAULT_OUTAGE_MINUTES: Final = 15

# Units without a Home Assistant constant, shared by request and server sensors.
UNIT_TOKENS: Final = "tokens"
UNIT_TOKENS_PER_SECOND: Final = "tokens/s"
UNIT_REQUESTS_PER_MINUTE: Final = "requests/min"
UNIT_PER_MINUTE: Final = "/min"
