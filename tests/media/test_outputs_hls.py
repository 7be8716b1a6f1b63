"""HLS from the one encode: timely, cache-friendly, decodable, red|blue with a cohost."""

from __future__ import annotations

import time

from server.keys import MEDIA
from tests.helpers.outputs import decoded_frames, fetch, wait_for_playlist
from tests.helpers.peers import RED, halves, looks
from tests.media.conftest import Show


async def test_hls_playlist_within_6_s_segments_decode_red_blue(show: Show) -> None:
    playlist_url = f"{show.server.url}/hls/{show.stream_id}/index.m3u8"
    await show.publish(show.host_token, RED, 440)
    started = await show.first_frame("host")
    first = await wait_for_playlist(playlist_url, timeout=6.0)
    assert time.monotonic() - started < 6.0
    assert first.headers["Cache-Control"] == "public, max-age=1"

    await show.on_stage_cohost()
    # Segments cut at the encoder's keyframes: none longer than the 2 s interval
    # (a loaded clock may deliver the frame that carries the keyframe a little late).
    latest = await wait_for_playlist(playlist_url, segments=3, timeout=15.0)
    assert latest.durations and max(latest.durations) <= 2.1
    room = show.server.app[MEDIA].rooms[show.stream_id]
    assert room.video_encoder.frames_encoded > 0 and room.outputs.active

    async def last_segment_shows(left: str, right: str) -> bool:
        playlist = await wait_for_playlist(playlist_url)
        url = f"{show.server.url}/hls/{show.stream_id}/{playlist.segments[-1]}"
        status, data, headers = await fetch(url)
        assert status == 200, status
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        frames = decoded_frames(data, "mpegts")
        assert frames and frames[0].key_frame  # each segment starts at a keyframe
        left_rgb, right_rgb = halves(frames[-1])
        return looks(left_rgb, left) and looks(right_rgb, right)

    deadline = time.monotonic() + 15
    while not await last_segment_shows("red", "blue"):
        assert time.monotonic() < deadline, "no HLS segment shows red|blue"
        await wait_for_playlist(playlist_url)

    await show.api.end(show.host_token, show.stream_id)
    ended = await wait_for_playlist(playlist_url)
    deadline = time.monotonic() + 10
    while not ended.ended:  # the muxer's thread finishes the playlist
        assert time.monotonic() < deadline, "the playlist never got #EXT-X-ENDLIST"
        ended = await wait_for_playlist(playlist_url)


async def test_hls_rejects_names_outside_its_files(show: Show) -> None:
    for path in ("/hls/x/..%2Fsecret_key", "/hls/../index.m3u8", f"/hls/{show.stream_id}/a.mp4"):
        status, _, _ = await fetch(show.server.url + path)
        assert status == 404, path
