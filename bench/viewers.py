"""Server CPU per viewer: one live show, N aiortc viewers in another process.

The server (bench/serve.py = create_app + probes) runs in its own process;
this process publishes moving 640x360 video + a tone as the host; a
bench/viewer_client.py process adds viewers step by step (default 1, 25,
50, 100). At each step, after a settle time, the server's utime+stime over
a fixed window gives % of one core; the marginal cost per viewer is
(cpu(N) - cpu(first)) / (N - first).

    .venv/bin/python bench/viewers.py --viewers 1 25 50 100 --window 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    MovingTrack,
    busy_cores,
    go_live,
    loopback_only,
    machine,
    machine_ticks,
    process_cpu,
    process_times,
    start_bench_server,
)

TARGET_PERCENT = 0.33


class ViewerProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, line: str, timeout: float = 60) -> dict:
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        return json.loads(raw)


async def measure(server, viewers: ViewerProcess, window: float) -> dict:
    await server.stats(reset=True)
    (user0, sys0), t0, ticks0 = process_times(server.pid), time.monotonic(), machine_ticks()
    cpu0 = user0 + sys0
    me0 = process_cpu(os.getpid())
    room0 = await server.stats()
    seen0 = await viewers.ask("stats")
    await asyncio.sleep(window)
    (user1, sys1), t1, ticks1 = process_times(server.pid), time.monotonic(), machine_ticks()
    cpu1 = user1 + sys1
    me1 = process_cpu(os.getpid())
    room1 = await server.stats()
    seen1 = await viewers.ask("stats")
    elapsed = t1 - t0
    (room_a,), (room_b,) = room0["rooms"].values(), room1["rooms"].values()

    viewer_proc = (seen1["cpu"] - seen0["cpu"]) / (seen1["time"] - seen0["time"])

    def rate(key: str) -> float:
        return (seen1.get(key, 0) - seen0.get(key, 0)) / elapsed

    return {
        "server_percent": (cpu1 - cpu0) / elapsed * 100,
        "server_sys_percent": (sys1 - sys0) / elapsed * 100,
        "viewer_proc_percent": viewer_proc * 100,
        "publisher_percent": (me1 - me0) / elapsed * 100,
        # Cores busy with work outside this benchmark's three processes.
        "others_cores": busy_cores(ticks0, ticks1)
        - (cpu1 - cpu0 + me1 - me0) / elapsed
        - viewer_proc,
        "encoded_fps": (room_b["video_frames_encoded"] - room_a["video_frames_encoded"]) / elapsed,
        "connected": seen1["connected"],
        "video_kbps": rate("video_bytes") * 8 / 1000,
        "audio_kbps": rate("audio_bytes") * 8 / 1000,
        "video_fps": rate("video_frames"),
        "packets_per_s": rate("video_packets") + rate("audio_packets"),
        "lag": room1["loop_lag_ms"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 25, 50, 100])
    parser.add_argument("--window", type=float, default=8.0, help="seconds of CPU sampling")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--budget", type=float, default=50.0, help="start no step after this")
    parser.add_argument(
        "--receive",
        choices=("light", "aiortc", "decode"),
        default="light",
        help="viewer receive path (see bench/viewer_client.py)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the server loop during the"
        " last window into this file (inflates the CPU figures)",
    )
    args = parser.parse_args()
    loopback_only()
    print(machine())
    started = time.monotonic()
    extra = []
    if args.profile:
        extra += ["--profile-out", str(args.profile.resolve())]
    server = await start_bench_server(*extra)
    print(f"server pid {server.pid}", flush=True)
    client = None
    try:
        show = await go_live(server.url, MovingTrack(seed=1))
        client = ViewerProcess(
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "bench" / "viewer_client.py"),
                "--url",
                server.url,
                "--stream",
                show.stream_id,
                "--receive",
                args.receive,
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        )
        rows = []
        for count in sorted(args.viewers):
            if time.monotonic() - started > args.budget:
                print(f"stopping before N={count}: over the {args.budget:.0f} s budget")
                break
            added = await client.ask(f"add {count - (rows[-1][0] if rows else 0)}")
            await asyncio.sleep(args.settle)
            last = count == max(args.viewers)
            if args.profile and last:
                await server.post("/bench/profile/start")
            row = await measure(server, client, args.window)
            if args.profile and last:
                await server.post("/bench/profile/stop")
            rows.append((added["viewers"], row))
            lag = row["lag"]
            print(
                f"N={added['viewers']:3d} (failed {added['failed']},"
                f" setup {added['seconds']:.1f} s,"
                f" connected {row['connected']}): server {row['server_percent']:6.1f}% of a core"
                f" ({row['server_sys_percent']:.0f}% in the kernel),"
                f" encoded {row['encoded_fps']:.1f} fps | per viewer: video"
                f" {row['video_kbps'] / added['viewers']:.0f} kb/s"
                f" + audio {row['audio_kbps'] / added['viewers']:.0f} kb/s,"
                f" {row['video_fps'] / added['viewers']:.1f} frames/s,"
                f" {row['packets_per_s'] / added['viewers']:.0f} pkt/s"
                f" | loop lag p50 {lag['p50']:.1f} p95 {lag['p95']:.1f} max {lag['max']:.1f} ms"
                f" | viewer process {row['viewer_proc_percent']:.0f}%,"
                f" publisher {row['publisher_percent']:.0f}%,"
                f" others {row['others_cores'] * 100:.0f}%",
                flush=True,
            )
        await client.ask("quit")
        await show.publisher.close()
    finally:
        if client is not None and client.process.returncode is None:
            client.process.kill()
        await server.stop()

    first_n, first = rows[0]
    print(f"\nmarginal server CPU per viewer (vs N={first_n}):")
    for n, row in rows[1:]:
        per_viewer = (row["server_percent"] - first["server_percent"]) / (n - first_n)
        packets = row["packets_per_s"] - first["packets_per_s"]
        extra_cpu = (row["server_percent"] - first["server_percent"]) / 100
        per_packet_us = extra_cpu / packets * 1e6 if packets else 0.0
        verdict = "met" if per_viewer <= TARGET_PERCENT else "NOT met"
        print(
            f"  N={n:3d}: {per_viewer:.3f}% of a core per viewer, {100 / per_viewer:.0f} viewers"
            f" per core, {per_packet_us:.1f} us per sent packet;"
            f" target <= {TARGET_PERCENT}%: {verdict}"
        )
    print(f"done in {time.monotonic() - started:.0f} s; {machine().split(', ')[-1]}")


if __name__ == "__main__":
    asyncio.run(main())
