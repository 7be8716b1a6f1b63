"""The central scene with real media: the host tags @bob, invites him, Bob accepts and
publishes, viewers see red | blue; the host removes him and the composite is red again."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from server.keys import MEDIA
from tests.helpers.peers import BLUE, RED, HttpSignal, Publisher, Viewer, looks
from tests.realtime.conftest import Room

pytestmark = pytest.mark.slow


def showing(viewer: Viewer, left: str, right: str):
    return lambda: (
        viewer.frame is not None
        and (looks(viewer.halves()[0], left) and looks(viewer.halves()[1], right))
    )


@pytest.fixture
async def peers() -> AsyncIterator[list[Publisher | Viewer]]:
    opened: list[Publisher | Viewer] = []
    yield opened
    for peer in opened:
        await peer.close()


async def test_invite_accept_publish_remove(room: Room, peers: list) -> None:
    whip, whep = f"/whip/{room.stream_id}", f"/whep/{room.stream_id}"
    host = await room.client("hostess")
    bob = await room.client("bob")
    peers.append(
        await Publisher(RED, 440).start(HttpSignal(room.url, whip, room.tokens["hostess"]))
    )
    viewer = Viewer()
    peers.append(viewer)
    await viewer.start(HttpSignal(room.url, whep))
    await viewer.wait_for(showing(viewer, "red", "red"), timeout=20)

    # The host tags @bob in chat, then invites him.
    tag = (await host.ok("chat:send", {"text": "come on stage @bob"}))["message"]
    assert (await bob.next("mention"))["message"]["id"] == tag["id"]
    await host.ok("cohost:invite", {"username": tag["mentions"][0]})
    invited = await bob.next("cohost:invited")
    await bob.ok("cohost:respond", {"invite_id": invited["invite_id"], "accept": True})
    await bob.next("cohost:changed")

    bob_signal = HttpSignal(room.url, whip, room.tokens["bob"])
    peers.append(await Publisher(BLUE, 880).start(bob_signal))
    await viewer.wait_for(showing(viewer, "red", "blue"), timeout=20)

    room_media = room.server.app[MEDIA].rooms[room.stream_id]
    removed_at = time.perf_counter()
    await host.ok("cohost:remove")
    # The server has closed Bob's WHIP session by the time the host's ack arrives.
    assert "cohost" not in room_media.publishers
    assert time.perf_counter() - removed_at < 1.0
    await bob.next("cohost:removed")
    await viewer.wait_for(showing(viewer, "red", "red"), timeout=20)
    again = Publisher(BLUE, 880)
    peers.append(again)
    with pytest.raises(AssertionError, match="403"):
        await again.start(bob_signal)
