"""Portrait and back mid-show: every recorded part and HLS segment keeps one picture size."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import av
import pytest

from media.outputs.files import with_discontinuity_sequence
from server.keys import MEDIA
from tests.conftest import ServerFactory
from tests.helpers.outputs import Playlist, decoded_frames, fetch, wait_for_playlist
from tests.helpers.server import RunningServer
from tests.media.conftest import Show, written

LANDSCAPE, PORTRAIT = (1280, 720), (720, 1280)
DISCONTINUITY = "#EXT-X-DISCONTINUITY"


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """This module's server makes HLS and records every show; short segments (a
    keyframe every 0.5 s) so a discontinuity slides out of the 8-segment window soon."""
    return await server_factory(hls=True, record=True, keyframe_interval=0.5)


def sizes_of(path: Path) -> tuple[tuple[int, int], set[tuple[int, int]], int]:
    """(declared size, sizes of every decoded frame, audio frames) of one recorded part."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        declared = (video.codec_context.width, video.codec_context.height)
        frames = {(frame.width, frame.height) for frame in container.decode(video)}
    with av.open(str(path)) as container:
        audio_frames = sum(1 for _ in container.decode(audio=0))
    return declared, frames, audio_frames


async def segment_sizes(base: str, playlist: Playlist) -> list[set[tuple[int, int]]]:
    """The picture sizes in each listed segment, with a None line at each discontinuity."""
    sizes = []
    for line in playlist.text.splitlines():
        if line == DISCONTINUITY:
            sizes.append(set())  # marks where a new part begins
        elif line and not line.startswith("#"):
            status, data, _ = await fetch(f"{base}/{line}")
            assert status == 200, line
            sizes.append({(f.width, f.height) for f in decoded_frames(data)})
    return sizes


async def test_portrait_and_back_makes_parts_each_of_one_size(show: Show) -> None:
    base = f"{show.server.url}/hls/{show.stream_id}"
    await show.on_stage()
    media = show.server.app[MEDIA]
    recorder, hls = media.output(show.stream_id, "recording"), media.output(show.stream_id, "hls")
    assert recorder is not None and hls is not None
    await written(recorder, parts=1, packets=60)

    async def switch(layout: str, parts: int) -> None:
        await show.switch_layout(layout)
        await written(recorder, parts, packets=60)  # 1-2 s of the new size in the part
        await written(hls, parts, packets=60)

    await switch("portrait", parts=2)
    # HLS continues the same playlist: a discontinuity, then portrait segments.
    playlist = await wait_for_playlist(
        f"{base}/index.m3u8",
        until=lambda playlist: (
            DISCONTINUITY in playlist.text and not playlist.text.rstrip().endswith(DISCONTINUITY)
        ),
        timeout=15.0,
    )
    assert not playlist.ended
    sizes = await segment_sizes(base, playlist)
    cut = sizes.index(set())
    assert all(s == {LANDSCAPE} for s in sizes[:cut]), sizes
    assert sizes[cut + 1 :] and all(s == {PORTRAIT} for s in sizes[cut + 1 :]), sizes

    await switch("side_by_side", parts=3)
    # Once the portrait part's first segment leaves the window, its discontinuity
    # is counted (RFC 8216 6.2.2); the back-switch's is still listed.
    playlist = await wait_for_playlist(
        f"{base}/index.m3u8",
        until=lambda playlist: "#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in playlist.text,
        timeout=20.0,
    )
    assert playlist.text.splitlines().count(DISCONTINUITY) == 1, playlist.text
    await show.api.end(show.host_token, show.stream_id)
    assert await asyncio.to_thread(recorder.join, 15) and await asyncio.to_thread(hls.join, 15)
    assert (recorder.status, hls.status) == ("ended", "ended")

    # Three MP4 files, each decodable from start to end with one declared size.
    status, recording = await show.api.request("GET", f"/api/streams/{show.stream_id}/recording")
    assert status == 200, recording
    parts = recording["parts"]
    assert len(parts) == 3 and recording["url"] == parts[-1]["url"]
    assert [(p["width"], p["height"]) for p in parts] == [LANDSCAPE, PORTRAIT, LANDSCAPE]
    directory = show.server.settings.data_dir / "recordings" / show.stream_id
    for part, expected in zip(parts, (LANDSCAPE, PORTRAIT, LANDSCAPE), strict=True):
        path = directory / part["url"].rsplit("/", 1)[1]
        declared, frames, audio_frames = await asyncio.to_thread(sizes_of, path)
        assert declared == expected and frames == {expected}, (part, declared, frames)
        assert audio_frames > 10 and part["duration_s"] > 0.5, part

    # The ended playlist: the last part's segments are landscape again, and the
    # discontinuities listed plus those slid out of the window are the two switches.
    final = Playlist((await fetch(f"{base}/index.m3u8"))[1].decode(), {})
    assert final.ended and DISCONTINUITY in final.text
    slid_out = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", final.text)
    listed = final.text.splitlines().count(DISCONTINUITY)
    assert listed + (int(slid_out.group(1)) if slid_out else 0) == 2, final.text
    sizes = await segment_sizes(base, final)
    last_cut = len(sizes) - 1 - sizes[::-1].index(set())
    assert all(s == {LANDSCAPE} for s in sizes[last_cut + 1 :]), sizes


def test_discontinuities_that_slid_out_are_counted() -> None:
    playlist = (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12\n"
        "#EXTINF:2.0,\na-12.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.0,\nb-13.ts\n"
    )
    # Parts began at segments 4, 9 (both gone) and 13 (still listed, tagged).
    counted = with_discontinuity_sequence(playlist, [4, 9, 13])
    assert counted.splitlines()[4] == "#EXT-X-DISCONTINUITY-SEQUENCE:2"
    assert counted.replace("#EXT-X-DISCONTINUITY-SEQUENCE:2\n", "") == playlist
    # While no part began before the window, the playlist is FFmpeg's as written.
    assert with_discontinuity_sequence(playlist, [13]) == playlist
    assert with_discontinuity_sequence(playlist, []) == playlist
