"""Selling fixtures: a live room whose clocks suit fast tests, and REST shortcuts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.keys import STREAMS
from tests.helpers.api import Api
from tests.helpers.room import Room, make_room
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Connect
from tests.realtime.conftest import redis_server

__all__ = ["redis_server"]

# Tests that present several items in a row set no minimum; test_listing_rules sets one.
FAST = {"min_present_seconds": 0.0, "auction_snipe_seconds": 2.0}
# Scenes that wait for a real end: auctions and giveaways may run for 1 s (the protocol's
# minimums, 5 and 10 s, are checked in `room`).
QUICK = {**FAST, "auction_min_seconds": 1, "giveaway_min_seconds": 1}


@pytest.fixture
async def room(server_factory: Any, connect: Connect) -> AsyncIterator[Room]:
    """A live room (host `hostess`, cohost `cohost`, viewers `bob`, `carol`, `dave`)."""
    async for made in _room(server_factory, connect, FAST):
        yield made


@pytest.fixture
async def quick_room(server_factory: Any, connect: Connect) -> AsyncIterator[Room]:
    """`room` whose auctions and giveaways may be as short as 1 s."""
    async for made in _room(server_factory, connect, QUICK):
        yield made


async def _room(
    server_factory: Any, connect: Connect, settings: dict[str, Any]
) -> AsyncIterator[Room]:
    server = await server_factory(**settings)
    api = Api(server.url)
    room = await make_room(server, api, connect)
    for name in ("cohost", "dave"):
        room.tokens[name] = await add_user(server, name)
    await server.app[STREAMS].seat_cohost(room.stream_id, "cohost")
    yield room
    await api.close()


async def call(
    room: Room, method: str, path: str, user: str | None, body: Any = None
) -> tuple[int, Any]:
    return await room.api.request(
        method, path, token=room.tokens[user] if user else None, json=body
    )


async def expect(
    room: Room, status: int, method: str, path: str, user: str | None, body: Any = None
) -> Any:
    got, answer = await call(room, method, path, user, body)
    assert got == status, f"{method} {path} as {user}: {got} {answer!r}"
    return answer


async def new_listing(room: Room, **fields: Any) -> dict[str, Any]:
    body = {"title": "Vintage watch", "price_cents": 1000, "quantity": 1, **fields}
    answer = await expect(
        room, 201, "POST", f"/api/streams/{room.stream_id}/listings", "hostess", body
    )
    return answer["listing"]


async def buy(room: Room, listing_id: str, user: str, **fields: Any) -> tuple[int, Any]:
    return await call(room, "POST", f"/api/listings/{listing_id}/buy", user, fields)


def error_of(answer: tuple[int, Any]) -> tuple[int, str]:
    status, body = answer
    assert isinstance(body, dict) and body["error"]["message"], body
    return status, body["error"]["code"]


async def add_buyers(server: RunningServer, room: Room, prefix: str, count: int) -> list[str]:
    names = [f"{prefix}{n}" for n in range(count)]
    for name in names:
        room.tokens[name] = await add_user(server, name)
    return names
