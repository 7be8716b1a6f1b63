"""Fixtures for the whole suite: settings, a real server on 127.0.0.1, an API client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from server.config import Settings
from tests.helpers.api import Api
from tests.helpers.postgres import Postgres, start_postgres
from tests.helpers.server import RunningServer, start_server
from tests.helpers.sio import Client, Connect

SettingsFactory = Callable[..., Settings]
ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
def settings_factory(tmp_path: Path, database_url: str | None) -> SettingsFactory:
    """`settings_factory(**overrides)`: Settings in tmp_path/data, loopback-only ICE, no HLS,
    on the `database` engine."""

    def make(**overrides: Any) -> Settings:
        # HLS off unless a test turns it on: every live show would otherwise mux
        # (and encode without viewers) on a machine the suite already loads.
        # Every test client logs in from 127.0.0.1, many times a minute: the login
        # limits are lifted here and tested with small values in tests/limits.
        base = Settings(
            data_dir=tmp_path / "data",
            ice_host_addresses=("127.0.0.1",),
            hls=False,
            auth_rate_limit=10_000,
            auth_user_rate_limit=10_000,
            database_url=database_url,
        )
        return replace(base, **overrides)

    return make


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    """Default test Settings."""
    return settings_factory()


@pytest.fixture
async def server_factory(settings_factory: SettingsFactory) -> AsyncIterator[ServerFactory]:
    """`await server_factory(settings=None, **overrides)` starts a server; all stop at teardown."""
    started: list[RunningServer] = []

    async def make(settings: Settings | None = None, **overrides: Any) -> RunningServer:
        running = await start_server(settings or settings_factory(**overrides))
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """A running server with default test settings."""
    return await server_factory()


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[Api]:
    """An `Api` client bound to `server`."""
    async with Api(server.url) as client:
        yield client


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for subprocess servers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


# Modules whose rules must hold on both engines: `pytestmark = BOTH_DATABASES`.
BOTH_DATABASES = pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A private PostgreSQL cluster for the session (or COSTREAM_TEST_PG_URL's server)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(autouse=True)  # autouse: BOTH_DATABASES may mark any module
def database(request: pytest.FixtureRequest) -> str:
    """The engine behind the server: "sqlite" (default) or "postgresql" when parametrized."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(database: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """For "postgresql", a fresh database of the session's server (dropped afterwards)."""
    if database == "sqlite":
        yield None
        return
    server: Postgres = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)
