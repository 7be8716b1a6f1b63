"""One output: a thread that muxes encoded packets into a container.

The room's threads only `offer()` packets: a full queue drops the packet
(never blocks) and the sink skips video until the next keyframe so what it
writes stays decodable. The container opens at the first video keyframe and
every timestamp is rebased to it, so each output starts at zero.

A new picture size (the host switches to portrait and back: a new x264 whose
first frame is an IDR) ends the container cleanly and opens the next part at
that keyframe, declared with the new size, for sinks that `split_on_resize`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from media.encoder import AUDIO_CLOCK, VIDEO_CLOCK

logger = logging.getLogger(__name__)

VIDEO = "video"
AUDIO = "audio"
# The outputs' audio: the mix in mono AAC (media/outputs/hub.py AacEncoder
# downmixes; mono costs about 40% less than stereo). The show is voices, and
# WebRTC viewers keep the stereo Opus mix.
AAC_LAYOUT = "mono"
AAC_BITRATE = 64_000
# About 4 s of video at 30 fps plus its audio: room for a slow disk or network.
DEFAULT_CAPACITY = 320


def describe(error: Exception) -> str:
    """A sink's failure as the host reads it: the system's words ("Connection refused"),
    not Python's "[Errno 111] …"."""
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror)
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class EncodedPacket:
    """An immutable copy of one encoded packet, safe to share between threads."""

    kind: str  # VIDEO or AUDIO
    data: bytes
    pts: int
    dts: int
    keyframe: bool
    size: tuple[int, int] | None = None  # video: the encoded picture's width and height

    @classmethod
    def of(cls, kind: str, packet: av.Packet, size: tuple[int, int] | None = None) -> EncodedPacket:
        pts = packet.pts if packet.pts is not None else 0
        dts = packet.dts if packet.dts is not None else pts
        return cls(kind, bytes(packet), pts, dts, bool(packet.is_keyframe), size)

    @property
    def time_base(self) -> Fraction:
        return VIDEO_CLOCK if self.kind == VIDEO else AUDIO_CLOCK

    @property
    def seconds(self) -> Fraction:
        return self.pts * self.time_base


class DroppingQueue:
    """A bounded FIFO whose `put` never blocks: a full queue drops the item."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._items: deque[Any] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, item: Any) -> bool:
        with self._ready:
            if self._closed or len(self._items) >= self.capacity:
                self.dropped += 1
                return False
            self._items.append(item)
            self._ready.notify()
            return True

    def get(self, timeout: float | None = None) -> Any | None:
        """The next item; None once closed and drained (or after `timeout`)."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout)
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._ready:
            self._items.clear()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class MuxSink:
    """Muxes offered packets on its own thread; subclasses say where to.

    `status` is "connecting" until the container is open, "live" while it
    writes, "ended" after a clean close and "failed" (with `error`) when the
    container could not be opened or written.
    """

    label = "output"
    container_format = ""
    # Whether a new picture size starts a new container (a new part); if not, the
    # stream keeps the size it opened with and the new SPS travels in-band.
    split_on_resize = True
    # Whether later parts keep the first part's timeline (else each starts at zero).
    continuous_timeline = False

    def __init__(self, width: int, height: int, fps: int, capacity: int = DEFAULT_CAPACITY):
        self.width, self.height, self.fps = width, height, fps
        self.queue = DroppingQueue(capacity)
        self.status = "connecting"
        self.error: str | None = None
        self.packets_written = 0
        self.parts = 0  # containers opened so far
        self._resync = False
        self._thread = threading.Thread(target=self._run, name=f"out-{self.label}", daemon=True)
        self._thread.start()

    # Called from the room's threads.
    def offer(self, packet: EncodedPacket) -> None:
        if not self.queue.put(packet):
            self._resync = True  # a video packet may be lost: wait for a keyframe

    def close(self) -> None:
        """Finish what is queued, then close the container (non-blocking)."""
        self.queue.close()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # Subclass hooks, run on the sink's thread.
    def open_container(self) -> av.container.OutputContainer:
        """Open the next container; `self.parts` counts the earlier ones."""
        raise NotImplementedError

    def container_closed(self, last: bool) -> None:
        """The container is finished (a file is complete); `last`: no part follows."""

    def _run(self) -> None:
        try:
            self.write_until_closed()
            if self.status != "failed":
                self.status = "ended"
        except Exception as error:
            self.fail(error)

    def fail(self, error: Exception) -> None:
        logger.warning("%s failed: %s", self.label, error)
        self.status = "failed"
        self.error = describe(error)

    def write_until_closed(self) -> None:
        """Open at the first keyframe, mux until the queue closes, then finish.

        A keyframe of another picture size closes the container and opens the
        next part (when `split_on_resize`).
        """
        writer: _Writer | None = None
        origin: Fraction | None = None
        try:
            while (packet := self.queue.get()) is not None:
                resized = (
                    self.split_on_resize
                    and writer is not None
                    and packet.kind == VIDEO
                    and packet.size not in (None, writer.size)
                )
                if packet.kind == VIDEO and (self._resync or writer is None or resized):
                    if not packet.keyframe:
                        continue
                    self._resync = False
                if resized and writer is not None:
                    self._finish(writer, last=False)
                    writer = None
                if writer is None:
                    if packet.kind != VIDEO:
                        continue
                    if origin is None or not self.continuous_timeline:
                        origin = packet.seconds
                    writer = _Writer(self, origin, packet.size or (self.width, self.height))
                    self.parts += 1
                    self.status = "live"
                writer.write(packet)
                self.packets_written += 1
        finally:
            if writer is not None:
                self._finish(writer, last=True)

    def _finish(self, writer: _Writer, last: bool) -> None:
        writer.close()
        self.container_closed(last)


class _Writer:
    """An open container: streams made for packets encoded elsewhere."""

    def __init__(self, sink: MuxSink, origin: Fraction, size: tuple[int, int]) -> None:
        self._origin = origin
        self.size = size
        self._last_dts: dict[str, int] = {}
        container = sink.open_container()
        try:
            # No codec context for video: the packets are muxed exactly as encoded
            # (PyAV takes SPS/PPS from the first keyframe for formats that need them).
            width, height = size
            video = container.add_mux_stream("h264", rate=sink.fps, width=width, height=height)
            video.time_base = VIDEO_CLOCK
            # An AAC stream object carries the AudioSpecificConfig the muxers need;
            # it never encodes (the hub's one AAC encoder does).
            audio = container.add_stream("aac", rate=48000, layout=AAC_LAYOUT)
        except Exception:
            container.close()
            raise
        self._container = container
        self._streams = {VIDEO: video, AUDIO: audio}

    def write(self, encoded: EncodedPacket) -> None:
        shift = int(self._origin / encoded.time_base)
        pts, dts = encoded.pts - shift, encoded.dts - shift
        if dts < 0 or dts <= self._last_dts.get(encoded.kind, -1):
            return  # before this output began, or out of order after a drop
        self._last_dts[encoded.kind] = dts
        packet = av.Packet(encoded.data)
        packet.pts, packet.dts = pts, dts
        packet.time_base = encoded.time_base
        packet.is_keyframe = encoded.keyframe
        packet.stream = self._streams[encoded.kind]
        self._container.mux(packet)

    def close(self) -> None:
        try:
            self._container.close()
        except Exception as error:  # a broken pipe at the end loses nothing written
            logger.info("closing an output: %s", error)
