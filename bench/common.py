"""Shared bench helpers: moving content, the bench server process, a live show.

Everything talks to 127.0.0.1 only and every peer connection gets an
explicit, empty ICE server list (tests.helpers.peers.new_peer).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import aiohttp
import av
import numpy as np
from aiortc.mediastreams import VideoStreamTrack

from media.compositor import plane_views
from media.ice import restrict_host_addresses
from tests.helpers.api import Api
from tests.helpers.peers import HttpSignal, Publisher, ToneTrack, new_peer

ROOT = Path(__file__).resolve().parents[1]
SHIFT = 512  # the canvas is this much wider/taller than a frame: content loops


def loopback_only() -> None:
    """Clients gather ICE candidates on 127.0.0.1 only, as the server does.

    Call from the main coroutine: SIGTERM (e.g. from `timeout`) then cancels
    it, so that `finally:` blocks stop the child processes.
    """
    restrict_host_addresses(("127.0.0.1",))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cpus, {model}, Python {platform.python_version()}, "
        f"av {av.__version__}, {datetime.datetime.now():%Y-%m-%d %H:%M}, loadavg {load}"
    )


def stats_ms(seconds: list[float]) -> str:
    """min/median/p95/max of durations, in ms."""
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"min {ms[0]:.2f} p50 {statistics.median(ms):.2f} p95 {p95:.2f} max {ms[-1]:.2f} ms"


@cache
def _canvas(seed: int, width: int, height: int) -> list[np.ndarray]:
    """Y, U, V planes of a textured picture SHIFT pixels larger than a frame."""
    rng = np.random.default_rng(seed)
    h, w = height + SHIFT, width + SHIFT
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    luma = 0.5 + 0.2 * np.sin(x / (23 + 7 * seed) + y / 41) + 0.2 * np.sin(y / 17 - x / 61)
    luma = 16 + 219 * luma + rng.normal(0, 10, (h, w))
    chroma = [
        128 + 60 * np.sin(x[::2, ::2] / (31 + k * 11) + y[::2, ::2] / (29 - k * 5))
        for k in (seed, seed + 1)
    ]
    return [np.clip(p, 16, 240).astype(np.uint8) for p in [luma, *chroma]]


def moving_frame(index: int, seed: int = 0, width: int = 1280, height: int = 720) -> av.VideoFrame:
    """A yuv420p frame whose content pans 6 px right and 2 px down per frame."""
    dx, dy = (index * 6) % SHIFT & ~1, (index * 2) % SHIFT & ~1
    frame = av.VideoFrame(width, height, "yuv420p")
    for k, (view, source) in enumerate(
        zip(plane_views(frame), _canvas(seed, width, height), strict=True)
    ):
        s = 1 if k else 0
        view[:] = source[dy >> s : (dy >> s) + view.shape[0], dx >> s : (dx >> s) + view.shape[1]]
    return frame


class MovingTrack(VideoStreamTrack):
    """A camera showing moving content; `stamp(frame, index)` may mark each frame."""

    def __init__(self, seed: int = 0, width: int = 640, height: int = 360, stamp=None) -> None:
        super().__init__()
        self.seed, self.width, self.height, self.stamp = seed, width, height, stamp
        self.index = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = moving_frame(self.index, self.seed, self.width, self.height)
        if self.stamp is not None:
            self.stamp(frame, self.index)
        frame.pts, frame.time_base = pts, time_base
        self.index += 1
        return frame


class MovingPublisher(Publisher):
    """tests.helpers.peers.Publisher, with moving video instead of a flat colour."""

    def __init__(self, video: VideoStreamTrack, frequency: float = 440.0) -> None:
        self.video = video
        self.audio = ToneTrack(frequency)
        self.pc = new_peer()
        self.pc.addTransceiver(self.video, direction="sendonly")
        self.pc.addTransceiver(self.audio, direction="sendonly")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def process_cpu(pid: int) -> float:
    """utime + stime of a process (all threads), in seconds."""
    return sum(process_times(pid))


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores' worth of CPU the whole machine used between two snapshots."""
    total = (after[1] - before[1]) or 1
    return (after[0] - before[0]) / total * (os.cpu_count() or 1)


@dataclass
class BenchServer:
    """bench/serve.py running in its own process."""

    process: asyncio.subprocess.Process
    url: str
    data_dir: tempfile.TemporaryDirectory

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stats(self, reset: bool = False) -> dict:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{self.url}/bench/stats", params={"reset": "1" if reset else "0"}
            ) as response,
        ):
            return await response.json()

    async def post(self, path: str) -> None:
        async with aiohttp.ClientSession() as http, http.post(self.url + path) as response:
            response.raise_for_status()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.data_dir.cleanup()


async def start_bench_server(
    *extra: str, data_dir: tempfile.TemporaryDirectory | None = None
) -> BenchServer:
    """Start bench/serve.py on a free port and wait until it answers (in `data_dir`,
    shared with other bench servers, or a fresh one)."""
    port = free_port()
    data_dir = data_dir or tempfile.TemporaryDirectory(prefix="costream-bench-")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "serve.py"),
        "--port",
        str(port),
        "--data-dir",
        data_dir.name,
        *extra,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url + "/healthz") as response:
                    if response.status == 200:
                        return BenchServer(process, url, data_dir)
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline or process.returncode is not None:
                raise RuntimeError("the bench server did not start")
            await asyncio.sleep(0.2)


@dataclass
class Show:
    """A live stream on the bench server with its host publishing."""

    stream_id: str
    host_token: str
    publisher: MovingPublisher


async def go_live(url: str, video: VideoStreamTrack) -> Show:
    """Register a host, create and start a stream, publish `video` over WHIP."""
    async with Api(url) as api:
        token, _ = await api.register(f"host{int(time.time() * 1000) % 10**8}")
        stream = await api.create_stream(token, title="bench")
        await api.start(token, stream["id"])
    publisher = MovingPublisher(video)
    await publisher.start(HttpSignal(url, f"/whip/{stream['id']}", token))
    return Show(stream["id"], token, publisher)
