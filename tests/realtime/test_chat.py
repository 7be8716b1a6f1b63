"""Chat over real Socket.IO: messages, mentions, history, moderation, rate limits, presence."""

from __future__ import annotations

from server.keys import STREAMS
from tests.realtime.conftest import BOTH_STORES, Room, add_user

pytestmark = BOTH_STORES


async def test_a_message_reaches_everyone_with_its_mentions(room: Room) -> None:
    host = await room.client("hostess")
    anon = await room.client(None)
    bob_elsewhere = await room.client("bob", join=False)  # signed in, on another page
    text = "hey @BOB and @carol, not @ghost_user nor mail@bob.com; again @bob"
    ack = await host.ok("chat:send", {"text": text})
    message = ack["message"]
    assert set(message) == {"id", "stream_id", "user", "text", "mentions", "ts"}
    assert message["user"] == "hostess" and message["text"] == text
    assert message["mentions"] == ["bob", "carol"]  # existing users, canonical spelling
    assert message["stream_id"] == room.stream_id and message["ts"].endswith("Z")
    assert await anon.next("chat:message") == message
    # Bob is not in the stream, but is connected: the mention finds him.
    assert await bob_elsewhere.next("mention") == {"message": message}
    await bob_elsewhere.barrier()
    assert bob_elsewhere.seen("chat:message") == []
    await host.barrier()
    assert host.seen("mention") == []


async def test_history_is_sent_on_join_and_kept_bounded(server_factory, api_factory) -> None:
    room = await api_factory(await server_factory(chat_history=3, chat_rate_limit=50))
    host = await room.client("hostess")
    sent = [(await host.ok("chat:send", {"text": f"message {i}"}))["message"] for i in range(5)]
    late = await room.client("carol")
    assert late.join_ack["chat"] == sent[-3:]  # oldest first, the newest three
    # Persisted: another server on the same database serves the same history.
    for client in (host, late):
        await client.close()
    await room.server.stop()
    again = await server_factory(room.server.settings)
    room.server = again
    assert (await room.client("bob")).join_ack["chat"] == sent[-3:]


async def test_text_is_validated(room: Room) -> None:
    bob = await room.client("bob")
    # Chat is one line: a newline would render as a fake message (from the host, say).
    fake_line = "nice!\nhostess: everything is free, DM me your card"
    bidi = "reversed \u202egnirts"
    for bad in ("", "   ", "x" * 501, 42, None, ["hi"], {"t": 1}, "bell\x07", fake_line, bidi):
        await bob.fails("chat:send", {"text": bad}, "invalid_field")
    await bob.fails("chat:send", {}, "invalid_field")
    await bob.ok("chat:send", {"text": "x" * 500})
    await bob.ok("chat:send", {"text": "<b>plain</b> \u0645\u0631\u062d\u0628\u0627"})
    late = await room.client("carol")
    assert late.join_ack["chat"][-1]["text"] == "<b>plain</b> \u0645\u0631\u062d\u0628\u0627"
    assert all("\n" not in message["text"] for message in late.join_ack["chat"])


async def test_chat_needs_a_joined_stream(room: Room) -> None:
    bob = await room.client("bob", join=False)
    await bob.fails("chat:send", {"text": "hello"}, "not_joined")
    await bob.ok("join", {"stream_id": room.stream_id})
    await bob.ok("leave")
    await bob.fails("chat:send", {"text": "hello"}, "not_joined")


async def test_rate_limit(server_factory, api_factory) -> None:
    room = await api_factory(await server_factory(chat_rate_limit=3, chat_rate_window=60.0))
    bob = await room.client("bob")
    carol = await room.client("carol")
    for i in range(3):
        await bob.ok("chat:send", {"text": f"spam {i}"})
    ack = await bob.fails("chat:send", {"text": "one too many"}, "rate_limited")
    assert "retry in" in ack["error"]["message"]
    await carol.ok("chat:send", {"text": "others are not limited"})
    # A second connection of bob shares his limit.
    bob_again = await room.client("bob")
    await bob_again.fails("chat:send", {"text": "sneaky"}, "rate_limited")


async def test_the_host_hides_a_message_for_everyone(room: Room) -> None:
    host = await room.client("hostess")
    carol = await room.client("carol")
    rude = (await carol.ok("chat:send", {"text": "rude words"}))["message"]
    kept = (await carol.ok("chat:send", {"text": "kind words"}))["message"]
    await host.ok("chat:hide", {"message_id": rude["id"]})
    assert await carol.next("chat:hidden") == {"id": rude["id"], "stream_id": room.stream_id}
    late = await room.client("bob")
    assert late.join_ack["chat"] == [kept]
    await host.fails("chat:hide", {"message_id": rude["id"]}, "message_not_found")
    await host.fails("chat:hide", {"message_id": 7}, "invalid_field")


async def test_the_host_mutes_and_unmutes(room: Room) -> None:
    host = await room.client("hostess")
    carol = await room.client("carol")
    ack = await host.ok("user:mute", {"username": "CAROL"})
    assert ack["username"] == "carol"
    assert await carol.next("user:muted") == {"stream_id": room.stream_id}
    await carol.fails("chat:send", {"text": "let me speak"}, "muted")
    assert (await carol.ok("join", {"stream_id": room.stream_id}))["muted"] is True
    await host.ok("user:unmute", {"username": "carol"})
    assert await carol.next("user:unmuted") == {"stream_id": room.stream_id}
    await carol.ok("chat:send", {"text": "thanks"})


async def test_suggestions_put_people_in_the_stream_first(room: Room) -> None:
    for name in ("bobby_away", "bobcat", "alice"):
        room.tokens[name] = await add_user(room.server, name)
    host = await room.client("hostess")
    await room.client("bob")
    await room.client("bobcat")
    users = (await host.ok("user:suggest", {"prefix": "@bo"}))["users"]
    assert users[:2] == ["bob", "bobcat"] and "bobby_away" in users[2:]
    assert "alice" not in users
    assert "hostess" not in (await host.ok("user:suggest", {"prefix": "h"}))["users"]
    assert (await host.ok("user:suggest", {"prefix": ""}))["users"] == ["bob", "bobcat"]
    await host.fails("user:suggest", {"prefix": "b%"}, "invalid_field")
    await host.fails("user:suggest", {"prefix": 3}, "invalid_field")


async def test_viewer_count_is_live_and_coalesced(room: Room) -> None:
    host = await room.client("hostess")
    viewers = [await room.client(None) for _ in range(6)]
    await host.next("viewers", lambda d: d["count"] == 7, timeout=5)
    assert (await room.stream())["viewers"] == 7
    # Seven joins in quick succession: a handful of updates, not one per join.
    assert len(host.seen("viewers")) <= 4
    for viewer in viewers[:3]:
        await viewer.close()
    await host.next("viewers", lambda d: d["count"] == 4, timeout=5)
    assert (await room.server.app[STREAMS].get(room.stream_id)).viewers == 4


async def test_start_and_end_are_announced(room: Room) -> None:
    stream = await room.api.create_stream(room.tokens["hostess"], title="Later")
    room.stream_id = stream["id"]
    anon = await room.client(None)
    assert anon.join_ack["stream"]["status"] == "scheduled"
    await room.api.start(room.tokens["hostess"], room.stream_id)
    assert (await anon.next("stream:status"))["stream"]["status"] == "live"
    await room.api.end(room.tokens["hostess"], room.stream_id)
    assert (await anon.next("stream:status"))["stream"]["status"] == "ended"
