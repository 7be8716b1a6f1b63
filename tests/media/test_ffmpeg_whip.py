"""FFmpeg's own WHIP client publishes H264 + Opus; a viewer sees its picture."""

from __future__ import annotations

import asyncio
import sys

from tests.helpers.peers import RED, looks
from tests.media.conftest import Show


async def test_ffmpeg_whip_client_publishes_and_a_viewer_sees_it(show: Show, tmp_path) -> None:
    url = f"{show.server.url}/whip/{show.stream_id}"
    ffmpeg = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.helpers.ffmpeg_whip",
        url,
        show.host_token,
        str(tmp_path),
        *map(str, RED),
        "30",
    )
    try:
        viewer = await show.watch()
        await viewer.wait_for(
            lambda: viewer.frame is not None and looks(viewer.halves()[0], "red"), timeout=20
        )
        assert show.room.layout == ["host"]
        assert ffmpeg.returncode is None  # still publishing, no error exit
    finally:
        if ffmpeg.returncode is None:
            ffmpeg.terminate()
        await ffmpeg.wait()
