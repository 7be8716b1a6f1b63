"""The mixer: resampled sources summed per tick; a stalled source is silence."""

from __future__ import annotations

import av
import numpy as np

from media.mixer import MAX_BUFFERED_TICKS, SAMPLES_PER_TICK, AudioMixer, AudioSource, pcm_frame


def tone(value: int, samples: int, rate: int = 48000, layout: str = "stereo") -> av.AudioFrame:
    channels = 2 if layout == "stereo" else 1
    data = np.full((1, samples * channels), value, np.int16)
    frame = av.AudioFrame.from_ndarray(data, format="s16", layout=layout)
    frame.sample_rate = rate
    return frame


def mixer_with(**sources: AudioSource) -> AudioMixer:
    mixer = AudioMixer()
    for name, source in sources.items():
        mixer.add(name, source)
    return mixer


def test_sources_are_summed_and_mix_minus_leaves_out_the_listener() -> None:
    host, cohost = AudioSource(), AudioSource()
    host.push(tone(1000, SAMPLES_PER_TICK))
    cohost.push(tone(300, SAMPLES_PER_TICK))
    mixes = mixer_with(host=host, cohost=cohost).tick([None, "host", "cohost"])
    assert (mixes[None] == 1300).all()
    assert (mixes["host"] == 300).all()
    assert (mixes["cohost"] == 1000).all()


def test_a_stalled_source_is_silence_and_does_not_stall_the_mix() -> None:
    host, cohost = AudioSource(), AudioSource()
    host.push(tone(1000, SAMPLES_PER_TICK * 3))
    mixer = mixer_with(host=host, cohost=cohost)
    for _ in range(3):
        assert (mixer.tick([None])[None] == 1000).all()
    assert (mixer.tick([None])[None] == 0).all()  # both starved: silence, no wait


def test_other_rates_and_mono_are_resampled_to_48k_stereo() -> None:
    source = AudioSource()
    for _ in range(10):
        source.push(tone(2000, 441, rate=44100, layout="mono"))  # 100 ms
    taken = [source.take() for _ in range(5)]
    assert all(t is not None and t.shape == (SAMPLES_PER_TICK, 2) for t in taken[:4])
    # Mono goes to both channels at -3 dB (FFmpeg's default pan law).
    assert abs(int(np.median(taken[2])) - 2000 / np.sqrt(2)) < 50


def test_a_source_far_ahead_loses_its_oldest_audio() -> None:
    source = AudioSource()
    source.push(tone(5, SAMPLES_PER_TICK * (MAX_BUFFERED_TICKS + 20)))
    ticks = 0
    while source.take() is not None:
        ticks += 1
    assert ticks <= MAX_BUFFERED_TICKS


def test_the_sum_is_clipped_not_wrapped() -> None:
    frame = pcm_frame(np.full((SAMPLES_PER_TICK, 2), 40000, np.int32), pts=0)
    assert (frame.to_ndarray() == 32767).all()
