"""Simulcast to RTMP from the same encode: nginx-rtmp on loopback, read back with PyAV."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest

from tests.helpers.cluster import free_port
from tests.helpers.nginx import start_rtmp_ingest
from tests.helpers.peers import RED, halves, looks
from tests.helpers.server import add_user
from tests.media.conftest import Show

pytestmark = pytest.mark.slow


def read_back(url: str, frames: int = 10) -> list[av.VideoFrame]:
    """Play the RTMP stream as any player would (blocking: run it in a thread)."""
    with av.open(url, timeout=(15, 15)) as container:
        decoded = []
        for frame in container.decode(video=0):
            decoded.append(frame)
            if len(decoded) >= frames:
                return decoded
    return decoded


async def wait_for_status(show: Show, dest_id: str, wanted: set[str], timeout: float = 20) -> dict:
    """Poll the host's list until the destination reaches one of `wanted` (bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            status, body = await show.api.request(
                "GET", f"/api/streams/{show.stream_id}/destinations", token=show.host_token
            )
            assert status == 200, body
            [destination] = [d for d in body["destinations"] if d["id"] == dest_id]
            if destination["status"] in wanted:
                return destination
            await asyncio.sleep(0.2)


async def add_destination(show: Show, url: str) -> dict:
    status, body = await show.api.request(
        "POST",
        f"/api/streams/{show.stream_id}/destinations",
        token=show.host_token,
        json={"url": url},
    )
    assert status == 201, body
    return body["destination"]


async def test_the_composite_reaches_an_rtmp_ingest(show: Show, tmp_path: Path) -> None:
    ingest = start_rtmp_ingest(tmp_path / "nginx-rtmp")
    try:
        await show.publish(show.host_token, RED, 440)
        url = f"rtmp://127.0.0.1:{ingest.port}/live/show"
        destination = await add_destination(show, url)
        assert destination["url"] == url
        await wait_for_status(show, destination["id"], {"live"})
        frames = await asyncio.to_thread(read_back, url)
        assert frames and (frames[-1].width, frames[-1].height) == (1280, 720)
        left, right = halves(frames[-1])
        assert looks(left, "red") and looks(right, "red")

        status, _ = await show.api.request(
            "DELETE",
            f"/api/streams/{show.stream_id}/destinations/{destination['id']}",
            token=show.host_token,
        )
        assert status == 200
        status, body = await show.api.request(
            "GET", f"/api/streams/{show.stream_id}/destinations", token=show.host_token
        )
        assert body["destinations"] == []
    finally:
        ingest.stop()


async def test_a_dead_destination_retries_is_reported_and_viewers_never_notice(
    show: Show,
) -> None:
    await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    await viewer.wait_for(lambda: viewer.frames > 0, timeout=20)
    destination = await add_destination(show, f"rtmp://127.0.0.1:{free_port()}/live/nobody")
    failed = await wait_for_status(show, destination["id"], {"failed"})
    # The reason in the system's words, not Python's "[Errno 111] …".
    assert failed["error"] == "Connection refused", failed
    before = viewer.frames
    await wait_for_status(show, destination["id"], {"retrying"})
    again = await wait_for_status(show, destination["id"], {"failed"}, timeout=30)
    assert again["error"]
    # The show went on for the viewer (about a second of frames) while it failed twice.
    assert viewer.frames - before >= 15
    assert all(looks(side, "red") for side in viewer.halves())


async def test_only_the_host_manages_destinations_and_only_rtmp(show: Show) -> None:
    path = f"/api/streams/{show.stream_id}/destinations"
    carol = await add_user(show.server, "carol")
    status, body = await show.api.request("POST", path, token=carol, json={"url": "rtmp://x/y"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await show.api.request("GET", path, token=carol)
    assert status == 403
    for url in ("http://example.com/live", "rtmp://", "", None, 5):
        status, body = await show.api.request(
            "POST", path, token=show.host_token, json={"url": url}
        )
        assert (status, body["error"]["code"]) == (400, "invalid_field"), url
    status, body = await show.api.request("GET", path, token=show.host_token)
    assert body["destinations"] == []
