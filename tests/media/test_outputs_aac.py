"""The outputs' one AAC encode: what comes out decodes to the mix that went in."""

from __future__ import annotations

import av
import numpy as np

from media.mixer import SAMPLES_PER_TICK
from media.outputs.hub import AAC_FRAME_SAMPLES, AacEncoder

RATE = 48000


def stereo_tone(ticks: int, hz: float, amplitude: int, first_tick: int = 0) -> list[np.ndarray]:
    """`ticks` 20 ms int32 (samples, 2) mixes of a tone, as the mixer hands them over."""
    mixes = []
    for tick in range(first_tick, first_tick + ticks):
        t = (np.arange(SAMPLES_PER_TICK) + tick * SAMPLES_PER_TICK) / RATE
        wave = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int32)
        mixes.append(np.stack([wave, wave], axis=1))
    return mixes


def encode_and_decode(mixes: list[np.ndarray], first_pts: int) -> tuple[list[int], np.ndarray]:
    """Packet pts and the decoded mono samples of `mixes` through one AacEncoder."""
    encoder = AacEncoder()
    packets = []
    for index, mix in enumerate(mixes):
        packets += encoder.encode(mix, first_pts + index * SAMPLES_PER_TICK)
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = encoder._context.extradata
    samples = [frame.to_ndarray()[0] for packet in packets for frame in decoder.decode(packet)]
    return [packet.pts for packet in packets], np.concatenate(samples)


def test_a_stereo_tone_comes_back_as_the_same_mono_tone_in_whole_frames() -> None:
    mixes = stereo_tone(150, 440.0, 8000)  # 3 s
    pts, decoded = encode_and_decode(mixes, first_pts=0)

    # Every 1024-sample frame of the 3 s made a packet, in order, on the mix's clock
    # (the first ones carry the encoder's priming delay).
    assert len(pts) >= 150 * SAMPLES_PER_TICK // AAC_FRAME_SAMPLES - 10
    steps = np.diff(pts)
    assert set(steps.tolist()) == {AAC_FRAME_SAMPLES}
    settled = decoded[RATE // 2 : RATE * 2]  # past the priming, before the batch tail
    spectrum = np.abs(np.fft.rfft(settled))
    peak_hz = np.argmax(spectrum) * RATE / len(settled)
    assert abs(peak_hz - 440.0) < 2.0
    # Stereo L=R averaged to mono keeps the level: amplitude 8000 of 32768.
    rms = float(np.sqrt(np.mean(settled**2)))
    assert abs(rms - 8000 / 32768 / np.sqrt(2)) < 0.02


def test_the_packets_follow_the_pts_of_the_first_mix() -> None:
    first = 480_000  # a room whose outputs started 10 s into the show
    pts, _decoded = encode_and_decode(stereo_tone(60, 300.0, 4000, first_tick=500), first)
    assert pts and min(pts) >= first - 2 * AAC_FRAME_SAMPLES  # priming may start a little early
    assert max(pts) < first + 60 * SAMPLES_PER_TICK


def test_a_loud_mix_is_clipped_not_wrapped() -> None:
    mixes = stereo_tone(100, 440.0, 120_000)  # far above 16 bits: several voices summed
    _pts, decoded = encode_and_decode(mixes, first_pts=0)
    settled = decoded[RATE // 2 :]
    assert np.max(np.abs(settled)) < 1.3  # clipped to full scale (plus codec ringing)
    assert float(np.sqrt(np.mean(settled**2))) > 0.6  # a clipped sine is nearly square
