"""Home Assistant's REST and websocket APIs, as the demo's owner (the tokens of its ready file)."""

from collections.abc import AsyncIterator
import contextlib
from typing import Any

import aiohttp


class HomeAssistantClient:
    """One authenticated websocket connection and REST session to a Home Assistant."""

    def __init__(
        self,
        base: str,
        session: aiohttp.ClientSession,
        socket_: aiohttp.ClientWebSocketResponse,
    ) -> None:
        """Speak to the Home Assistant at ``base`` over ``session`` and ``socket_``."""
        self.base = base
        self._session = session
        self._socket = socket_
        self._id = 0

    async def command(self, type_: str, **params: Any) -> Any:
        """Send one websocket command; return its result (or raise on an error)."""
        self._id += 1
        await self._socket.send_json({"id": self._id, "type": type_, **params})
        while True:
            message = await self._socket.receive_json()
            if message.get("id") == self._id and message.get("type") == "result":
                if not message["success"]:
                    msg = f"{type_}: {message['error']}"
                    raise RuntimeError(msg)
                return message["result"]

    async def get(self, path: str) -> Any:
        """GET ``path`` of the REST API; return its JSON (None for 404)."""
        async with self._session.get(self.base + path) as answer:
            if answer.status == 404:
                return None
            answer.raise_for_status()
            return await answer.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to ``path`` of the REST API; return its JSON."""
        async with self._session.post(self.base + path, json=body) as answer:
            answer.raise_for_status()
            return await answer.json()


@contextlib.asynccontextmanager
async def connect(ready: dict[str, Any]) -> AsyncIterator[HomeAssistantClient]:
    """Connect as the owner named in the demo's ready file."""
    token = ready["tokens"]["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.ws_connect(f"{ready['base']}/api/websocket", max_msg_size=0) as socket_,
    ):
        await socket_.receive_json()  # auth_required
        await socket_.send_json({"type": "auth", "access_token": token})
        answer = await socket_.receive_json()
        if answer.get("type") != "auth_ok":
            msg = f"Home Assistant refused the owner's token: {answer}"
            raise RuntimeError(msg)
        yield HomeAssistantClient(ready["base"], session, socket_)
