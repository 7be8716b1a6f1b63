"""A stream's encoded media crossing processes: taps at the home, relayed rooms elsewhere.

The home's room encodes once; a `FeedTap` hands its packetized frames (the
composite and the viewers' full mix) to a forwarder. On another process a
`RelayedRoom` is fed those frames and fans them out to its own viewers with
the same `FrameFeed`/`FanoutSender` path as the home. How frames travel
(Redis, ...) is the caller's business: media only sees callbacks.

Every frame names its source (one encoder: a home's room as one tap sees it).
When the home moves, a new encoder on another process starts its own clock, its
own H.264 parameter sets and its own reference pictures. Viewers keep their
senders (SSRC, sequence numbers), so the relayed room makes the switch look like a
pause in one stream: each feed's timestamps carry on from where the old source
stopped (plus the time that passed), and video switches only at the new source's
first keyframe (x264 puts SPS/PPS in front of every IDR), since its other frames
cannot be decoded from the old source's pictures.

Until then (the old home died; the host has yet to republish) the room repeats its
last keyframe every HOLD_AFTER seconds: viewers keep a still picture and their
players see media arriving, so they wait for the show instead of re-negotiating.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

from media.encoder import AUDIO_CLOCK, VIDEO_CLOCK
from media.fanout import FrameFeed
from media.room import Subscription
from media.stats import COUNTERS

# kind ("video" | "audio"), payloads, timestamp (codec clock), keyframe
Forward = Callable[[str, list[bytes], int, bool], None]
# Video silent this long: repeat the last keyframe (a watch page re-plays after ~4 s).
HOLD_AFTER = 1.0


class FeedTap:
    """A sink on one of the home room's feeds that forwards every frame."""

    def __init__(self, kind: str, forward: Forward) -> None:
        self.kind = kind
        self._forward = forward

    def send_frame(
        self, payloads: list[bytes], timestamp: int, keyframe: bool, ntp_time: int
    ) -> None:
        self._forward(self.kind, payloads, timestamp, keyframe)


class Upstream(Protocol):
    """Where a relayed room's frames come from (the home, wherever it is)."""

    def start(self, room: RelayedRoom) -> None:
        """Begin calling `room.deliver` with the home's frames."""

    def request_keyframe(self) -> None:
        """A viewer here joined or lost the picture: ask the home's encoder."""

    async def stop(self) -> None:
        """No viewer left here: stop the frames."""


class Timeline:
    """One feed's timestamps as its viewers see them: continuous across sources.

    A new source's timestamps are shifted to follow the last one sent, plus the
    wall time since (a new encoder's clock starts anywhere; a jump back would make
    receivers take its frames for late ones).
    """

    def __init__(self, ticks_per_second: int) -> None:
        self._rate = ticks_per_second
        self.source: int | None = None
        self._offset = 0
        self._last: tuple[int, float] | None = None  # (timestamp sent, when)

    def _next(self, now: float) -> int:
        """The timestamp that follows the last one sent, by the time since."""
        assert self._last is not None
        sent, at = self._last
        return sent + max(1, round((now - at) * self._rate))

    def rewrite(self, source: int, timestamp: int) -> int:
        now = time.monotonic()
        if source != self.source:
            if self._last is not None:
                self._offset = self._next(now) - timestamp
            self.source = source
        rewritten = (timestamp + self._offset) & 0xFFFFFFFF
        self._last = (rewritten, now)
        return rewritten

    def hold(self) -> int:
        """A timestamp for a frame repeated now; the next frame starts a new run."""
        now = time.monotonic()
        held = self._next(now) & 0xFFFFFFFF
        self._last = (held, now)
        self.source = None
        return held


class RelayedRoom:
    """A stream encoded on another process, fanned out to this process's viewers."""

    def __init__(self, stream_id: str, upstream: Upstream) -> None:
        self.stream_id = stream_id
        self._upstream = upstream
        self._feeds = {"video": FrameFeed("video"), "audio": FrameFeed("audio")}
        self._timelines = {
            "video": Timeline(round(1 / VIDEO_CLOCK)),
            "audio": Timeline(round(1 / AUDIO_CLOCK)),
        }
        self._keyframe_asked_of: int | None = None  # the new source asked for one
        self._keyframe: list[bytes] | None = None  # the last one sent, to hold the picture
        self._video_at = time.monotonic()
        self._holding = asyncio.ensure_future(self._hold())
        upstream.start(self)

    def subscribe(self, listener_seat: str | None) -> Subscription:
        """Viewers only: the host and cohost hear their mix-minus at the home."""
        return Subscription(self._feeds["video"], self._feeds["audio"])

    def request_keyframe(self) -> None:
        self._upstream.request_keyframe()

    def deliver(
        self, kind: str, payloads: list[bytes], timestamp: int, keyframe: bool, source: int
    ) -> None:
        """Fan out one frame of `source` (see the module docstring for a new source)."""
        feed = self._feeds.get(kind)
        COUNTERS.relayed_frames_in += 1
        if feed is None:
            return
        timeline = self._timelines[kind]
        if kind == "video" and source != timeline.source and not keyframe:
            if self._keyframe_asked_of != source:
                self._keyframe_asked_of = source  # once: the home's encoder rate-limits
                self._upstream.request_keyframe()
            return  # undecodable without the new source's pictures before it
        feed.deliver(payloads, timeline.rewrite(source, timestamp), keyframe)
        if kind == "video":
            self._video_at = time.monotonic()
            if keyframe:
                self._keyframe = payloads

    def hold_picture(self) -> None:
        """Send the last keyframe again, as a new frame: the picture stays, still.

        Whatever comes next must start at a keyframe (the viewers' decoders now
        hold this picture), also from the same source.
        """
        if self._keyframe is None:
            return
        self._keyframe_asked_of = None
        self._feeds["video"].deliver(self._keyframe, self._timelines["video"].hold(), True)

    async def _hold(self) -> None:
        while True:
            await asyncio.sleep(HOLD_AFTER)
            if time.monotonic() - self._video_at >= HOLD_AFTER:
                self.hold_picture()

    @property
    def listeners(self) -> int:
        return len(self._feeds["video"])

    async def close(self) -> None:
        self._holding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._holding
        await self._upstream.stop()
