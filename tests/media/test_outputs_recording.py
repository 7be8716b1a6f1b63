"""Recording: the composite as fragmented MP4 (video copied, AAC), served with ranges."""

from __future__ import annotations

import av
import pytest

from tests.conftest import ServerFactory
from tests.helpers.outputs import fetch
from tests.helpers.peers import halves, looks
from tests.helpers.server import RunningServer
from tests.media.conftest import Show


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """The server of this module records every show (setting `record`)."""
    return await server_factory(record=True)


async def test_the_recording_lasts_the_show_and_shows_red_blue_in_the_middle(show: Show) -> None:
    seconds, recording = await show.record()
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
    _, recording = await show.record(with_cohost=False)
    url = show.server.url + recording["url"]
    status, whole, _ = await fetch(url)
    status, part, headers = await fetch(url, {"Range": "bytes=100-199"})
    assert status == 206 and part == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    other = await show.api.create_stream(show.host_token, title="Never aired")
    status, body = await show.api.request("GET", f"/api/streams/{other['id']}/recording")
    assert (status, body["error"]["code"]) == (404, "recording_not_found")
