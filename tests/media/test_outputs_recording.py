"""Recording: the composite as fragmented MP4 (video copied, AAC), served with ranges."""

from __future__ import annotations

import asyncio
import time

import av
import pytest

from server.keys import MEDIA
from tests.conftest import ServerFactory
from tests.helpers.outputs import fetch
from tests.helpers.peers import RED, halves, looks
from tests.helpers.server import RunningServer
from tests.media.conftest import Show, showing


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """The server of this module records every show (setting `record`)."""
    return await server_factory(record=True)


async def record_a_show(show: Show, with_cohost: bool = True) -> tuple[float, dict]:
    """Host red, then cohost blue for at least as long again; returns (seconds, recording)."""
    started = time.monotonic()
    await show.publish(show.host_token, RED, 440)
    recorder = show.server.app[MEDIA].output(show.stream_id, "recording")
    assert recorder is not None
    if with_cohost:
        await show.on_stage_cohost()
        viewer = await show.watch()
        await viewer.wait_for(showing(viewer, "red", "blue"), timeout=20)
        # The show's length, not a synchronisation: red|blue must fill its middle.
        await asyncio.sleep(time.monotonic() - started + 1)
    else:
        async with asyncio.timeout(15):  # a second of media written
            while recorder.packets_written < 60:
                await asyncio.sleep(0.05)
    assert recorder.status == "live"
    await show.api.end(show.host_token, show.stream_id)
    ended = time.monotonic()
    assert await asyncio.to_thread(recorder.join, 15)  # its thread finished the file
    status, recording = await show.api.request("GET", f"/api/streams/{show.stream_id}/recording")
    assert status == 200, recording
    return ended - started, recording


async def test_the_recording_lasts_the_show_and_shows_red_blue_in_the_middle(show: Show) -> None:
    seconds, recording = await record_a_show(show)
    assert abs(recording["duration_s"] - seconds) <= 1.0, (recording, seconds)

    status, data, headers = await fetch(show.server.url + recording["url"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    path = show.server.settings.data_dir / "recordings" / show.stream_id
    [file] = path.glob("*.mp4")
    with av.open(str(file)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        video = container.streams.video[0]
        container.seek(int(recording["duration_s"] / 2 / video.time_base), stream=video)
        middle = next(container.decode(video))
        left, right = halves(middle)
        assert looks(left, "red") and looks(right, "blue"), (left, right)


async def test_the_recording_serves_byte_ranges_and_404s_for_unrecorded_streams(
    show: Show,
) -> None:
    _, recording = await record_a_show(show, with_cohost=False)
    url = show.server.url + recording["url"]
    status, whole, _ = await fetch(url)
    status, part, headers = await fetch(url, {"Range": "bytes=100-199"})
    assert status == 206 and part == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    other = await show.api.create_stream(show.host_token, title="Never aired")
    status, body = await show.api.request("GET", f"/api/streams/{other['id']}/recording")
    assert (status, body["error"]["code"]) == (404, "recording_not_found")
