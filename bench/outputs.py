"""Extra CPU per output at 720p30: HLS, recording, one RTMP destination, the lower
third and the QR guard, each as % of one core.

Drives the media pieces as Room does, paced in real time at 30 fps (audio
ticks every 20 ms): two moving sources composed and encoded once, then the
OutputHub (AAC once, packet copies) feeding HLS, MP4 and RTMP sinks on their
own threads, the lower third painted and the QR guard sampling every 2 s.
Each cost is measured where it is spent: the calls made on the video thread
(thread CPU time around them) and each output's own thread (its CPU clock).
The RTMP destination is Debian's nginx with its RTMP module on loopback.

    .venv/bin/python bench/outputs.py --seconds 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.common import machine, moving_frame  # noqa: E402
from media.compositor import Compositor  # noqa: E402
from media.config import MediaConfig  # noqa: E402
from media.encoder import VideoEncoder  # noqa: E402
from media.mixer import SAMPLES_PER_TICK  # noqa: E402
from media.outputs import OutputHub, OutputPlan  # noqa: E402
from media.outputs.overlay import LowerThird, LowerThirdPainter  # noqa: E402
from media.outputs.qrguard import QrGuard  # noqa: E402
from tests.helpers.nginx import start_rtmp_ingest  # noqa: E402

TARGET_HLS_AND_RECORDING = 5.0  # % of a core


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds a (running) thread has used."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class Meter:
    """Thread CPU spent inside `with meter:` blocks on the calling thread."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> None:
        self._start = time.thread_time()

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.thread_time() - self._start


NOISE = np.random.default_rng(12).normal(0, 1500, (50, SAMPLES_PER_TICK, 2)).astype(np.int32)


def tone(tick: int) -> np.ndarray:
    """20 ms of a warbling 440 Hz tone over room noise, like a mic (a pure tone is too easy)."""
    t = (np.arange(SAMPLES_PER_TICK) + tick * SAMPLES_PER_TICK) / 48000
    wave = (6000 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.int32
    )
    return np.stack([wave, wave], axis=1) + NOISE[tick % len(NOISE)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    config = MediaConfig()
    workdir = Path(tempfile.mkdtemp(prefix="costream-bench-outputs-"))
    ingest = start_rtmp_ingest(workdir / "nginx-rtmp")
    compositor = Compositor(config.width, config.height)
    encoder = VideoEncoder(
        config.width, config.height, config.fps, config.video_bitrate, config.keyframe_interval
    )
    hub = OutputHub(config.width, config.height, config.fps)
    hub.apply(
        OutputPlan(
            hls_dir=workdir / "hls",
            recording_dir=workdir / "recordings",
            destinations={"bench": f"rtmp://127.0.0.1:{ingest.port}/live/bench"},
        )
    )
    painter = LowerThirdPainter()
    painter.current = LowerThird("Levi's 501 vintage denim, W32 L34", "$45.00")
    guard = QrGuard(lambda payload: None)
    base = {key: thread_cpu(sink._thread) for key, sink in hub.sinks.items()}
    meters = {name: Meter() for name in ("compose+encode", "packets", "aac", "overlay", "qr")}

    frames, ticks = 0, 0
    started = time.perf_counter()
    try:
        while (now := time.perf_counter() - started) < args.seconds:
            sources = [(seat, moving_frame(frames, n)) for n, seat in enumerate(("host", "cohost"))]
            with meters["compose+encode"]:
                composite = compositor.compose(sources)
            with meters["qr"]:
                guard.sample(composite)
            with meters["overlay"]:
                painter.paint(composite)
            with meters["compose+encode"]:
                packets = encoder.encode(composite, round(now * 90000))
            with meters["packets"]:
                hub.video(packets, (config.width, config.height))
            while ticks * 0.02 <= now:  # the audio clock's 20 ms ticks so far
                mix = tone(ticks)
                with meters["aac"]:
                    hub.audio(mix, ticks * SAMPLES_PER_TICK)
                ticks += 1
            frames += 1
            time.sleep(max(0.0, frames / config.fps - (time.perf_counter() - started)))
        wall = time.perf_counter() - started
        sink_cpu = {key: thread_cpu(sink._thread) - base[key] for key, sink in hub.sinks.items()}
        statuses = {key: (sink.status, sink.queue.dropped) for key, sink in hub.sinks.items()}
    finally:
        for sink in hub.close():
            sink.join(10)
        guard.close()
        ingest.stop()

    def pct(seconds: float) -> float:
        """Time-driven work (audio ticks, QR samples): share of a core over the run."""
        return seconds / wall * 100

    def pct30(seconds: float) -> float:
        """Frame-driven work, scaled to 30 fps (a loaded machine may not keep up)."""
        return seconds / frames * config.fps * 100

    sinks = len(statuses)
    per_copy = meters["packets"].seconds / sinks  # each sink gets its own packet copies
    aac = meters["aac"].seconds
    print(machine())
    print(
        f"{frames} frames in {wall:.1f} s ({frames / wall:.1f} fps), "
        f"{config.width}x{config.height}, outputs {statuses}"
    )
    print("frame-driven figures are scaled to 30 fps; AAC and QR are per second of the run")
    encode = pct30(meters["compose+encode"].seconds)
    print(f"compose+encode (the one encode, for reference): {encode:5.2f}% of a core")
    print(f"AAC audio, once per stream (shared by outputs):  {pct(aac):5.2f}%")
    for key, label in (("hls", "HLS"), ("recording", "recording (MP4)"), ("rtmp:bench", "RTMP")):
        thread, copies = pct30(sink_cpu[key]), pct30(per_copy)
        print(f"{label:16s} muxing thread {thread:5.2f}% + copies {copies:4.2f}%")
    print(
        f"lower third (paint per frame):                   {pct30(meters['overlay'].seconds):5.2f}%"
    )
    qr = meters["qr"].seconds + guard.busy_seconds
    print(f"QR guard ({guard.samples} samples, 1 per {guard.interval:.0f} s): {pct(qr):5.2f}%")
    muxing = pct30(sink_cpu["hls"] + sink_cpu["recording"] + 2 * per_copy)
    together = muxing + pct(aac)
    verdict = "meets" if together <= TARGET_HLS_AND_RECORDING else "MISSES"
    print(
        f"HLS + recording together: muxing {muxing:.2f}%, with the AAC encode {together:.2f}% "
        f"of a core ({verdict} the {TARGET_HLS_AND_RECORDING:.0f}% target)"
    )


if __name__ == "__main__":
    main()
