"""Fan-out of one encoder's packets to every viewer's sender.

Each encoded frame is packetized once here and handed to every connected
`FanoutSender`, which only stamps its own RTP header and sends. A new
viewer's video starts at a keyframe (the sender asks for one on joining).
"""

from __future__ import annotations

import logging
from typing import Protocol

import av
from aiortc import clock
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import convert_timebase

from media.encoder import AUDIO_CLOCK

logger = logging.getLogger(__name__)


class FrameSink(Protocol):
    """What a feed sends to: a viewer's `FanoutSender`, or a relay to other processes."""

    def send_frame(
        self, payloads: list[bytes], timestamp: int, keyframe: bool, ntp_time: int
    ) -> None: ...


class FrameFeed:
    """The senders fed by one encoder (the composite video, or one audio feed)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.senders: set[FrameSink] = set()
        # aiortc's H264 packetizer (FU-A/STAP-A); it encodes nothing here.
        self._h264 = H264Encoder() if kind == "video" else None

    def __len__(self) -> int:
        return len(self.senders)

    def add(self, sender: FrameSink) -> None:
        self.senders.add(sender)

    def discard(self, sender: FrameSink) -> None:
        self.senders.discard(sender)

    def publish(self, packets: list[av.Packet]) -> None:
        """Packetize each packet once and send it to every sender."""
        if not self.senders:
            return
        for packet in packets:
            if self._h264 is not None:
                payloads, timestamp = self._h264.pack(packet)
            else:
                payloads = [bytes(packet)]
                timestamp = convert_timebase(packet.pts, packet.time_base, AUDIO_CLOCK)
            self.deliver(payloads, timestamp, packet.is_keyframe)

    def deliver(self, payloads: list[bytes], timestamp: int, keyframe: bool) -> None:
        """Send one packetized frame (`timestamp` in the codec clock) to every sender."""
        now = clock.current_ntp_time()
        for sender in list(self.senders):
            try:
                sender.send_frame(payloads, timestamp, keyframe, now)
            except Exception:  # one broken viewer must not stop the others
                logger.exception("dropping a %s sender that failed", self.kind)
                self.senders.discard(sender)
