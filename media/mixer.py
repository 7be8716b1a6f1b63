"""Audio mixer on its own 20 ms clock: a stalled source is silence, never a stall.

Each source is resampled to 48 kHz stereo s16 into a bounded buffer; every
tick takes 960 samples (or silence) from each, sums in int32 and clips.
Mix-minus feeds (everyone but one source) come from the same tick.
"""

from __future__ import annotations

from collections import deque

import av
import numpy as np
from av.audio.resampler import AudioResampler

SAMPLE_RATE = 48000
SAMPLES_PER_TICK = 960  # 20 ms
CHANNELS = 2
# A source more than this far ahead of the mix loses its oldest audio.
MAX_BUFFERED_TICKS = 10


class AudioSource:
    """One publisher's audio, resampled and buffered for the mixer."""

    def __init__(self) -> None:
        self._resampler = AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
        self._chunks: deque[np.ndarray] = deque()
        self._buffered = 0

    def push(self, frame: av.AudioFrame) -> None:
        """Add a decoded frame (any format, layout or rate)."""
        frame.pts = None  # the buffer is the clock; gaps must not raise
        for resampled in self._resampler.resample(frame):
            samples = resampled.to_ndarray().reshape(-1, CHANNELS)
            self._chunks.append(samples)
            self._buffered += len(samples)
        while self._buffered > MAX_BUFFERED_TICKS * SAMPLES_PER_TICK:
            self._buffered -= len(self._chunks.popleft())

    def take(self) -> np.ndarray | None:
        """The next 20 ms as int32 (samples, channels), or None when starved."""
        if self._buffered < SAMPLES_PER_TICK:
            return None
        out = np.empty((SAMPLES_PER_TICK, CHANNELS), np.int32)
        filled = 0
        while filled < SAMPLES_PER_TICK:
            chunk = self._chunks[0]
            count = min(len(chunk), SAMPLES_PER_TICK - filled)
            out[filled : filled + count] = chunk[:count]
            if count == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[count:]
            filled += count
        self._buffered -= SAMPLES_PER_TICK
        return out


def pcm_frame(mix: np.ndarray, pts: int) -> av.AudioFrame:
    """An s16 stereo AudioFrame from an int32 (samples, channels) sum, clipped."""
    clipped = np.clip(mix, -32768, 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(clipped.reshape(1, -1), format="s16", layout="stereo")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    return frame


class AudioMixer:
    """Sums the sources of one stream, with a feed per listener kind."""

    def __init__(self) -> None:
        self.sources: dict[str, AudioSource] = {}

    def add(self, source_id: str, source: AudioSource) -> None:
        self.sources[source_id] = source

    def remove(self, source_id: str) -> None:
        self.sources.pop(source_id, None)

    def tick(self, feeds: list[str | None]) -> dict[str | None, np.ndarray]:
        """One 20 ms step: for each feed, the mix of every source but that one.

        A feed named None is the full mix; a feed named after a source is its
        mix-minus (what that publisher hears without its own voice).
        """
        taken = {sid: source.take() for sid, source in list(self.sources.items())}
        full = np.zeros((SAMPLES_PER_TICK, CHANNELS), np.int32)
        for samples in taken.values():
            if samples is not None:
                full += samples
        out: dict[str | None, np.ndarray] = {}
        for feed in feeds:
            own = taken.get(feed) if feed is not None else None
            out[feed] = full - own if own is not None else full
        return out
