"""Tokens can be revoked: logout revokes one, a password change all of the user's, on
every process (at once over Redis; within `token_sync_seconds` without it); a
Socket.IO connection drops to anonymous when its token expires or is revoked, and is
told with `auth:expired`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio

from server.keys import PRESENCE
from tests.helpers.api import DEFAULT_PASSWORD, Api
from tests.helpers.room import make_room
from tests.helpers.server import add_user
from tests.helpers.sio import Client
from tests.realtime.conftest import redis_server
from tests.server.test_accounts import assert_error

__all__ = ["redis_server"]
# Never reached by the relayed revocations below: a refusal within it was relayed.
SYNC_NEVER = 600.0


async def create(api: Api, token: str) -> tuple[int, Any]:
    return await api.request("POST", "/api/streams", token=token, json={"title": "Mine"})


async def test_logout_revokes_that_token_only(api: Api) -> None:
    token, _ = await api.register("alice")
    other, _ = await api.login("alice")
    assert (await create(api, token))[0] == 201
    assert await api.request("POST", "/api/auth/logout", token=token) == (200, {"ok": True})
    status, body = await create(api, token)
    assert_error(status, body, 401, "invalid_token")
    status, body = await api.request("POST", "/api/auth/logout", token=token)
    assert_error(status, body, 401, "invalid_token")
    assert (await create(api, other))[0] == 201
    status, body = await api.request("POST", "/api/auth/logout")
    assert_error(status, body, 401, "unauthorized")


async def refused_within(api: Api, token: str, seconds: float) -> float:
    """How long until `api`'s process refuses `token` (polled; fails after `seconds`)."""
    started = time.monotonic()
    for _ in range(int(seconds / 0.02)):
        status, body = await api.request("GET", "/api/streams", token=token)
        if status == 401:
            assert body["error"]["code"] == "invalid_token"
            return time.monotonic() - started
        await asyncio.sleep(0.02)  # another process: nothing here to wait on but time
    raise AssertionError(f"{api.base_url} still accepts the token after {seconds} s")


async def relayed_pair(server_factory, settings_factory, redis_url: str) -> tuple[Api, Api]:
    """Two processes on one database and one Redis, whose own rereads of the
    revocations never come in a test: what they learn, they learn over Redis."""
    settings = settings_factory(redis_url=redis_url, token_sync_seconds=SYNC_NEVER)
    first, second = await server_factory(settings), await server_factory(settings)
    return Api(first.url), Api(second.url)


async def test_a_logout_on_one_process_is_refused_on_another_at_once(
    server_factory, settings_factory, redis_server
) -> None:
    one, two = await relayed_pair(server_factory, settings_factory, redis_server.url)
    async with one, two:
        token, _ = await one.register("alice")
        other, _ = await two.login("alice")
        for api in (one, two):  # both processes have checked (and know) both tokens
            for good in (token, other):
                assert (await api.request("GET", "/api/streams", token=good))[0] == 200
        assert await one.request("POST", "/api/auth/logout", token=token) == (200, {"ok": True})
        assert (await one.request("GET", "/api/streams", token=token))[0] == 401
        await refused_within(two, token, 5.0)  # relayed: far sooner than SYNC_NEVER
        assert (await two.request("GET", "/api/streams", token=other))[0] == 200


async def test_without_redis_a_revocation_elsewhere_holds_within_the_sync_period(
    server_factory, settings_factory
) -> None:
    """No relay (several processes without Redis are not a supported setup, but the
    database reread still bounds how long another process's revocation goes unseen)."""
    settings = settings_factory(token_sync_seconds=0.5)
    first, second = await server_factory(settings), await server_factory(settings)
    async with Api(first.url) as one, Api(second.url) as two:
        token, _ = await one.register("alice")
        assert (await two.request("GET", "/api/streams", token=token))[0] == 200
        assert await one.request("POST", "/api/auth/logout", token=token) == (200, {"ok": True})
        assert await refused_within(two, token, 5.0) < 5.0


async def test_a_password_change_revokes_every_token_on_every_process(
    server_factory, settings_factory, redis_server
) -> None:
    one, two = await relayed_pair(server_factory, settings_factory, redis_server.url)
    async with one, two:
        token, _ = await one.register("alice")
        elsewhere, _ = await two.login("alice")
        path = "/api/auth/password"
        status, body = await one.request(
            "POST", path, token=token, json={"old_password": "wrong-guess", "new_password": "n" * 8}
        )
        assert_error(status, body, 403, "invalid_credentials")
        status, body = await one.request(
            "POST", path, token=token, json={"old_password": DEFAULT_PASSWORD, "new_password": "x"}
        )
        assert_error(status, body, 400, "invalid_field")
        assert (await create(two, elsewhere))[0] == 201  # nothing changed so far

        status, body = await one.request(
            "POST",
            path,
            token=token,
            json={"old_password": DEFAULT_PASSWORD, "new_password": "brand-new-pass"},
        )
        assert status == 200 and body["user"] == {"username": "alice"}
        fresh = body["token"]
        status, body = await create(one, token)
        assert_error(status, body, 401, "invalid_token")
        await refused_within(two, elsewhere, 5.0)  # relayed over Redis
        status, body = await create(two, token)
        assert_error(status, body, 401, "invalid_token")
        assert (await create(two, fresh))[0] == 201
        status, body = await two.request(
            "POST", "/api/auth/login", json={"username": "alice", "password": DEFAULT_PASSWORD}
        )
        assert_error(status, body, 401, "invalid_credentials")
        assert (await two.login("alice", "brand-new-pass"))[0]


async def test_a_revoked_connection_drops_to_anonymous(server, api, connect) -> None:
    room = await make_room(server, api, connect)
    bob = await room.client("bob")
    await bob.ok("chat:send", {"text": "still signed in"})
    assert await api.request("POST", "/api/auth/logout", token=room.tokens["bob"]) == (
        200,
        {"ok": True},
    )
    await bob.fails("chat:send", {"text": "after logout"}, "unauthorized")
    told = await bob.next("auth:expired")
    assert told["reason"] == "revoked"
    # Still connected and joined, as an anonymous viewer: the count did not change.
    assert await server.app[PRESENCE].count(room.stream_id) == 1
    await bob.ok("join", {"stream_id": room.stream_id})
    assert bob.seen("auth:expired") == [told]
    # The revoked token cannot connect again.
    again = Client(server.url, room.tokens["bob"], "bob again")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect()
    assert again.seen("connect_error")[0]["data"]["code"] == "invalid_token"


async def test_a_connection_drops_to_anonymous_when_its_token_expires(
    server_factory, connect
) -> None:
    server = await server_factory(token_ttl_seconds=2)
    async with Api(server.url) as api:
        host = await add_user(server, "hostess")
        bob = await add_user(server, "bob")
        stream = await api.create_stream(host)
        await api.start(host, stream["id"])
        client = await connect(server.url, bob, "bob")
        await client.ok("join", {"stream_id": stream["id"]})
        await client.ok("chat:send", {"text": "before expiry"})
        # No event needed: the server drops it at expiry by itself.
        told = await client.next("auth:expired", timeout=10)
        assert told["reason"] == "expired"
        await client.fails("chat:send", {"text": "after expiry"}, "unauthorized")
        ack = await client.ok("join", {"stream_id": stream["id"]})
        assert ack["user"] is None and ack["role"] == "viewer"
