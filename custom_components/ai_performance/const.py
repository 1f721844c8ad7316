"""Constants for the AI Performance Monitor integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "ai_performance"
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
