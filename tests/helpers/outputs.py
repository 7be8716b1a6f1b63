"""Reading the outputs back over HTTP: HLS playlists and segments, recordings."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import av
import cv2
import numpy as np


@dataclass
class Playlist:
    """A fetched HLS media playlist."""

    text: str
    headers: dict[str, str]

    @property
    def segments(self) -> list[str]:
        return [line for line in self.text.splitlines() if line and not line.startswith("#")]

    @property
    def durations(self) -> list[float]:
        return [
            float(line.split(":", 1)[1].rstrip(","))
            for line in self.text.splitlines()
            if line.startswith("#EXTINF:")
        ]

    @property
    def ended(self) -> bool:
        return "#EXT-X-ENDLIST" in self.text


async def fetch(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.read(), dict(response.headers)


async def wait_for_playlist(
    url: str,
    segments: int = 1,
    timeout: float = 10.0,
    until: Callable[[Playlist], bool] = lambda playlist: True,
) -> Playlist:
    """Poll the playlist until it lists `segments` segments and `until` holds (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, headers = await fetch(url)
        if status == 200:
            playlist = Playlist(body.decode(), headers)
            if len(playlist.segments) >= segments and until(playlist):
                return playlist
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: no playlist with {segments} segment(s) in {timeout} s")
        await asyncio.sleep(0.1)


def decoded_frames(data: bytes, container_format: str | None = None) -> list[av.VideoFrame]:
    """Every video frame of an in-memory segment or file."""
    with av.open(io.BytesIO(data), format=container_format) as container:
        return list(container.decode(video=0))


def qr_picture(text: str, size: tuple[int, int] = (320, 240), side: int = 150) -> np.ndarray:
    """A white RGB picture with a QR code of `text` in its centre (OpenCV's encoder)."""
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    width, height = size
    picture = np.full((height, width, 3), 255, np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    picture[top : top + side, left : left + side] = code[..., None]
    return picture
