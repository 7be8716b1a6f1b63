"""A stream's encoded media crossing processes: taps at the home, relayed rooms elsewhere.

The home's room encodes once; a `FeedTap` hands its packetized frames (the
composite and the viewers' full mix) to a forwarder. On another process a
`RelayedRoom` is fed those frames and fans them out to its own viewers with
the same `FrameFeed`/`FanoutSender` path as the home. How frames travel
(Redis, ...) is the caller's business: media only sees callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from media.fanout import FrameFeed
from media.room import Subscription
from media.stats import COUNTERS

# kind ("video" | "audio"), payloads, timestamp (codec clock), keyframe
Forward = Callable[[str, list[bytes], int, bool], None]


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
    """Where a relayed room's frames come from (the home process)."""

    def start(self, room: RelayedRoom) -> None:
        """Begin calling `room.deliver` with the home's frames."""

    def request_keyframe(self) -> None:
        """A viewer here joined or lost the picture: ask the home's encoder."""

    async def stop(self) -> None:
        """No viewer left here: stop the frames."""


class RelayedRoom:
    """A stream encoded on another process, fanned out to this process's viewers."""

    def __init__(self, stream_id: str, upstream: Upstream) -> None:
        self.stream_id = stream_id
        self._upstream = upstream
        self._feeds = {"video": FrameFeed("video"), "audio": FrameFeed("audio")}
        upstream.start(self)

    def subscribe(self, listener_seat: str | None) -> Subscription:
        """Viewers only: the host and cohost hear their mix-minus at the home."""
        return Subscription(self._feeds["video"], self._feeds["audio"])

    def request_keyframe(self) -> None:
        self._upstream.request_keyframe()

    def deliver(self, kind: str, payloads: list[bytes], timestamp: int, keyframe: bool) -> None:
        feed = self._feeds.get(kind)
        COUNTERS.relayed_frames_in += 1
        if feed is not None:
            feed.deliver(payloads, timestamp, keyframe)

    @property
    def listeners(self) -> int:
        return len(self._feeds["video"])

    async def close(self) -> None:
        await self._upstream.stop()
