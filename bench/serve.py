"""The real server (server.app.create_app) in its own process, plus bench probes.

Adds GET /bench/stats (loop lag since the last reset, room counters,
process CPU) and POST /bench/profile/{start,stop} (cProfile of the event
loop thread, written to --profile-out). Loopback ICE only.

    .venv/bin/python bench/serve.py --port 8090 --data-dir /tmp/costream-bench
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402

from server.app import create_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.keys import MEDIA  # noqa: E402

LAG_PERIOD = 0.02


class LoopLag:
    """How late a 20 ms sleep wakes up: a proxy for event-loop saturation."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            self.samples.append(loop.time() - start - LAG_PERIOD)
            del self.samples[:-5000]

    def summary(self) -> dict:
        ms = sorted(s * 1000 for s in self.samples) or [0.0]
        return {
            "p50": ms[len(ms) // 2],
            "p95": ms[int(len(ms) * 0.95)],
            "max": ms[-1],
            "samples": len(self.samples),
        }


def add_bench_routes(app: web.Application, profile_out: Path | None) -> None:
    lag = LoopLag()
    # Thread CPU time, not wall time: preemption by other processes is not counted.
    profiler = cProfile.Profile(time.thread_time)

    async def orphan_watch() -> None:
        parent = os.getppid()
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        os._exit(3)  # the benchmark that started us is gone

    async def lag_ctx(app: web.Application):
        tasks = [asyncio.ensure_future(lag.run()), asyncio.ensure_future(orphan_watch())]
        yield
        for task in tasks:
            task.cancel()

    async def stats(request: web.Request) -> web.Response:
        times = os.times()
        rooms = {
            stream_id: {
                "listeners": room.listeners,
                "video_ticks": room.stats.video_ticks,
                "video_frames_encoded": room.stats.video_frames_encoded,
                "audio_ticks": room.stats.audio_ticks,
            }
            for stream_id, room in request.app[MEDIA].rooms.items()
        }
        body = {
            "time": time.monotonic(),
            "cpu": times.user + times.system,
            "loop_lag_ms": lag.summary(),
            "rooms": rooms,
            "sessions": len(request.app[MEDIA].sessions),
        }
        if request.query.get("reset") == "1":
            lag.samples.clear()
        return web.json_response(body)

    async def profile_start(request: web.Request) -> web.Response:
        profiler.enable()
        return web.Response(text="profiling\n")

    async def profile_stop(request: web.Request) -> web.Response:
        profiler.disable()
        if profile_out is not None:
            profiler.dump_stats(profile_out)
        return web.Response(text=f"written {profile_out}\n")

    app.cleanup_ctx.append(lag_ctx)
    app.router.add_get("/bench/stats", stats)
    app.router.add_post("/bench/profile/start", profile_start)
    app.router.add_post("/bench/profile/stop", profile_stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--profile-out", type=Path)
    # Several bench servers as one cluster: one Redis, one data dir, one secret.
    parser.add_argument("--redis-url")
    parser.add_argument("--secret-key")
    args = parser.parse_args()
    # Every bench viewer comes from 127.0.0.1: lift the per-address and per-stream caps.
    settings = Settings(
        port=args.port,
        data_dir=args.data_dir,
        ice_host_addresses=("127.0.0.1",),
        max_sessions_per_address=10_000,
        max_sessions_per_stream=10_000,
        max_media_sessions=10_000,
        redis_url=args.redis_url,
        secret_key=args.secret_key,
        public_url=f"http://127.0.0.1:{args.port}",
    )
    app = create_app(settings)
    add_bench_routes(app, args.profile_out)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
