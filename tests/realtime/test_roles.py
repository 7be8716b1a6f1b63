"""Every action the cohost (or a viewer, or an anonymous client) may not do is refused,
and refusing it changes nothing."""

from __future__ import annotations

from tests.realtime.conftest import BOTH_STORES, Room

pytestmark = BOTH_STORES


async def seated(room: Room):
    host = await room.client("hostess")
    bob = await room.client("bob")
    invite_id = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.ok("cohost:respond", {"invite_id": invite_id, "accept": True})
    return host, bob


async def test_the_cohost_cannot_run_the_show(room: Room) -> None:
    host, bob = await seated(room)
    carol = await room.client("carol")
    message = (await carol.ok("chat:send", {"text": "hi all"}))["message"]
    before = await room.stream()

    await bob.fails("cohost:invite", {"username": "carol"}, "forbidden")
    await bob.fails("cohost:remove", {}, "forbidden")
    await bob.fails("cohost:cancel", {"invite_id": "any"}, "forbidden")
    await bob.fails("chat:hide", {"message_id": message["id"]}, "forbidden")
    await bob.fails("user:mute", {"username": "carol"}, "forbidden")
    for action in ("start", "end"):
        status, body = await room.api.request(
            "POST", f"/api/streams/{room.stream_id}/{action}", token=room.tokens["bob"]
        )
        assert (status, body["error"]["code"]) == (403, "forbidden")

    assert await room.stream() == before  # still live, bob still seated
    history = (await carol.ok("join", {"stream_id": room.stream_id}))["chat"]
    assert [m["id"] for m in history] == [message["id"]]
    await carol.ok("chat:send", {"text": "not muted"})
    await carol.barrier()
    await host.barrier()
    assert carol.seen("cohost:invited") == [] and carol.seen("user:muted") == []
    assert host.seen("cohost:changed")[-1]["cohost"] == "bob"


async def test_viewers_and_anonymous_clients_are_refused(room: Room) -> None:
    host = await room.client("hostess")
    carol = await room.client("carol")
    anon = await room.client(None)
    assert anon.join_ack["role"] == "viewer" and anon.join_ack["user"] is None
    invite_id = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]

    await carol.fails("cohost:invite", {"username": "bob"}, "forbidden")
    await carol.fails("cohost:remove", {}, "forbidden")
    await carol.fails("cohost:cancel", {"invite_id": invite_id}, "forbidden")
    await carol.fails("cohost:leave", {}, "forbidden")
    # Someone else's invite is not carol's to answer.
    await carol.fails(
        "cohost:respond", {"invite_id": invite_id, "accept": True}, "invite_not_found"
    )
    for event, payload in (
        ("chat:send", {"text": "hello"}),
        ("user:suggest", {"prefix": "b"}),
        ("cohost:invite", {"username": "bob"}),
        ("cohost:respond", {"invite_id": invite_id, "accept": True}),
        ("cohost:remove", {}),
        ("cohost:cancel", {"invite_id": invite_id}),
        ("chat:hide", {"message_id": "x"}),
        ("user:mute", {"username": "bob"}),
    ):
        await anon.fails(event, payload, "unauthorized")
    assert (await room.stream())["cohost"] is None
    bob = await room.client("bob")
    ack = await bob.ok("cohost:respond", {"invite_id": invite_id, "accept": True})
    assert ack["stream"]["cohost"] == "bob"  # the invite survived every refused attempt


async def test_the_host_cannot_invite_self_or_strangers(room: Room) -> None:
    host = await room.client("hostess")
    await host.fails("cohost:invite", {"username": "hostess"}, "invalid_field")
    await host.fails("cohost:invite", {"username": "nobody_here"}, "user_not_found")
    await host.fails("user:mute", {"username": "hostess"}, "invalid_field")


async def test_removed_cohost_cannot_publish(room: Room) -> None:
    host, bob = await seated(room)
    await host.ok("cohost:remove")
    status, body = await room.api.request(
        "POST",
        f"/whip/{room.stream_id}",
        token=room.tokens["bob"],
        data="v=0\r\n",
        headers={"Content-Type": "application/sdp"},
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")


async def test_only_the_cohost_reports_media_state_and_only_the_host_hears_it(room: Room) -> None:
    host, bob = await seated(room)
    carol = await room.client("carol")
    await bob.ok("cohost:media", {"state": "camera_blocked"})
    report = await host.next("cohost:media")
    assert report == {"stream_id": room.stream_id, "username": "bob", "state": "camera_blocked"}
    await carol.fails("cohost:media", {"state": "connected"}, "forbidden")
    await host.fails("cohost:media", {"state": "connected"}, "forbidden")
    await bob.fails("cohost:media", {"state": "<b>on fire</b>"}, "invalid_field")
    await carol.barrier()
    assert carol.seen("cohost:media") == [] and bob.seen("cohost:media") == []
