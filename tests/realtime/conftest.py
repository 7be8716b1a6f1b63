"""Realtime fixtures: a live room on a real server, with memory or Redis state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from server.config import Settings
from tests.conftest import SettingsFactory
from tests.helpers.api import Api
from tests.helpers.cluster import Redis, start_redis, stop
from tests.helpers.room import Room, make_room
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Connect

# Re-exported: the realtime tests import these from here.
__all__ = ["BOTH_STORES", "Connect", "Room", "add_user", "make_room"]

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
