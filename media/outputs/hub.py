"""The room's side of the outputs: one AAC encode, packets offered to every sink."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from media.encoder import AUDIO_CLOCK
from media.outputs.files import HlsSink, RecordingSink
from media.outputs.rtmp import RtmpSink
from media.outputs.sink import AAC_BITRATE, AAC_LAYOUT, AUDIO, VIDEO, EncodedPacket, MuxSink

logger = logging.getLogger(__name__)

AAC_FRAME_SAMPLES = 1024  # what one AAC frame holds, per channel
# Frames encoded together (~170 ms): the encoder's code and tables stay in the
# cache between frames; outputs are seconds behind live, so the delay is free.
AAC_BATCH_FRAMES = 8


@dataclass(frozen=True)
class OutputPlan:
    """Which outputs a live stream has: directories for HLS and the recording."""

    hls_dir: Path | None = None
    recording_dir: Path | None = None
    destinations: dict[str, str] = field(default_factory=dict)  # id -> RTMP URL


class AacEncoder:
    """The one AAC encoder of a stream's outputs (48 kHz, AAC_LAYOUT, AAC_BITRATE).

    FFmpeg's native encoder with its `fast` coder: about half the CPU of the
    default `twoloop` at the same bitrate (docs/benchmarks.md). The mix is
    downmixed to mono float here and cut into the encoder's whole 1024-sample
    frames, so PyAV's resampler only ever passes frames through unchanged;
    frames are encoded AAC_BATCH_FRAMES at a time.
    """

    def __init__(self, bitrate: int = AAC_BITRATE) -> None:
        context = av.CodecContext.create("aac", "w")
        context.sample_rate = 48000
        context.layout = AAC_LAYOUT
        context.format = "fltp"
        context.time_base = AUDIO_CLOCK
        context.bit_rate = bitrate
        context.options = {"aac_coder": "fast"}
        self._context = context
        self._pending = np.empty(0, dtype=np.float32)  # mono samples not yet in a frame
        self._next_pts: int | None = None

    def encode(self, mix: np.ndarray, pts: int) -> list[av.Packet]:
        """Add an int32 (samples, channels) mix at `pts`; encode each whole frame."""
        if self._next_pts is None:
            self._next_pts = pts
        mono = mix.sum(axis=1, dtype=np.float32)
        mono *= 1.0 / (32768 * mix.shape[1])
        np.clip(mono, -1.0, 1.0, out=mono)
        pending = np.concatenate((self._pending, mono)) if self._pending.size else mono
        frame_size = AAC_FRAME_SAMPLES
        whole = pending.size // frame_size * frame_size
        if whole < frame_size * AAC_BATCH_FRAMES:
            self._pending = pending
            return []
        packets: list[av.Packet] = []
        for start in range(0, whole, frame_size):
            samples = pending[start : start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=AAC_LAYOUT)
            frame.sample_rate = 48000
            frame.pts = self._next_pts
            self._next_pts += frame_size
            packets.extend(self._context.encode(frame))
        self._pending = pending[whole:].copy()
        return packets


class OutputHub:
    """Owns a room's output sinks; fed from the room's video and audio threads."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.sinks: dict[str, MuxSink] = {}
        self._aac: AacEncoder | None = None
        self._plan = OutputPlan()

    @property
    def active(self) -> bool:
        return bool(self.sinks)

    @property
    def plan(self) -> OutputPlan:
        return self._plan

    def apply(self, plan: OutputPlan) -> None:
        """Start the outputs `plan` adds, stop those it drops (loop thread)."""
        wanted: dict[str, tuple[type, Path | str]] = {}
        if plan.hls_dir is not None:
            wanted["hls"] = (HlsSink, plan.hls_dir)
        if plan.recording_dir is not None:
            wanted["recording"] = (RecordingSink, plan.recording_dir)
        for dest_id, url in plan.destinations.items():
            wanted[f"rtmp:{dest_id}"] = (RtmpSink, url)
        for key in list(self.sinks):
            if key not in wanted:
                self.sinks.pop(key).close()
        for key, (kind, target) in wanted.items():
            if key not in self.sinks:
                self.sinks[key] = kind(target, self.width, self.height, self.fps)
        self._plan = plan

    def sink(self, key: str) -> MuxSink | None:
        return self.sinks.get(key)

    def video(self, packets: list[av.Packet], size: tuple[int, int]) -> None:
        """Offer the composite's encoded packets of a `size` picture (video thread)."""
        sinks = tuple(self.sinks.values())
        if not sinks:
            return
        for packet in packets:
            encoded = EncodedPacket.of(VIDEO, packet, size)
            for sink in sinks:
                sink.offer(encoded)

    def audio(self, mix: np.ndarray, pts: int) -> None:
        """Encode 20 ms of the full mix to AAC once and offer it (audio thread)."""
        sinks = tuple(self.sinks.values())
        if not sinks:
            return
        if self._aac is None:
            self._aac = AacEncoder()
        for packet in self._aac.encode(mix, pts):
            if packet.pts is None or packet.pts < 0:
                continue  # AAC's priming samples
            encoded = EncodedPacket.of(AUDIO, packet)
            for sink in sinks:
                sink.offer(encoded)

    def close(self) -> list[MuxSink]:
        """Stop every output; returns them (their threads finish the files)."""
        closing = list(self.sinks.values())
        self.sinks.clear()
        for sink in closing:
            sink.close()
        return closing
