"""Keyframe requests reach the shared encoder (rate-limited); stalled inputs leave."""

from __future__ import annotations

from media.encoder import KeyframeGate
from tests.helpers.peers import RED
from tests.media.conftest import Show, showing


def test_keyframe_gate_allows_at_most_two_per_second() -> None:
    gate = KeyframeGate(per_second=2.0)
    granted = 0
    for step in range(300):  # 3 s of frames at 100 fps, a request before each
        gate.request()
        granted += gate.take(step / 100)
    assert granted == 6


def test_keyframe_gate_honours_a_request_once_the_gap_passed() -> None:
    gate = KeyframeGate(per_second=2.0)
    gate.request()
    assert gate.take(10.0)
    gate.request()
    assert not gate.take(10.1)  # too soon: kept pending
    assert gate.take(10.5)
    assert not gate.take(10.6)  # nothing pending


async def test_viewer_pli_forces_a_keyframe_of_the_shared_encoder(show: Show) -> None:
    await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    await viewer.wait_for(lambda: viewer.frames >= 10)
    encoder = show.room.video_encoder
    forced = encoder.keyframes_forced
    receiver = next(t.receiver for t in viewer.pc.getTransceivers() if t.kind == "video")
    [source] = receiver.getSynchronizationSources()
    for _ in range(20):  # a burst of PLIs is one keyframe, not twenty
        await receiver._send_rtcp_pli(source.source)
    frames = viewer.frames
    await viewer.wait_for(lambda: encoder.keyframes_forced > forced)
    await viewer.wait_for(lambda: viewer.frames >= frames + 12)  # ~0.4 s later
    assert encoder.keyframes_forced - forced == 1


async def test_a_stalled_camera_is_held_then_its_tile_is_dropped(show: Show) -> None:
    bob, _, viewer = await show.on_stage()
    bob.video.sending.clear()  # bob's camera freezes, his session stays up
    await viewer.wait_for(showing(viewer, "red", "red"))
    assert show.room.layout == ["host"] and "cohost" in show.room.publishers
    bob.video.sending.set()
    await viewer.wait_for(showing(viewer, "red", "blue"))
