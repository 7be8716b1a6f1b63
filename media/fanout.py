"""Fan-out of already encoded packets to every viewer's sender.

aiortc's RTCRtpSender only packetizes when its track yields `av.Packet`s,
so one encoder feeds any number of viewers. A viewer's video starts at a
keyframe and restarts at one after it fell too far behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

# About a second of video or audio; a viewer further behind skips ahead.
MAX_QUEUED_PACKETS = 64


class PacketTrack(MediaStreamTrack):
    """One viewer's track: yields the shared encoder's packets."""

    def __init__(self, kind: str, on_keyframe_needed: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()
        self._on_keyframe_needed = on_keyframe_needed
        self._needs_keyframe = kind == "video"

    def offer(self, packet: av.Packet) -> None:
        """Queue a packet, starting (and restarting) video at a keyframe."""
        if self._needs_keyframe:
            if not packet.is_keyframe:
                return
            self._needs_keyframe = False
        if self._queue.qsize() >= MAX_QUEUED_PACKETS:
            self._drain()
            if self.kind == "video":
                self._needs_keyframe = True
                self._on_keyframe_needed()
                return
        self._queue.put_nowait(packet)

    def request_keyframe(self) -> None:
        """The viewer lost the picture (PLI/FIR): ask the shared encoder."""
        self._on_keyframe_needed()

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        self._drain()
        self._queue.put_nowait(None)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


class Fanout:
    """The set of tracks fed by one encoder."""

    def __init__(self) -> None:
        self.tracks: set[PacketTrack] = set()

    def __bool__(self) -> bool:
        return bool(self.tracks)

    def publish(self, packets: list[av.Packet]) -> None:
        for track in list(self.tracks):
            if track.readyState != "live":
                self.tracks.discard(track)
                continue
            for packet in packets:
                track.offer(packet)
