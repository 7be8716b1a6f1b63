"""Real aiortc peers for tests and benchmarks: synthetic publishers and viewers.

A publisher sends a solid colour and a sine tone; a viewer keeps the last
decoded picture and the received audio, and waits on conditions with
bounded timeouts instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Awaitable, Callable

import aiohttp
import av
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from media.ice import restrict_host_addresses

Signal = Callable[[str], Awaitable[str]]

# BT.601 limited-range YUV of pure colours.
RED = (81, 90, 240)
BLUE = (41, 240, 110)
GREEN = (145, 54, 34)


class ColorTrack(VideoStreamTrack):
    """A solid-colour camera; `color` may change while it runs."""

    def __init__(self, color: tuple[int, int, int], width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.color = color
        self.width, self.height = width, height
        self.sending = asyncio.Event()  # clear it to stall the camera
        self.sending.set()
        self.picture: np.ndarray | None = None  # (height, width, 3) RGB shown instead

    async def recv(self) -> av.VideoFrame:
        await self.sending.wait()
        pts, time_base = await self.next_timestamp()
        if self.picture is not None:  # an RGB image instead of the colour
            frame = av.VideoFrame.from_ndarray(self.picture, format="rgb24").reformat(
                format="yuv420p"
            )
        else:
            frame = av.VideoFrame(self.width, self.height, "yuv420p")
            for plane, value in zip(frame.planes, self.color, strict=True):
                plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A microphone playing a sine tone at `frequency` Hz (48 kHz mono)."""

    def __init__(self, frequency: float, amplitude: int = 8000) -> None:
        super().__init__()
        self.frequency, self.amplitude = frequency, amplitude
        self._sent = 0
        self._start = 0.0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples = 960
        if self._sent == 0:
            self._start = time.time()
        else:
            await asyncio.sleep(self._start + self._sent / 48000 - time.time())
        t = (np.arange(samples) + self._sent) / 48000
        wave = (self.amplitude * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, 48000)
        self._sent += samples
        return frame


def cut_network(pc: RTCPeerConnection) -> None:
    """Silently lose every packet of `pc`, both ways, as if its network were unplugged.

    Nothing is closed or signalled: the far end only notices that media stops.
    """
    transports = {t.sender.transport.transport for t in pc.getTransceivers() if t.sender.transport}
    for ice in transports:
        for protocol in ice._connection._protocols:
            protocol.transport.pause_reading()
            protocol.transport.sendto = lambda *args, **kwargs: None


def new_peer() -> RTCPeerConnection:
    """A peer with an explicit, empty ICE server list (no public STUN), gathering on
    loopback (aioice skips it by default; an in-process server's engine did this)."""
    restrict_host_addresses(("127.0.0.1",))
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def negotiate(pc: RTCPeerConnection, signal: Signal) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    answer = await signal(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


class Publisher:
    """An aiortc WHIP-style publisher of a colour and a tone."""

    def __init__(self, color: tuple[int, int, int], frequency: float) -> None:
        self.video = ColorTrack(color)
        self.audio = ToneTrack(frequency)
        self.pc = new_peer()
        self.pc.addTransceiver(self.video, direction="sendonly")
        self.pc.addTransceiver(self.audio, direction="sendonly")

    async def start(self, signal: Signal) -> Publisher:
        await negotiate(self.pc, signal)
        return self

    async def close(self) -> None:
        await self.pc.close()


class Viewer:
    """An aiortc WHEP-style viewer that decodes what it receives."""

    def __init__(self) -> None:
        self.pc = new_peer()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.frame: av.VideoFrame | None = None
        self.frames = 0
        self.first_frame_at: float | None = None
        self.audio = np.zeros(0, np.int16)
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track) -> None:
        self._tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.frame = frame
                    self.frames += 1
                    if self.first_frame_at is None:
                        self.first_frame_at = time.perf_counter()
                else:
                    mono = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
                    self.audio = np.concatenate([self.audio, mono])[-48000 * 2 :]
                async with self._changed:
                    self._changed.notify_all()

    async def start(self, signal: Signal) -> Viewer:
        await negotiate(self.pc, signal)
        return self

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until `condition()` holds on received media (bounded)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    def halves(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Mean RGB at the centre of the left and right halves of the last picture.

        Centres only: a tile keeps its source's aspect, so its edges may be
        letterbox bars.
        """
        assert self.frame is not None
        return halves(self.frame)

    def tones(self, frequencies: list[float]) -> dict[float, float]:
        """Relative strength of each frequency in the last second of audio."""
        samples = self.audio[-48000:].astype(np.float32)
        spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
        bins = np.fft.rfftfreq(len(samples), 1 / 48000)
        peak = spectrum.max() or 1.0
        return {f: float(spectrum[np.abs(bins - f) < 5].max() / peak) for f in frequencies}

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def centre_colour(
    frame: av.VideoFrame, x: float, y: float, radius: tuple[float, float] = (1 / 16, 1 / 10)
) -> tuple[float, ...]:
    """Mean RGB of a patch centred at (x, y); position and radius are fractions of the picture."""
    rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
    height, width = rgb.shape[:2]
    cx, cy = int(width * x), int(height * y)
    dx, dy = max(1, int(width * radius[0])), max(1, int(height * radius[1]))
    patch = rgb[cy - dy : cy + dy, cx - dx : cx + dx]
    return tuple(patch.reshape(-1, 3).mean(axis=0))


def halves(frame: av.VideoFrame) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean RGB at the centres of a picture's left and right halves."""
    return centre_colour(frame, 0.25, 0.5), centre_colour(frame, 0.75, 0.5)


def looks(rgb: tuple[float, ...], color: str) -> bool:
    """Whether a mean RGB is clearly red, blue or black."""
    r, g, b = rgb
    if color == "red":
        return r > 180 and g < 70 and b < 70
    if color == "blue":
        return b > 180 and r < 70 and g < 70
    if color == "black":
        return max(r, g, b) < 40
    if color == "slate":  # media/slate.py BACKGROUND (40, 30, 90) after yuv420p
        return abs(r - 40) < 25 and abs(g - 30) < 25 and abs(b - 90) < 25
    raise ValueError(color)


class HttpSignal:
    """WHIP/WHEP signalling over HTTP; remembers the session URL (Location)."""

    def __init__(self, base_url: str, path: str, token: str | None = None) -> None:
        self.base_url, self.path, self.token = base_url, path, token
        self.location: str | None = None
        self.redirected = False  # the last request was answered by another process

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def __call__(self, offer: str) -> str:
        headers = {"Content-Type": "application/sdp", **self._headers()}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.base_url + self.path, data=offer, headers=headers) as response,
        ):
            body = await response.text()
            self.redirected = bool(response.history)
            if response.status != 201:
                raise AssertionError(f"POST {self.path}: {response.status} {body}")
            assert response.content_type == "application/sdp"
            self.location = response.headers["Location"]
            return body

    async def delete(self) -> int:
        assert self.location
        async with (
            aiohttp.ClientSession() as http,
            http.delete(self.base_url + self.location, headers=self._headers()) as response,
        ):
            self.redirected = bool(response.history)
            return response.status


async def candidateless_offer(kinds: tuple[str, ...] = ("video", "audio")) -> str:
    """A genuine offer (recvonly for WHEP, sendonly-free) stripped of every candidate
    and of `a=end-of-candidates`: the server answers it but can never connect."""
    pc = new_peer()
    for kind in kinds:
        pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    lines = [
        line
        for line in sdp.splitlines()
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    ]
    return "\r\n".join(lines) + "\r\n"
