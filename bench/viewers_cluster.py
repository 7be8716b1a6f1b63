"""WebRTC viewers over two processes: one live show, its home encodes once, and each
process fans out to its own viewers (the other process from the home's relayed
composite, over a private Redis).

Two bench/serve.py processes share one data dir, one secret and one redis-server;
this process publishes moving 640x360 video + a tone to the first (the home); one
bench/viewer_client.py process per server adds viewers step by step (default 100,
200 per server). At each step, after a settle time, it prints each server's CPU (%
of one core) and the frames per second each viewer receives: "full frame rate" is
the encoder's 30.

    .venv/bin/python bench/viewers_cluster.py --per-server 100 200 --window 8
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    MovingTrack,
    go_live,
    loopback_only,
    machine,
    process_times,
    start_bench_server,
)
from bench.viewers import ViewerProcess  # noqa: E402
from tests.helpers.cluster import start_redis, stop  # noqa: E402

SECRET = "bench-cluster-secret-0123456789abcdef"


async def viewer_process(url: str, stream_id: str) -> ViewerProcess:
    return ViewerProcess(
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bench" / "viewer_client.py"),
            "--url",
            url,
            "--stream",
            stream_id,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
    )


async def measure(servers: list, clients: list[ViewerProcess], window: float) -> list[dict]:
    """Per server: its CPU over `window` and what its viewers received."""
    cpu0 = [sum(process_times(server.pid)) for server in servers]
    seen0 = [await client.ask("stats") for client in clients]
    started = time.monotonic()
    await asyncio.sleep(window)  # the sampling window itself
    elapsed = time.monotonic() - started
    cpu1 = [sum(process_times(server.pid)) for server in servers]
    seen1 = [await client.ask("stats") for client in clients]
    return [
        {
            "cpu_percent": (c1 - c0) / elapsed * 100,
            "connected": s1["connected"],
            "video_fps": (s1.get("video_frames", 0) - s0.get("video_frames", 0)) / elapsed,
            "client_percent": (s1["cpu"] - s0["cpu"]) / (s1["time"] - s0["time"]) * 100,
        }
        for c0, c1, s0, s1 in zip(cpu0, cpu1, seen0, seen1, strict=True)
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-server", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    loopback_only()
    print(machine())
    started = time.monotonic()
    data_dir = tempfile.TemporaryDirectory(prefix="costream-bench-cluster-")
    redis = start_redis(Path(data_dir.name) / "redis.log")
    servers, clients = [], []
    try:
        cluster = ("--redis-url", redis.url, "--secret-key", SECRET)
        for _ in range(2):
            servers.append(await start_bench_server(*cluster, data_dir=data_dir))
        show = await go_live(servers[0].url, MovingTrack(seed=1))
        for server in servers:
            clients.append(await viewer_process(server.url, show.stream_id))
        per_server = 0
        for count in sorted(args.per_server):
            for client in clients:
                added = await client.ask(f"add {count - per_server}")
                if added["failed"]:
                    print(f"  {added['failed']} viewers failed to connect")
            per_server = count
            await asyncio.sleep(args.settle)  # let the new viewers' first keyframes pass
            rows = await measure(servers, clients, args.window)
            total = sum(row["connected"] for row in rows)
            parts = [
                f"{'home' if index == 0 else 'relay'}: {row['connected']} viewers,"
                f" server {row['cpu_percent']:.0f}% of a core,"
                f" {row['video_fps'] / max(row['connected'], 1):.1f} fps per viewer"
                f" (viewer process {row['client_percent']:.0f}%)"
                for index, row in enumerate(rows)
            ]
            print(f"N={total}: " + " | ".join(parts), flush=True)
        for client in clients:
            await client.ask("quit")
        await show.publisher.close()
    finally:
        for client in clients:
            if client.process.returncode is None:
                client.process.kill()
        for server in servers:
            await server.stop()
        stop(redis.process)
        data_dir.cleanup()
    print(f"done in {time.monotonic() - started:.0f} s; {machine().split(', ')[-1]}")


if __name__ == "__main__":
    asyncio.run(main())
