"""A publisher: one seat's incoming camera and microphone."""

from __future__ import annotations

import asyncio
import contextlib

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.mixer import AudioSource

# RMS (in int16 units) below which a microphone counts as silent.
SILENCE_RMS = 60.0


def loudness(frame: av.AudioFrame) -> float:
    """RMS of a decoded audio frame in int16 units, whatever its sample format."""
    samples = frame.to_ndarray().astype(np.float64)
    if frame.format.name.startswith(("flt", "dbl")):
        samples *= 32768.0
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


class Publisher:
    """Keeps the latest decoded picture and feeds audio to the mixer."""

    def __init__(self, seat: str) -> None:
        self.seat = seat
        self.audio = AudioSource()
        self.frame: av.VideoFrame | None = None
        self.frame_at = 0.0
        self.sound_at: float | None = None  # loop time of the last non-silent audio
        self._tasks: list[asyncio.Task[None]] = []

    def attach(self, track: MediaStreamTrack) -> None:
        """Start reading a received track (called on the peer's `track` event)."""
        read = self._read_video if track.kind == "video" else self._read_audio
        self._tasks.append(asyncio.ensure_future(read(track)))

    def fresh_frame(self, now: float, hold: float) -> av.VideoFrame | None:
        """The latest picture, unless the input stalled longer than `hold`."""
        if self.frame is None or now - self.frame_at > hold:
            return None
        return self.frame

    async def _read_video(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frame, self.frame_at = frame, loop.time()

    def sounding(self, now: float, within: float) -> bool:
        """Whether the microphone carried sound in the last `within` seconds."""
        return self.sound_at is not None and now - self.sound_at <= within

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if loudness(frame) > SILENCE_RMS:
                    self.sound_at = loop.time()
                self.audio.push(frame)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
