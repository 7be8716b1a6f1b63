"""Composite + encode CPU per frame at 720p30 with two moving publishers.

Drives media.compositor.Compositor and media.encoder.VideoEncoder directly,
as Room._compose_and_encode does, on decoded-like yuv420p 1280x720 frames
whose content moves every frame. Prints ms per frame (process CPU and wall)
for compose, encode and both.

    .venv/bin/python bench/composite_encode.py --frames 600
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from av.video.reformatter import VideoReformatter  # noqa: E402

from bench.common import busy_cores, machine, machine_ticks, moving_frame, stats_ms  # noqa: E402
from media.compositor import Compositor  # noqa: E402
from media.config import MediaConfig  # noqa: E402
from media.encoder import VideoEncoder  # noqa: E402

TARGET_MS = 8.0


class ThreadedScaler:
    """A VideoReformatter with another swscale thread count, to compare."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.reformatter = VideoReformatter()

    def reformat(self, frame, **options):
        return self.reformatter.reformat(frame, **{**options, "threads": self.threads})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="measured frames (30 fps)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--sources", type=int, default=2, choices=(1, 2))
    parser.add_argument(
        "--scaler-threads",
        type=int,
        help="compare: pass threads=N to swscale (media/ uses 1; 0 = auto)",
    )
    args = parser.parse_args()

    config = MediaConfig()
    compositor = Compositor(config.width, config.height)
    encoder = VideoEncoder(
        config.width, config.height, config.fps, config.video_bitrate, config.keyframe_interval
    )
    seats = ["host", "cohost"][: args.sources]
    if args.scaler_threads is not None:
        for seat in seats:
            compositor._reformatters[seat] = ThreadedScaler(args.scaler_threads)
    compose_cpu, compose_wall, encode_cpu, encode_wall = [], [], [], []
    encoded_bytes = 0
    total = args.warmup + args.frames
    ticks, started, began = machine_ticks(), time.process_time(), time.perf_counter()
    for index in range(total):
        # The inputs as a decoder would hand them over: fresh frames each tick.
        sources = [(seat, moving_frame(index, n)) for n, seat in enumerate(seats)]
        c0, w0 = time.process_time(), time.perf_counter()
        composite = compositor.compose(sources)
        c1, w1 = time.process_time(), time.perf_counter()
        packets = encoder.encode(composite, index * 3000)
        c2, w2 = time.process_time(), time.perf_counter()
        if index >= args.warmup:
            compose_cpu.append(c1 - c0)
            compose_wall.append(w1 - w0)
            encode_cpu.append(c2 - c1)
            encode_wall.append(w2 - w1)
            encoded_bytes += sum(p.size for p in packets)

    own = (time.process_time() - started) / (time.perf_counter() - began)
    others = busy_cores(ticks, machine_ticks()) - own
    n = args.frames
    total_cpu = (sum(compose_cpu) + sum(encode_cpu)) / n * 1000
    total_wall = (sum(compose_wall) + sum(encode_wall)) / n * 1000
    print(machine())
    if args.scaler_threads is not None:
        print(f"EXPERIMENT: swscale threads={args.scaler_threads}")
    print(
        f"{n} frames {config.width}x{config.height}, {args.sources} moving sources, "
        f"x264 ultrafast/zerolatency, 1 thread, {config.video_bitrate // 1000} kb/s target"
    )
    for name, cpu, wall in (
        ("compose", compose_cpu, compose_wall),
        ("encode", encode_cpu, encode_wall),
    ):
        print(f"{name:8s} cpu {sum(cpu) / n * 1000:6.2f} ms/frame  wall {stats_ms(wall)}")
    totals = [a + b for a, b in zip(compose_wall, encode_wall, strict=True)]
    print(f"total    cpu {total_cpu:6.2f} ms/frame  wall {stats_ms(totals)}")
    print(f"bitrate  {encoded_bytes * 8 / (n / config.fps) / 1e6:.2f} Mb/s at {config.fps} fps")
    print(f"share of one core at {config.fps} fps: {total_cpu * config.fps / 10:.1f}%")
    verdict = "met" if total_cpu <= TARGET_MS else "NOT met"
    print(f"target <= {TARGET_MS} ms/frame (cpu): {verdict} ({total_cpu:.2f} ms)")
    print(f"wall mean {total_wall:.2f} ms/frame; other work on the machine: ~{others:.1f} cores")


if __name__ == "__main__":
    main()
