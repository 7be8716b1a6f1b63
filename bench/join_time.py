"""Join time: WHEP POST -> first decoded frame at a new viewer, repeated.

The server (bench/serve.py) runs in its own process; this process publishes
moving 640x360 video as the host and opens one decoding aiortc viewer at a
time (the offer is made before the clock starts: the time runs from the
POST to the first frame out of the viewer's decoder). Between joins the
viewer leaves and the room idles for --gap seconds.

    .venv/bin/python bench/join_time.py --joins 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import MovingTrack, go_live, loopback_only, machine, start_bench_server  # noqa: E402
from tests.helpers.peers import HttpSignal, Viewer  # noqa: E402

TARGET_MS = 300.0


class TimedSignal(HttpSignal):
    """HttpSignal that notes when the POST left and when the answer came back."""

    async def __call__(self, offer: str) -> str:
        self.posted = time.perf_counter()
        answer = await super().__call__(offer)
        self.answered = time.perf_counter()
        return answer


async def join(url: str, stream_id: str) -> dict[str, float]:
    viewer = Viewer()
    connected: list[float] = []
    viewer.pc.on(
        "connectionstatechange",
        lambda: (
            connected.append(time.perf_counter())
            if viewer.pc.connectionState == "connected"
            else None
        ),
    )
    signal = TimedSignal(url, f"/whep/{stream_id}")
    try:
        await viewer.start(signal)
        await viewer.wait_for(lambda: viewer.frames > 0, timeout=10)
        return {
            "answer": signal.answered - signal.posted,
            "connected": connected[0] - signal.posted if connected else float("nan"),
            "first_frame": viewer.first_frame_at - signal.posted,
        }
    finally:
        await viewer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=10)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between joins")
    parser.add_argument(
        "--busy",
        action="store_true",
        help="keep one other viewer watching, so joins land in a room already encoding",
    )
    args = parser.parse_args()
    loopback_only()
    print(machine())
    server = await start_bench_server()
    try:
        show = await go_live(server.url, MovingTrack(seed=2))
        await asyncio.sleep(1.0)  # the host's video reaches the room
        if args.busy:
            other = await Viewer().start(HttpSignal(server.url, f"/whep/{show.stream_id}"))
            await other.wait_for(lambda: other.frames > 0)
        results = []
        for index in range(args.joins):
            result = await join(server.url, show.stream_id)
            results.append(result)
            print(
                f"join {index + 1:2d}: answer {result['answer'] * 1000:6.1f} ms, connected"
                f" {result['connected'] * 1000:6.1f} ms, first frame"
                f" {result['first_frame'] * 1000:6.1f} ms",
                flush=True,
            )
            await asyncio.sleep(args.gap)
        if args.busy:
            await other.close()
        await show.publisher.close()
    finally:
        await server.stop()
    for key in ("answer", "connected", "first_frame"):
        ms = [r[key] * 1000 for r in results]
        print(
            f"{key:12s} min {min(ms):6.1f}  median {statistics.median(ms):6.1f}"
            f"  max {max(ms):6.1f} ms"
        )
    median = statistics.median(r["first_frame"] * 1000 for r in results)
    verdict = "met" if median <= TARGET_MS else "NOT met"
    print(f"target first frame <= {TARGET_MS:.0f} ms (median): {verdict} ({median:.0f} ms)")
    print(machine().split(", ")[-1])


if __name__ == "__main__":
    asyncio.run(main())
