"""Glass-to-glass latency: a frame counter stamped in the host's pixels.

The host (this process) stamps a 16-block binary barcode into the top of
each 640x360 luma plane (12-bit counter + 4-bit check) and notes the time
its track hands the frame to aiortc's encoder. A decoding viewer in this
same process reads the barcode from the composite (the host alone fills
the 1280x720 frame) and takes latency = decoded - stamped at the first
frame showing each counter. The server runs in its own process.

    .venv/bin/python bench/glass_to_glass.py --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av  # noqa: E402
import numpy as np  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

from bench.common import (  # noqa: E402
    MovingTrack,
    go_live,
    loopback_only,
    machine,
    start_bench_server,
    stats_ms,
)
from media.compositor import plane_views  # noqa: E402
from tests.helpers.peers import HttpSignal, Viewer  # noqa: E402

TARGET_MS = 150.0
BLOCKS = 16
BAND = 40  # barcode height in the host's 640x360 frame (a 640/16 = 40 px square per bit)


def code(counter: int) -> int:
    value = counter & 0xFFF
    return value | ((value ^ value >> 4 ^ value >> 8) & 0xF) << 12


def uncode(bits: int) -> int | None:
    value = bits & 0xFFF
    return value if code(value) == bits else None


class Stamper:
    """Writes the barcode and remembers when each counter left for the encoder."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}

    def __call__(self, frame: av.VideoFrame, index: int) -> None:
        luma = plane_views(frame)[0]
        width = luma.shape[1] // BLOCKS
        bits = code(index)
        for bit in range(BLOCKS):
            luma[:BAND, bit * width : (bit + 1) * width] = 235 if bits >> bit & 1 else 16
        self.sent[index & 0xFFF] = time.perf_counter()


def read_barcode(frame: av.VideoFrame) -> int | None:
    luma = np.asarray(plane_views(frame)[0])
    band = luma.shape[0] * BAND // 360
    width = luma.shape[1] // BLOCKS
    rows = luma[band // 4 : band * 3 // 4]
    bits = 0
    for bit in range(BLOCKS):
        centre = rows[:, bit * width + width // 4 : (bit + 1) * width - width // 4]
        if centre.mean() > 128:
            bits |= 1 << bit
    return uncode(bits)


class StampViewer(Viewer):
    """tests.helpers.peers.Viewer that reads the barcode of every video frame."""

    def __init__(self, stamper: Stamper) -> None:
        super().__init__()
        self.stamper = stamper
        self.latencies: dict[int, float] = {}
        self.unreadable = 0

    def _on_track(self, track) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.ensure_future(self._read_video(track)))
        else:
            super()._on_track(track)

    async def _read_video(self, track) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.perf_counter()
                self.frames += 1
                counter = read_barcode(frame)
                if counter is None:
                    self.unreadable += 1
                elif counter not in self.latencies and counter in self.stamper.sent:
                    self.latencies[counter] = now - self.stamper.sent[counter]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    loopback_only()
    print(machine())
    stamper = Stamper()
    server = await start_bench_server()
    try:
        show = await go_live(server.url, MovingTrack(seed=3, stamp=stamper))
        viewer = StampViewer(stamper)
        await viewer.start(HttpSignal(server.url, f"/whep/{show.stream_id}"))
        await asyncio.sleep(args.warmup)
        viewer.latencies.clear()
        frames, unreadable = viewer.frames, viewer.unreadable
        await asyncio.sleep(args.seconds)
        latencies = list(viewer.latencies.values())
        frames, unreadable = viewer.frames - frames, viewer.unreadable - unreadable
        await viewer.close()
        await show.publisher.close()
    finally:
        await server.stop()
    print(
        f"{len(latencies)} counters seen in {frames} decoded frames over {args.seconds:.0f} s"
        f" ({unreadable} unreadable barcodes)"
    )
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[int(len(ordered) * 0.95)] * 1000
    print(f"glass-to-glass {stats_ms(latencies)}")
    verdict = "met" if p95 <= TARGET_MS else "NOT met"
    print(f"target p95 <= {TARGET_MS:.0f} ms: {verdict} (p50 {p50:.0f} ms, p95 {p95:.0f} ms)")
    print(machine().split(", ")[-1])


if __name__ == "__main__":
    asyncio.run(main())
