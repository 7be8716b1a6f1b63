"""The composite over real WHIP/WHEP: aiortc publishers in, aiortc viewers out."""

from __future__ import annotations

import asyncio

from server.keys import MEDIA
from tests.helpers.api import Api
from tests.helpers.peers import BLUE, GREEN, RED, HttpSignal, Viewer, looks
from tests.media.conftest import Show, showing


async def test_host_alone_fills_the_frame_then_cohost_joins_and_leaves(show: Show) -> None:
    await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    await viewer.wait_for(showing(viewer, "red", "red"))
    assert (viewer.frame.width, viewer.frame.height) == (1280, 720)

    bob_token, _ = await show.api.register("bob")
    await show.seat("bob")
    await show.publish(bob_token, BLUE, 880)
    await viewer.wait_for(showing(viewer, "red", "blue"))
    assert show.room.layout == ["host", "cohost"]

    await show.unseat()  # removed: the server closes bob's WHIP session
    await viewer.wait_for(showing(viewer, "red", "red"))
    assert "cohost" not in show.room.publishers
    status, body = await show.api.request(
        "POST",
        f"/whip/{show.stream_id}",
        token=bob_token,
        data="v=0\r\n",
        headers={"Content-Type": "application/sdp"},
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")


async def test_viewers_hear_the_mix_and_publishers_hear_everyone_but_themselves(
    show: Show,
) -> None:
    bob_token, _ = await show.api.register("bob")
    await show.seat("bob")
    await show.publish(show.host_token, RED, 440)
    await show.publish(bob_token, BLUE, 880)
    viewer = await show.watch()
    host_monitor = await show.watch(show.host_token)
    cohost_monitor = await show.watch(bob_token)

    def heard_both(listener):
        def both() -> bool:
            if len(listener.audio) < 48000:
                return False
            tones = listener.tones([440, 880])
            return tones[440] > 0.3 and tones[880] > 0.3

        return both

    await viewer.wait_for(heard_both(viewer))
    # Once the viewer hears both voices, both are in every feed.
    for monitor in (host_monitor, cohost_monitor):
        await monitor.wait_for(lambda m=monitor: len(m.audio) >= 48000)
    host_hears = host_monitor.tones([440, 880])
    cohost_hears = cohost_monitor.tones([440, 880])
    assert host_hears[880] > 0.5 and host_hears[440] < 0.05, host_hears
    assert cohost_hears[440] > 0.5 and cohost_hears[880] < 0.05, cohost_hears


async def test_five_viewers_share_one_encode_per_frame(show: Show) -> None:
    await show.publish(show.host_token, RED, 440)
    viewers = [await show.watch() for _ in range(5)]
    for viewer in viewers:
        await viewer.wait_for(lambda v=viewer: v.frames >= 5)
    stats = show.room.stats
    encoded, ticks = stats.video_frames_encoded, stats.video_ticks
    received = [v.frames for v in viewers]
    await viewers[0].wait_for(lambda: viewers[0].frames >= received[0] + 30)
    encoded_delta = stats.video_frames_encoded - encoded
    # Never more than one encode per frame (+1: a tick may be mid-encode at a read).
    assert encoded_delta <= stats.video_ticks - ticks + 1
    total_received = sum(v.frames - r for v, r in zip(viewers, received, strict=True))
    # Five viewers decoded ~5 frames per encode: the encoder did not run per viewer.
    assert total_received >= 3 * encoded_delta > 0


async def test_a_late_viewer_starts_without_waiting_for_the_periodic_keyframe(
    server_factory,
) -> None:
    server = await server_factory(keyframe_interval=60.0)
    async with Api(server.url) as client:
        host_token, _ = await client.register("hostess")
        stream = await client.create_stream(host_token, title="Late viewer")
        await client.start(host_token, stream["id"])
        show = Show(server, client, stream["id"], host_token)
        try:
            await show.publish(host_token, RED, 440)
            first = await show.watch()
            await first.wait_for(lambda: first.frames >= 45)  # past the first keyframe
            late = await show.watch()
            await late.wait_for(lambda: late.frame is not None, timeout=3.0)
            assert looks(late.halves()[0], "red")
        finally:
            for peer in show.peers:
                await peer.close()


async def test_a_second_whip_session_of_a_seat_replaces_the_first(show: Show) -> None:
    first, _ = await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    await viewer.wait_for(showing(viewer, "red", "red"))
    await show.publish(show.host_token, GREEN, 440)
    await viewer.wait_for(lambda: viewer.frame is not None and _greenish(viewer.halves()[0]))
    sessions = show.server.app[MEDIA].sessions.values()
    assert [s.kind for s in sessions].count("publish") == 1


def _greenish(rgb) -> bool:
    r, g, b = rgb
    return g > 150 and r < 90 and b < 90


async def test_deleting_the_cohost_session_returns_the_host_alone(show: Show) -> None:
    _, bob_signal, viewer = await show.on_stage()
    assert await bob_signal.delete() == 200
    await viewer.wait_for(showing(viewer, "red", "red"))
    assert await bob_signal.delete() == 404  # already gone


async def test_sessions_are_freed_when_the_peer_goes_away(show: Show) -> None:
    host, host_signal = await show.publish(show.host_token, RED, 440)
    viewer = Viewer()
    show.peers.append(viewer)
    viewer_signal = HttpSignal(show.server.url, f"/whep/{show.stream_id}")
    await viewer.start(viewer_signal)
    await viewer.wait_for(showing(viewer, "red", "red"))
    engine = show.server.app[MEDIA]
    room = show.room
    for peer, signal in ((viewer, viewer_signal), (host, host_signal)):
        session = engine.session(signal.location.rsplit("/", 1)[1])
        await peer.pc.close()  # no DELETE: the peer just leaves
        async with asyncio.timeout(15):
            await session.closed.wait()
        assert engine.session(session.id) is None
    assert room.listeners == 0 and room.publishers == {}
    assert show.stream_id not in engine.rooms  # nobody left: the room and its threads are gone
