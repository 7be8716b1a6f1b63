"""Connecting, joining, and malformed input: errors come back as acks, nothing breaks."""

from __future__ import annotations

import pytest
import socketio

from tests.helpers.sio import Client
from tests.realtime.conftest import Room


async def test_a_forged_token_is_refused_at_connect(room: Room) -> None:
    client = Client(room.url, room.tokens["bob"] + "x")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect()
    [refusal] = client.seen("connect_error")
    assert refusal["data"] == {
        "code": "invalid_token",
        "message": "the token is invalid or expired",
    }


async def test_join_answers_role_stream_and_state(room: Room) -> None:
    host = await room.client("hostess")
    ack = host.join_ack
    assert ack["ok"] is True and ack["role"] == "host" and ack["user"] == "hostess"
    assert ack["stream"]["id"] == room.stream_id and ack["stream"]["status"] == "live"
    assert ack["stream"]["viewers"] >= 1
    assert (ack["chat"], ack["listings"], ack["cohost"]) == ([], [], None)
    assert (ack["pending_invite"], ack["muted"]) == (None, False)
    await host.fails("join", {"stream_id": "no-such-stream"}, "stream_not_found")
    await host.fails("join", {}, "invalid_field")


async def test_malformed_events_get_error_acks_and_harm_nothing(room: Room) -> None:
    bob = await room.client("bob")
    host = await room.client("hostess")
    for event, args in (
        ("chat:send", ("just a string",)),
        ("chat:send", (["a", "list"],)),
        ("chat:send", (17,)),
        ("chat:send", ({"text": "two"}, {"args": True})),
        ("join", ("stream",)),
    ):
        await bob.fails(event, args[0] if len(args) == 1 else args, "invalid_payload")
    await bob.fails("join", {"stream_id": 5}, "invalid_field")
    await bob.fails("join", {"stream_id": "x" * 10_000}, "invalid_field")
    await bob.fails("chat:send", {"text": "x" * 200_000}, "invalid_field")
    await bob.fails("chat:send", {"text": {"nested": {"deep": [1, 2, 3]}}}, "invalid_field")
    await bob.fails("cohost:respond", {"invite_id": "x"}, "invalid_field")
    await bob.fails("cohost:respond", {"invite_id": None, "accept": True}, "invalid_field")
    await bob.fails("cohost:respond", {"invite_id": "x", "accept": "yes"}, "invalid_field")
    await host.fails("cohost:invite", {"username": ["bob"]}, "invalid_field")
    await host.fails("cohost:invite", {}, "invalid_field")
    await host.fails("user:mute", {"username": 1}, "invalid_field")
    await bob.fails("no:such:event", {"x": 1}, "unknown_event")

    # The connection, the stream and the server are all fine.
    message = (await bob.ok("chat:send", {"text": "still here"}))["message"]
    assert (await host.next("chat:message"))["id"] == message["id"]
    assert (await room.stream())["status"] == "live"


async def test_the_browser_client_is_served(room: Room) -> None:
    status, body = await room.api.request("GET", "/vendor/socket.io/socket.io.esm.min.js")
    assert status == 200 and "io" in body
    for path in ("nope.js", "..%2Fpackage.json", "%2e%2e%2fpackage.json"):
        status, body = await room.api.request("GET", f"/vendor/socket.io/{path}")
        assert (status, body["error"]["code"]) == (404, "not_found"), path
