"""Faults on stage: a cohost or host loses the network mid-show (seed 004).

The publisher's aiortc peer stops sending and receiving without closing
anything, as when a phone walks out of Wi-Fi; the page's automatic republish
is played by a new WHIP session of the same user.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from server.keys import AUTH, MEDIA
from tests.helpers.api import Api
from tests.helpers.peers import BLUE, RED, Viewer, cut_network, looks
from tests.helpers.sio import Client, Connect
from tests.media.conftest import Show, open_show, showing

# No cohost picture for 1 s, then the next composite: allow one more second of clock.
HOST_ALONE_WITHIN = 2.0


async def test_dropped_cohost_leaves_host_alone_then_returns_side_by_side(
    show: Show, connect: Connect
) -> None:
    host = await connect(show.server.url, show.host_token, "hostess")
    ack = await host.ok("join", {"stream_id": show.stream_id})
    assert ack["publishing"] is False  # a rejoining studio learns it must publish
    bob, _, viewer = await show.on_stage()
    await host.next("cohost:media", lambda d: d["state"] == "connected")
    ack = await host.ok("join", {"stream_id": show.stream_id})
    assert ack["publishing"] is True

    cut_at = time.monotonic()
    cut_network(bob.pc)
    await viewer.wait_for(showing(viewer, "red", "red"), timeout=5)
    assert time.monotonic() - cut_at < HOST_ALONE_WITHIN
    report = await host.next("cohost:media", lambda d: d["state"] == "reconnecting")
    assert report == {"stream_id": show.stream_id, "username": "bob", "state": "reconnecting"}
    assert (await show.stream())["cohost"] == "bob"  # the seat is kept meanwhile

    bob_token = show.server.app[AUTH].issue("bob")
    await show.publish(bob_token, BLUE, 880)  # the page's republish: a new WHIP session
    await viewer.wait_for(showing(viewer, "red", "blue"))
    await host.next("cohost:media", lambda d: d["state"] == "connected")
    assert (await show.stream())["cohost"] == "bob"


async def test_a_cohost_who_does_not_come_back_loses_the_seat_after_the_grace(
    server_factory, connect: Connect
) -> None:
    server = await server_factory(cohost_grace_seconds=0.5)
    async with Api(server.url) as api:
        show = await open_show(server, api)
        try:
            host = await connect(server.url, show.host_token, "hostess")
            await host.ok("join", {"stream_id": show.stream_id})
            bob, _, viewer = await show.on_stage()
            cut_network(bob.pc)
            await host.next("cohost:media", lambda d: d["state"] == "reconnecting")
            changed = await host.next("cohost:changed", lambda d: d["cohost"] is None)
            assert changed["stream_id"] == show.stream_id
            dropped = await host.next("cohost:dropped")
            assert dropped == {
                "stream_id": show.stream_id,
                "username": "bob",
                "reason": "media_lost",
            }
            assert (await show.stream())["cohost"] is None
            await viewer.wait_for(showing(viewer, "red", "red"))
        finally:
            for peer in show.peers:
                await peer.close()


async def test_host_blip_shows_the_slate_and_viewers_keep_their_sessions(
    show: Show, connect: Connect
) -> None:
    watcher = await connect(show.server.url, None, "anon")
    await watcher.ok("join", {"stream_id": show.stream_id})
    host, _ = await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    await viewer.wait_for(showing(viewer, "red", "red"))
    plays = {s.id for s in show.server.app[MEDIA].sessions.values() if s.kind == "play"}

    cut_network(host.pc)
    await viewer.wait_for(showing(viewer, "slate", "slate"), timeout=5)
    rgb = viewer.frame.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    middle = rgb[height * 2 // 5 : height * 3 // 5, width // 4 : width * 3 // 4]
    assert (middle.min(axis=2) > 200).any(), "the slate carries its text"
    assert show.server.app[MEDIA].rooms[show.stream_id].layout == ["slate"]
    lost = await watcher.next("stage:media", lambda d: d["state"] == "reconnecting")
    assert lost["seat"] == "host" and lost["username"] == "hostess"

    await show.publish(show.host_token, RED, 440)  # the studio's republish, same seat
    await viewer.wait_for(showing(viewer, "red", "red"))
    await watcher.next("stage:media", lambda d: d["seat"] == "host" and d["state"] == "connected")
    assert viewer.pc.connectionState == "connected"
    still = {s.id for s in show.server.app[MEDIA].sessions.values() if s.kind == "play"}
    assert plays <= still, "viewers kept their WHEP sessions"


@asynccontextmanager
async def host_dropped(
    server_factory, connect: Connect, host_grace: float
) -> AsyncIterator[tuple[Show, Client, Viewer]]:
    """A show whose host (red) a viewer watched, then lost: (show, watcher, viewer)."""
    server = await server_factory(host_grace_seconds=host_grace)
    async with Api(server.url) as api:
        show = await open_show(server, api)
        try:
            watcher = await connect(server.url, None, "anon")
            await watcher.ok("join", {"stream_id": show.stream_id})
            host, _ = await show.publish(show.host_token, RED, 440)
            viewer = await show.watch()
            await viewer.wait_for(showing(viewer, "red", "red"))
            cut_network(host.pc)
            await watcher.next("stage:media", lambda d: d["state"] == "reconnecting")
            yield show, watcher, viewer
        finally:
            for peer in show.peers:
                await peer.close()


async def test_a_host_who_does_not_come_back_has_the_show_ended_after_the_grace(
    server_factory, connect: Connect
) -> None:
    async with host_dropped(server_factory, connect, 0.5) as (show, watcher, viewer):
        await viewer.wait_for(showing(viewer, "slate", "slate"), timeout=5)
        ended = await watcher.next("stream:status", lambda d: d["stream"]["status"] == "ended")
        assert ended["stream"]["id"] == show.stream_id
        assert (await show.stream())["status"] == "ended"


async def test_a_host_back_within_the_grace_keeps_the_show_live(
    server_factory, connect: Connect
) -> None:
    async with host_dropped(server_factory, connect, 2) as (show, watcher, viewer):
        await show.publish(show.host_token, RED, 440)
        await watcher.next("stage:media", lambda d: d["state"] == "connected")
        # Past the grace the show still runs: the return cancelled the timer. The
        # viewer's arriving frames pace the wait (bounded by the deadline).
        deadline = time.monotonic() + 2.5
        frames = viewer.frames
        while time.monotonic() < deadline:
            await viewer.wait_for(lambda f=frames: viewer.frames > f, timeout=2)
            frames = viewer.frames
        assert (await show.stream())["status"] == "live"
        assert not watcher.seen("stream:status")


async def test_before_the_host_publishes_viewers_see_the_starting_slate(show: Show) -> None:
    viewer = await show.watch()
    await viewer.wait_for(showing(viewer, "slate", "slate"))
    assert looks(viewer.halves()[0], "slate")
