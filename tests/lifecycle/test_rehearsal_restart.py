"""Rehearsal (host and cohost only, nothing for sale) with the pre-live checklist
computed from real media and listings, go live from it; restart within 2 h only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from server.domain.times import utc_now
from server.keys import STORE
from tests.conftest import BOTH_DATABASES
from tests.helpers.after_sale import HOST_ADDRESS
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer
from tests.helpers.sio import Connect
from tests.lifecycle.conftest import Users

pytestmark = BOTH_DATABASES


@pytest.fixture
async def peers() -> AsyncIterator[list[Publisher | Viewer]]:
    opened: list[Publisher | Viewer] = []
    yield opened
    for peer in opened:
        await peer.close()


def checks(body: dict) -> dict[str, bool]:
    return {check["id"]: check["ok"] for check in body["checks"]}


async def wait_checklist(users: Users, stream_id: str, want: dict[str, bool]) -> dict:
    """Poll the checklist (it is computed on request) until it shows `want` (bounded)."""
    async with asyncio.timeout(15):
        while True:
            body = await users.ok("GET", f"/api/streams/{stream_id}/checklist", "hostess")
            if all(checks(body)[key] == value for key, value in want.items()):
                return body
            await asyncio.sleep(0.2)


async def test_rehearsal_checklist_then_go_live(
    users: Users, connect: Connect, peers: list
) -> None:
    stream = await users.show(title="Dress rehearsal")
    sid = stream["id"]
    await users.fails("POST", f"/api/streams/{sid}/rehearse", "bob", 403, "forbidden")
    await users.fails("GET", f"/api/streams/{sid}/checklist", "bob", 403, "forbidden")
    viewer_sio = await connect(users.server.url, users.tokens["bob"], "bob")
    await viewer_sio.ok("join", {"stream_id": sid})

    rehearsing = (await users.ok("POST", f"/api/streams/{sid}/rehearse", "hostess"))["stream"]
    assert rehearsing["status"] == "rehearsal" and rehearsing["started_at"] is None
    assert (await viewer_sio.next("stream:status"))["stream"]["status"] == "rehearsal"

    first = await users.ok("GET", f"/api/streams/{sid}/checklist", "hostess")
    assert first["ready"] is False
    assert [c["id"] for c in first["checks"]][:6] == [
        "host_video",
        "host_audio",
        "listings_priced",
        "compare_at_backed",
        "codes_ready",
        "return_address",
    ]
    assert checks(first)["host_video"] is False and checks(first)["host_audio"] is False
    assert checks(first)["listings_priced"] is False
    assert all(isinstance(c["detail"], str) and c["detail"] for c in first["checks"])

    # A viewer is refused the picture, the chat and the shop during the rehearsal.
    with pytest.raises(AssertionError, match="409"):
        viewer = Viewer()
        peers.append(viewer)
        await viewer.start(HttpSignal(users.server.url, f"/whep/{sid}", users.tokens["bob"]))
    await viewer_sio.fails("chat:send", {"text": "hello?"}, "stream_not_live")

    # The camera starts: the host publishes and sees herself through WHEP.
    publisher = Publisher(RED, 440)
    peers.append(publisher)
    await publisher.start(HttpSignal(users.server.url, f"/whip/{sid}", users.tokens["hostess"]))
    monitor = Viewer()
    peers.append(monitor)
    await monitor.start(HttpSignal(users.server.url, f"/whep/{sid}", users.tokens["hostess"]))
    await monitor.wait_for(lambda: monitor.frames > 0, timeout=15)
    await wait_checklist(users, sid, {"host_video": True, "host_audio": True})

    # Listings get a price: the last red check turns green.
    status, created = await users.call(
        "POST",
        f"/api/streams/{sid}/listings",
        "hostess",
        json={"title": "Red sneakers", "price_cents": 4999, "quantity": 2},
    )
    assert status == 201
    await users.fails(
        "POST", f"/api/listings/{created['listing']['id']}/buy", "bob", 409, "stream_not_live"
    )
    await wait_checklist(users, sid, {"listings_priced": True, "return_address": False})
    await users.ok("PUT", "/api/me/address", "hostess", json=HOST_ADDRESS)
    ready = await wait_checklist(users, sid, {"return_address": True})
    assert ready["ready"] is True, ready

    live = await users.api.start(users.tokens["hostess"], sid)
    assert live["status"] == "live" and live["started_at"] is not None
    assert (await viewer_sio.next("stream:status"))["stream"]["status"] == "live"
    await viewer_sio.ok("chat:send", {"text": "we are live!"})


async def test_restart_within_two_hours_keeps_chat_and_listings(
    users: Users, connect: Connect
) -> None:
    stream = await users.show(title="Round one")
    sid = stream["id"]
    await users.api.start(users.tokens["hostess"], sid)
    bob = await connect(users.server.url, users.tokens["bob"], "bob")
    await bob.ok("join", {"stream_id": sid})
    message = (await bob.ok("chat:send", {"text": "first!"}))["message"]
    status, _ = await users.call(
        "POST",
        f"/api/streams/{sid}/listings",
        "hostess",
        json={"title": "Cap", "price_cents": 1500, "quantity": 1},
    )
    assert status == 201
    ended = await users.api.end(users.tokens["hostess"], sid)
    await users.fails(
        "POST", f"/api/streams/{sid}/rehearse", "hostess", 409, "stream_not_scheduled"
    )

    await users.fails("POST", f"/api/streams/{sid}/start", "bob", 403, "forbidden")
    again = await users.api.start(users.tokens["hostess"], sid)
    assert again["id"] == sid and again["status"] == "live"
    assert again["restarted_at"] is not None and again["ended_at"] is None
    assert again["started_at"] == ended["started_at"]
    join = await bob.ok("join", {"stream_id": sid})
    assert [m["id"] for m in join["chat"]] == [message["id"]]
    assert [listing["title"] for listing in join["listings"]] == ["Cap"]

    # Ended more than two hours ago: refused, and nothing changes.
    await users.api.end(users.tokens["hostess"], sid)
    long_ago = (utc_now() - timedelta(hours=2, seconds=5)).isoformat()
    await users.server.app[STORE].execute(
        "UPDATE streams SET ended_at = ? WHERE id = ?", (long_ago, sid)
    )
    await users.fails("POST", f"/api/streams/{sid}/start", "hostess", 409, "restart_window_passed")
    assert (await users.api.get_stream(sid))["status"] == "ended"
