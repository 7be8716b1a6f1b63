"""A live room on a real server: users, a stream, and recording Socket.IO clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.helpers.api import Api
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Client, Connect


@dataclass
class Room:
    """A live stream hosted by `hostess`, with `bob` and `carol` registered."""

    server: RunningServer
    api: Api
    connect_: Connect
    stream_id: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    async def client(self, user: str | None, join: bool = True) -> Client:
        """A client signed in as `user` (None: anonymous), joined to the stream."""
        client = await self.connect_(self.url, self.tokens[user] if user else None, user or "anon")
        if join:
            client.join_ack = await client.ok("join", {"stream_id": self.stream_id})
        return client

    async def stream(self) -> dict[str, Any]:
        return await self.api.get_stream(self.stream_id)


async def make_room(server: RunningServer, api: Api, connect: Connect) -> Room:
    tokens = {name: await add_user(server, name) for name in ("hostess", "bob", "carol")}
    stream = await api.create_stream(tokens["hostess"], title="Sneaker drop")
    await api.start(tokens["hostess"], stream["id"])
    return Room(server, api, connect, stream["id"], tokens)
