"""An audio-only show: the composite is the audio mix; no video track is sent."""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from tests.helpers.api import Api
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer


async def test_viewer_receives_audio_and_no_video(server, api: Api) -> None:
    host, _ = await api.register("hostess")
    stream = await api.create_stream(host, title="Radio hour", kind="audio")
    await api.start(host, stream["id"])
    publisher = Publisher(RED, 440)
    viewer = Viewer()
    signal = HttpSignal(server.url, f"/whep/{stream['id']}")
    answers: list[str] = []

    async def recording(offer: str) -> str:
        answers.append(await signal(offer))
        return answers[-1]

    try:
        await publisher.start(HttpSignal(server.url, f"/whip/{stream['id']}", host))
        await viewer.start(recording)
        await viewer.wait_for(lambda: len(viewer.audio) >= 48000, timeout=20)
        assert viewer.tones([440])[440] > 0.5  # the host's voice is in the mix
        assert viewer.frames == 0 and viewer.frame is None
        video = [m for m in SessionDescription.parse(answers[0]).media if m.kind == "video"]
        assert all(m.direction == "inactive" or m.port == 0 for m in video), video
    finally:
        await viewer.close()
        await publisher.close()
