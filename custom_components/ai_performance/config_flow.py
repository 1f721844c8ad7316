"""Config flow: one entry per Home Assistant instance, created after the host can be read."""

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
import psutil

from .collectors.host import HostCollector
from .const import DOMAIN

TITLE = "AI Performance Monitor"


class AIPerformanceConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up AI Performance Monitor."""

    VERSION = 1
    MINOR_VERSION = 1

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm, check that the host can be read, and create the single entry."""
        await self.async_set_unique_id(DOMAIN)
        self._abort_if_unique_id_configured()
        errors: dict[str, str] = {}
        if user_input is not None:
            if await self._async_host_readable():
                return self.async_create_entry(title=TITLE, data={})
            errors["base"] = "host_unreadable"
        return self.async_show_form(step_id="user", errors=errors)

    async def _async_host_readable(self) -> bool:
        """Take one host sample, as setup will: the test before configuring."""
        collector = HostCollector(self.hass)
        try:
            await collector.async_start()
            await collector.async_collect()
        except OSError, psutil.Error, NotImplementedError:
            return False
        finally:
            await collector.async_stop()
        return True
