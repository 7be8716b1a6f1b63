"""The one encoder per stream and rendition, shared by every viewer."""

from __future__ import annotations

import time
from fractions import Fraction

import av
from av.video.frame import PictureType

VIDEO_CLOCK = Fraction(1, 90000)
AUDIO_CLOCK = Fraction(1, 48000)


class KeyframeGate:
    """Rate-limits keyframe requests: many PLIs, at most `per_second` IDRs."""

    def __init__(self, per_second: float = 2.0) -> None:
        self._min_gap = 1.0 / per_second
        self._last = -1e9
        self._pending = False

    def request(self) -> None:
        self._pending = True

    def take(self, now: float) -> bool:
        """Whether the frame encoded at `now` must be a keyframe."""
        if self._pending and now - self._last >= self._min_gap:
            self._pending = False
            self._last = now
            return True
        return False

    def note_keyframe(self, now: float) -> None:
        """A periodic keyframe also satisfies pending requests."""
        self._pending = False
        self._last = now


class VideoEncoder:
    """libx264, constrained baseline, zero latency, VBV-capped keyframes."""

    def __init__(self, width: int, height: int, fps: int, bitrate: int, keyframe_interval: float):
        self.keyframes = KeyframeGate()
        self.frames_encoded = 0
        self.keyframes_forced = 0
        self._fps, self._bitrate, self._keyframe_interval = fps, bitrate, keyframe_interval
        self.resize(width, height)
        # x264 counts frames; a loaded clock makes fewer frames per second, so the
        # interval is also kept in time (HLS segments end at keyframes: <= interval).
        self._keyframe_ticks = round(keyframe_interval / VIDEO_CLOCK)
        self._frame_ticks = round(1 / (fps * VIDEO_CLOCK))
        self._last_keyframe_pts: int | None = None
        self._last_pts: int | None = None

    def resize(self, width: int, height: int) -> None:
        """A new x264 for a new picture size (its first frame is an IDR with new SPS)."""
        self.width, self.height = width, height
        fps, bitrate = self._fps, self._bitrate
        gop = max(1, round(fps * self._keyframe_interval))
        kbps = bitrate // 1000
        context = av.CodecContext.create("libx264", "w")
        context.width = width
        context.height = height
        context.pix_fmt = "yuv420p"
        context.time_base = VIDEO_CLOCK
        context.framerate = Fraction(fps, 1)
        context.bit_rate = bitrate
        context.thread_count = 1
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:"
                f"vbv-maxrate={kbps}:vbv-bufsize={kbps // 2}"
            ),
        }
        self._context = context

    def _keyframe_due(self, pts: int) -> bool:
        """Whether waiting for the next frame would pass the interval (by the last gap)."""
        last_key, previous = self._last_keyframe_pts, self._last_pts
        if last_key is None or previous is None:
            return False
        gap = max(self._frame_ticks, pts - previous)
        return pts - last_key + gap > self._keyframe_ticks

    def encode(self, frame: av.VideoFrame, pts: int) -> list[av.Packet]:
        """Encode one composite frame (`pts` in 1/90000). Runs off the loop."""
        now = time.monotonic()
        frame.pts = pts
        frame.time_base = VIDEO_CLOCK
        if self.keyframes.take(now):
            frame.pict_type = PictureType.I
            self.keyframes_forced += 1
        elif self._keyframe_due(pts):
            frame.pict_type = PictureType.I
        self._last_pts = pts
        packets = self._context.encode(frame)
        self.frames_encoded += 1
        for packet in packets:
            packet.time_base = VIDEO_CLOCK
            if packet.is_keyframe:
                self.keyframes.note_keyframe(now)
                self._last_keyframe_pts = packet.pts
        return packets


class AudioEncoder:
    """libopus, 48 kHz stereo, 20 ms frames."""

    def __init__(self, bitrate: int = 64000) -> None:
        context = av.CodecContext.create("libopus", "w")
        context.sample_rate = 48000
        context.layout = "stereo"
        context.format = "s16"
        context.time_base = AUDIO_CLOCK
        context.bit_rate = bitrate
        self._context = context

    def encode(self, frame: av.AudioFrame) -> list[av.Packet]:
        packets = self._context.encode(frame)
        for packet in packets:
            packet.time_base = AUDIO_CLOCK
        return packets
