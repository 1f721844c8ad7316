"""The "Create dashboard" button on the overview device."""

from typing import Final, override

from homeassistant.components import persistent_notification
from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN
from .coordinator import AIPerformanceCoordinator
from .dashboard import async_create_dashboard
from .entity import OverviewEntity

CREATE_DASHBOARD: Final = ButtonEntityDescription(
    key="create_dashboard",
    translation_key="create_dashboard",
    entity_category=EntityCategory.CONFIG,
)
NOTIFICATION_ID: Final = f"{DOMAIN}_dashboard"


class CreateDashboardButton(OverviewEntity, ButtonEntity):
    """Creates the ready dashboard as the user who pressed, and links to it."""

    def __init__(self, coordinator: AIPerformanceCoordinator) -> None:
        """Create the dashboard of the entry's entities."""
        super().__init__(coordinator, CREATE_DASHBOARD)

    @override
    async def async_press(self) -> None:
        """Create the dashboard, or refresh the one made before if nobody edited it."""
        user_id = self._context.user_id if self._context else None
        user = await self.hass.auth.async_get_user(user_id) if user_id else None
        if user is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="dashboard_needs_user"
            )
        made = await async_create_dashboard(
            self.hass, self.coordinator.config_entry.entry_id, user
        )
        verb = "Updated" if made["updated"] else "Created"
        persistent_notification.async_create(
            self.hass,
            f"{verb} the dashboard: [open it](/{made['url_path']}) "
            f"({made['views']} views, {made['cards']} cards).",
            title="AI Performance dashboard",
            notification_id=NOTIFICATION_ID,
        )
