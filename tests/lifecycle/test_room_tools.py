"""During the show: pin, moderators (hide, mute), slow mode, blocked words, raid."""

from __future__ import annotations

import pytest

from tests.conftest import BOTH_DATABASES
from tests.helpers.sio import Client, Connect
from tests.lifecycle.conftest import Users

pytestmark = BOTH_DATABASES


@pytest.fixture
async def live(users: Users) -> str:
    stream = await users.show(title="Live tools")
    await users.api.start(users.tokens["hostess"], stream["id"])
    return stream["id"]


async def joined(users: Users, connect: Connect, name: str, stream_id: str) -> Client:
    client = await connect(users.server.url, users.tokens[name], name)
    client.join_ack = await client.ok("join", {"stream_id": stream_id})
    return client


async def test_pin_and_unpin(users: Users, connect: Connect, live: str) -> None:
    bob = await joined(users, connect, "bob", live)
    assert bob.join_ack["pinned"] is None
    path = f"/api/streams/{live}/pin"
    await users.fails("POST", path, "bob", 403, "forbidden", json={"text": "mine"})
    await users.fails("POST", path, "hostess", 400, "invalid_field", json={"text": ""})
    stream = (await users.ok("POST", path, "hostess", json={"text": "Free shipping over $50"}))[
        "stream"
    ]
    assert stream["pinned"]["text"] == "Free shipping over $50"
    assert stream["pinned"]["by"] == "hostess" and stream["pinned"]["at"].endswith("Z")
    assert (await bob.next("chat:pinned"))["pinned"] == stream["pinned"]
    carol = await joined(users, connect, "carol", live)
    assert carol.join_ack["pinned"] == stream["pinned"]
    assert (await users.ok("DELETE", path, "hostess"))["stream"]["pinned"] is None
    assert (await bob.next("chat:pinned"))["pinned"] is None


async def test_moderators_hide_and_mute(users: Users, connect: Connect, live: str) -> None:
    bob = await joined(users, connect, "bob", live)
    carol = await joined(users, connect, "carol", live)
    message = (await carol.ok("chat:send", {"text": "spam spam"}))["message"]
    await bob.fails("chat:hide", {"message_id": message["id"]}, "forbidden")

    path = f"/api/streams/{live}/moderators/bob"
    await users.fails("POST", path, "carol", 403, "forbidden")
    await users.fails(
        "POST", f"/api/streams/{live}/moderators/nobody", "hostess", 404, "user_not_found"
    )
    assert (await users.ok("POST", path, "hostess"))["moderators"] == ["bob"]
    assert (await bob.next("moderator:changed"))["moderator"] is True
    assert (await users.ok("GET", f"/api/streams/{live}/moderators"))["moderators"] == ["bob"]

    await bob.ok("chat:hide", {"message_id": message["id"]})
    assert (await carol.next("chat:hidden"))["id"] == message["id"]
    await bob.ok("user:mute", {"username": "carol"})
    await carol.fails("chat:send", {"text": "still here"}, "muted")
    await bob.fails("user:mute", {"username": "hostess"}, "invalid_field")

    assert (await users.ok("DELETE", path, "hostess"))["moderators"] == []
    await bob.fails("user:unmute", {"username": "carol"}, "forbidden")


async def test_slow_mode_and_blocked_words(users: Users, connect: Connect, live: str) -> None:
    bob = await joined(users, connect, "bob", live)
    host = await joined(users, connect, "hostess", live)
    path = f"/api/streams/{live}/chat"
    await users.fails("PATCH", path, "bob", 403, "forbidden", json={"slow_mode_seconds": 30})
    await users.fails(
        "PATCH", path, "hostess", 400, "invalid_field", json={"slow_mode_seconds": -1}
    )
    await users.fails("PATCH", path, "hostess", 400, "invalid_field", json={"blocked_words": "x"})
    body = await users.ok(
        "PATCH", path, "hostess", json={"slow_mode_seconds": 30, "blocked_words": ["scam", "Fake"]}
    )
    assert body["stream"]["slow_mode_seconds"] == 30
    assert body["chat"] == {"slow_mode_seconds": 30, "blocked_words": ["scam", "Fake"]}
    assert "blocked_words" not in body["stream"]  # viewers never see the list
    assert (await bob.next("chat:settings"))["slow_mode_seconds"] == 30

    await bob.fails("chat:send", {"text": "this is a SCAM!"}, "blocked_word")
    await bob.fails("chat:send", {"text": "totally fake"}, "blocked_word")
    await bob.ok("chat:send", {"text": "scampi are tasty"})  # whole words only
    await bob.fails("chat:send", {"text": "one more"}, "slow_mode")
    await host.ok("chat:send", {"text": "hosts are not slowed"})
    await host.ok("chat:send", {"text": "not at all"})

    # A moderator may change the settings too; 0 turns slow mode off.
    await users.ok("POST", f"/api/streams/{live}/moderators/carol", "hostess")
    await users.ok("PATCH", path, "carol", json={"slow_mode_seconds": 0})
    await bob.ok("chat:send", {"text": "free again"})


async def test_raid_sends_viewers_to_another_live_show(
    users: Users, connect: Connect, live: str
) -> None:
    target = await users.show(host="dave", title="Next show")
    bob = await joined(users, connect, "bob", live)
    path = f"/api/streams/{live}/raid"
    await users.fails(
        "POST", path, "hostess", 409, "stream_not_live", json={"to_stream_id": target["id"]}
    )
    await users.api.start(users.tokens["dave"], target["id"])
    await users.fails("POST", path, "bob", 403, "forbidden", json={"to_stream_id": target["id"]})
    await users.fails("POST", path, "hostess", 400, "invalid_field", json={"to_stream_id": live})
    await users.fails(
        "POST", path, "hostess", 404, "stream_not_found", json={"to_stream_id": "nope"}
    )
    assert (await users.api.get_stream(live))["status"] == "live"  # refusals changed nothing

    body = await users.ok("POST", path, "hostess", json={"to_stream_id": target["id"]})
    assert body["stream"]["status"] == "ended" and body["stream"]["raided_to"] == target["id"]
    raid = await bob.next("raid")
    assert raid["to"]["id"] == target["id"] and raid["to"]["status"] == "live"
    assert (await bob.next("stream:status"))["stream"]["status"] == "ended"
