"""Early pytest plugin (``-p tests.ha_compat``): the test plugin on Home Assistant 2026.11.

pytest-homeassistant-custom-component 0.13.375 is built for Home Assistant 2026.10.4. Two things
break when it runs on 2026.11.0:

1. Home Assistant 2026.11 aliases ``httpx`` to ``httpx2`` when ``homeassistant`` is first imported and
   refuses if ``httpx`` was loaded before; respx, which the plugin imports, loads ``httpx``. So
   ``homeassistant`` is imported here, before any other plugin.
2. 2026.11 moved ``_clear_logger_overwrites`` into ``homeassistant.components.logger.helpers``; the
   plugin imports it from ``homeassistant.components.logger``. It is re-exported there.

Both steps do nothing on 2026.10.4. Remove this file once the plugin has a 2026.11 build.
"""

import homeassistant  # noqa: F401 - must come first: see (1)
from homeassistant.components import logger
from homeassistant.components.logger import helpers

if not hasattr(logger, "_clear_logger_overwrites"):
    logger._clear_logger_overwrites = helpers._clear_logger_overwrites  # type: ignore[attr-defined]
