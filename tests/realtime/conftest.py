"""A live room on a real server: users, a stream, and recording Socket.IO clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from server.config import Settings
from server.domain.times import utc_now
from server.keys import AUTH, STORE
from tests.conftest import SettingsFactory
from tests.helpers.api import Api
from tests.helpers.cluster import Redis, start_redis, stop
from tests.helpers.server import RunningServer
from tests.helpers.sio import Client

Connect = Callable[..., Awaitable[Client]]
# Modules that hold their rules for both stores: `pytestmark = BOTH_STORES`.
BOTH_STORES = pytest.mark.parametrize("backend", ["memory", "redis"], indirect=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """A private redis-server on a free port of 127.0.0.1, for the whole session."""
    redis = start_redis(tmp_path_factory.mktemp("redis") / "redis.log")
    yield redis
    stop(redis.process)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Where realtime state lives: "memory" (default) or "redis" when parametrized."""
    return getattr(request, "param", "memory")


@pytest.fixture
def settings_factory(
    settings_factory: SettingsFactory, backend: str, request: pytest.FixtureRequest
) -> SettingsFactory:
    """The suite's settings, pointed at the private Redis for the "redis" backend."""
    if backend == "memory":
        return settings_factory
    redis_url = request.getfixturevalue("redis_server").url

    def make(**overrides: Any) -> Settings:
        return settings_factory(**{"redis_url": redis_url, **overrides})

    return make


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """`await connect(url, token=None, name="")`: a connected Client, closed at teardown."""
    clients: list[Client] = []

    async def make(url: str, token: str | None = None, name: str = "") -> Client:
        client = Client(url, token, name)
        clients.append(client)
        return await client.connect()

    yield make
    for client in clients:
        await client.close()


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


async def add_user(server: RunningServer, name: str) -> str:
    """Create an account straight in the database and return its token.

    Registration over HTTP costs an argon2 hash (deliberately slow, seconds on a busy
    machine); accounts are tested in tests/server, the live room here.
    """
    assert await server.app[STORE].insert_user(name, "!unusable", utc_now().isoformat())
    return server.app[AUTH].issue(name)


async def make_room(server: RunningServer, api: Api, connect: Connect) -> Room:
    tokens = {name: await add_user(server, name) for name in ("hostess", "bob", "carol")}
    stream = await api.create_stream(tokens["hostess"], title="Sneaker drop")
    await api.start(tokens["hostess"], stream["id"])
    return Room(server, api, connect, stream["id"], tokens)


@pytest.fixture
async def room(server: RunningServer, api: Api, connect: Connect) -> Room:
    return await make_room(server, api, connect)


@pytest.fixture
async def api_factory(
    connect: Connect,
) -> AsyncIterator[Callable[[RunningServer], Awaitable[Room]]]:
    """`await api_factory(server)`: a Room on a server built with custom settings."""
    apis: list[Api] = []

    async def make(server: RunningServer) -> Room:
        api = Api(server.url)
        apis.append(api)
        return await make_room(server, api, connect)

    yield make
    for api in apis:
        await api.close()
