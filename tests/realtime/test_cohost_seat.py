"""The cohost seat over real Socket.IO: invite, answer, remove, leave, and its rules."""

from __future__ import annotations

import asyncio
import time

from server.domain.cohost import Invite
from server.keys import LIVE
from tests.realtime.conftest import BOTH_STORES, Room

pytestmark = BOTH_STORES


def without_expiry(invite: dict) -> dict:
    """An invite payload less its `expires_at_ms` (checked to be there: an int)."""
    rest = dict(invite)
    assert isinstance(rest.pop("expires_at_ms"), int), invite
    return rest


async def test_the_invite_scene(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    viewer = await room.client(None)
    assert host.join_ack["role"] == "host" and bob.join_ack["role"] == "viewer"

    ack = await host.ok("cohost:invite", {"username": "bob"})
    assert ack["invite"]["username"] == "bob"
    invited = await bob.next("cohost:invited")
    assert without_expiry(invited) == {
        "invite_id": ack["invite"]["id"],
        "stream_id": room.stream_id,
        "host": "hostess",
        "username": "bob",
    }

    await bob.ok("cohost:respond", {"invite_id": invited["invite_id"], "accept": True})
    for client in (host, bob, viewer):
        changed = await client.next("cohost:changed")
        assert changed["cohost"] == "bob"
    assert (await room.stream())["cohost"] == "bob"
    rejoin = await bob.ok("join", {"stream_id": room.stream_id})
    assert rejoin["role"] == "cohost" and rejoin["cohost"] == "bob"

    assert (await host.ok("cohost:remove"))["removed"] == "bob"
    assert await bob.next("cohost:removed") == {"stream_id": room.stream_id}
    for client in (host, bob, viewer):
        assert (await client.next("cohost:changed", lambda d: d["cohost"] is None))[
            "cohost"
        ] is None
    assert (await room.stream())["cohost"] is None


async def test_decline_tells_the_host_and_the_host_may_invite_again(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    first = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.next("cohost:invited")
    await bob.ok("cohost:respond", {"invite_id": first, "accept": False})
    assert await host.next("cohost:declined") == {
        "invite_id": first,
        "username": "bob",
        "stream_id": room.stream_id,
    }
    assert (await room.stream())["cohost"] is None
    # The declined invite is spent; a new one works.
    await bob.fails("cohost:respond", {"invite_id": first, "accept": True}, "invite_not_found")
    second = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    assert (await bob.next("cohost:invited"))["invite_id"] == second != first
    await bob.ok("cohost:respond", {"invite_id": second, "accept": True})
    assert (await host.next("cohost:changed"))["cohost"] == "bob"


async def test_the_host_cancels_an_unanswered_invite(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    carol = await room.client("carol")
    invite = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.next("cohost:invited")
    # Only the host, only an open invite of this stream, with a well-formed id.
    await bob.fails("cohost:cancel", {"invite_id": invite}, "forbidden")
    await carol.fails("cohost:cancel", {"invite_id": invite}, "forbidden")
    await host.fails("cohost:cancel", {"invite_id": "no-such-invite"}, "invite_not_found")
    await host.fails("cohost:cancel", {"invite_id": ["x"]}, "invalid_field")
    # Not an id the server makes (with Redis, a lone surrogate failed to become a key).
    for bad in ("a\ud800b", "a\x00b", "a b", "x" * 65):
        await host.fails("cohost:cancel", {"invite_id": bad}, "invalid_field")
        await bob.fails("cohost:respond", {"invite_id": bad, "accept": True}, "invalid_field")

    ack = await host.ok("cohost:cancel", {"invite_id": invite})
    assert (ack["invite_id"], ack["username"]) == (invite, "bob")
    assert without_expiry(await bob.next("cohost:invite_cancelled")) == {
        "invite_id": invite,
        "stream_id": room.stream_id,
        "host": "hostess",
        "username": "bob",
    }
    assert (await host.next("cohost:invite_cancelled"))["invite_id"] == invite
    await carol.barrier()
    assert not carol.seen("cohost:invite_cancelled")  # nobody else hears of it
    # Spent: bob's late answer and a second cancel find nothing; the seat stays free.
    await bob.fails("cohost:respond", {"invite_id": invite, "accept": True}, "invite_not_found")
    await host.fails("cohost:cancel", {"invite_id": invite}, "invite_not_found")
    assert (await room.stream())["cohost"] is None
    assert (await bob.ok("join", {"stream_id": room.stream_id}))["pending_invite"] is None
    # And the host may invite again.
    again = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    assert await bob.next("cohost:invited", lambda d: d["invite_id"] == again)
    await bob.ok("cohost:respond", {"invite_id": again, "accept": True})
    assert (await host.next("cohost:changed"))["cohost"] == "bob"
    # An answered invite cannot be cancelled.
    await host.fails("cohost:cancel", {"invite_id": again}, "invite_not_found")


async def test_one_cohost_at_a_time(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    carol = await room.client("carol")
    to_bob = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    to_carol = (await host.ok("cohost:invite", {"username": "carol"}))["invite"]["id"]
    await bob.ok("cohost:respond", {"invite_id": to_bob, "accept": True})
    # A second acceptance (another invite, or the same one again) fails cleanly.
    await carol.fails(
        "cohost:respond", {"invite_id": to_carol, "accept": True}, "cohost_seat_taken"
    )
    await bob.fails("cohost:respond", {"invite_id": to_bob, "accept": True}, "invite_not_found")
    ack = await host.fails("cohost:invite", {"username": "carol"}, "cohost_seat_taken")
    assert ack["error"]["message"]
    assert (await room.stream())["cohost"] == "bob"


async def test_concurrent_acceptances_seat_exactly_one(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    carol = await room.client("carol")
    to_bob = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    to_carol = (await host.ok("cohost:invite", {"username": "carol"}))["invite"]["id"]
    acks = await asyncio.gather(
        bob.call("cohost:respond", {"invite_id": to_bob, "accept": True}),
        carol.call("cohost:respond", {"invite_id": to_carol, "accept": True}),
    )
    assert sorted(a["ok"] for a in acks) == [False, True], acks
    loser = next(a for a in acks if not a["ok"])
    assert loser["error"]["code"] == "cohost_seat_taken"
    winner = "bob" if acks[0]["ok"] else "carol"
    assert (await room.stream())["cohost"] == winner


async def test_the_hosts_tabs_and_a_rejoin_see_the_invites_still_open(room: Room) -> None:
    host = await room.client("hostess")
    other_tab = await room.client("hostess")
    bob = await room.client("bob")
    carol = await room.client("carol")
    assert host.join_ack["sent_invites"] == [] and bob.join_ack["sent_invites"] == []
    to_bob = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    to_carol = (await host.ok("cohost:invite", {"username": "carol"}))["invite"]["id"]
    sent = [
        (await other_tab.next("cohost:invite_sent", lambda d, i=i: d["invite_id"] == i))
        for i in (to_bob, to_carol)
    ]
    assert [d["username"] for d in sent] == ["bob", "carol"]
    rejoin = await host.ok("join", {"stream_id": room.stream_id})
    assert [i["invite_id"] for i in rejoin["sent_invites"]] == [to_bob, to_carol]
    assert without_expiry(rejoin["sent_invites"][0]) == {
        "invite_id": to_bob,
        "stream_id": room.stream_id,
        "host": "hostess",
        "username": "bob",
    }
    # Nobody else learns whom the host invited.
    assert (await carol.ok("join", {"stream_id": room.stream_id}))["sent_invites"] == []
    await bob.barrier()
    assert not bob.seen("cohost:invite_sent")
    # Answered or withdrawn invites leave the list.
    await bob.ok("cohost:respond", {"invite_id": to_bob, "accept": False})
    await host.ok("cohost:cancel", {"invite_id": to_carol})
    assert (await host.ok("join", {"stream_id": room.stream_id}))["sent_invites"] == []


async def test_a_cancel_racing_an_acceptance_leaves_one_outcome(room: Room) -> None:
    """Sent at once, exactly one of them wins: bob seated and the cancel refused, or
    the invite withdrawn and bob's answer refused; never both, never neither."""
    host = await room.client("hostess")
    bob = await room.client("bob")
    for _ in range(5):
        invite = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
        accepted, cancelled = await asyncio.gather(
            bob.call("cohost:respond", {"invite_id": invite, "accept": True}),
            host.call("cohost:cancel", {"invite_id": invite}),
        )
        assert accepted["ok"] != cancelled["ok"], (accepted, cancelled)
        loser = cancelled if accepted["ok"] else accepted
        assert loser["error"]["code"] == "invite_not_found"
        assert (await room.stream())["cohost"] == ("bob" if accepted["ok"] else None)
        if accepted["ok"]:
            await host.ok("cohost:remove")


async def test_an_unanswered_invite_expires(server_factory, api_factory, connect) -> None:
    room = await api_factory(await server_factory(invite_ttl_seconds=1))
    host = await room.client("hostess")
    bob = await room.client("bob")
    before_ms = time.time() * 1000
    invite_id = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    after_ms = time.time() * 1000
    # When it expires, for the invitee's countdown: the invite's time plus the 1 s TTL.
    invited = await bob.next("cohost:invited")
    assert before_ms + 1000 - 1 <= invited["expires_at_ms"] <= after_ms + 1000, invited
    expired = await host.next("cohost:invite_expired", timeout=5)
    assert expired == {"invite_id": invite_id, "username": "bob", "stream_id": room.stream_id}
    # The invitee hears it too: their popup closes.
    told = await bob.next("cohost:invite_expired", timeout=5)
    assert (told["invite_id"], told["host"]) == (invite_id, "hostess"), told
    await bob.fails("cohost:respond", {"invite_id": invite_id, "accept": True}, "invite_expired")
    assert (await room.stream())["cohost"] is None
    # Not offered any more on join either, nor listed as the host's.
    assert (await bob.ok("join", {"stream_id": room.stream_id}))["pending_invite"] is None
    assert (await host.ok("join", {"stream_id": room.stream_id}))["sent_invites"] == []


async def test_the_cohost_leaves(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    invite_id = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.ok("cohost:respond", {"invite_id": invite_id, "accept": True})
    await bob.ok("cohost:leave")
    assert await bob.next("cohost:removed") == {"stream_id": room.stream_id}
    assert (await host.next("cohost:changed", lambda d: d["cohost"] is None))["cohost"] is None
    assert (await room.stream())["cohost"] is None
    await bob.fails("cohost:leave", {}, "forbidden")  # not the cohost any more
    await host.fails("cohost:remove", {}, "no_cohost")
    # The seat is free again.
    again = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.ok("cohost:respond", {"invite_id": again, "accept": True})


async def test_an_invite_waits_for_the_invitee_to_join(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob", join=False)
    elsewhere = await room.client("carol")  # another viewer never sees bob's invite
    invite_id = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.barrier()
    await elsewhere.barrier()
    assert bob.seen("cohost:invited") == [] and elsewhere.seen("cohost:invited") == []

    ack = await bob.ok("join", {"stream_id": room.stream_id})
    assert without_expiry(ack["pending_invite"]) == {
        "invite_id": invite_id,
        "stream_id": room.stream_id,
        "host": "hostess",
        "username": "bob",
    }
    assert (await bob.next("cohost:invited"))["invite_id"] == invite_id
    await bob.ok("cohost:respond", {"invite_id": invite_id, "accept": True})
    assert (await elsewhere.next("cohost:changed"))["cohost"] == "bob"


async def test_ending_the_stream_frees_the_seat_and_tells_everyone(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    invite_id = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]["id"]
    await bob.ok("cohost:respond", {"invite_id": invite_id, "accept": True})
    await room.api.end(room.tokens["hostess"], room.stream_id)
    status = await bob.next("stream:status", lambda d: d["stream"]["status"] == "ended")
    assert status["stream"]["cohost"] is None
    assert await bob.next("cohost:removed") == {"stream_id": room.stream_id}
    await host.fails("cohost:invite", {"username": "carol"}, "stream_ended")


async def test_a_claim_the_database_does_not_back_is_given_back(room: Room) -> None:
    # A process that died between the seat claim and the database write leaves this.
    live = room.server.app[LIVE]
    invite = Invite("crashed", room.stream_id, "hostess", "bob", time.time() + 60)
    assert await live.open_invite(invite, 60)
    assert (await live.answer_invite("crashed", "bob", True, time.time()))[0] == "accepted"
    assert await live.seat_holder(room.stream_id) == "bob"
    assert (await room.stream())["cohost"] is None

    host, carol = await room.client("hostess"), await room.client("carol")
    invite_id = (await host.ok("cohost:invite", {"username": "carol"}))["invite"]["id"]
    await carol.ok("cohost:respond", {"invite_id": invite_id, "accept": True})
    assert (await room.stream())["cohost"] == "carol"
    assert await live.seat_holder(room.stream_id) == "carol"
