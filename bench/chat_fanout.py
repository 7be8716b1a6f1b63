"""Chat fan-out: N Socket.IO clients in one stream, one sender at R messages/s.

Prints the delivery latency (send -> every receiver) p50/p99 and the server's CPU.

    .venv/bin/python bench/chat_fanout.py --clients 2000 --rate 20 --seconds 20
    .venv/bin/python bench/chat_fanout.py --clients 2000 --servers 2 --client-procs 2

The servers run as separate `costream serve` processes (started here on free
ports of 127.0.0.1, one data dir, chat rate limit lifted; with --servers > 1 they
share a private redis-server) unless --url is given. Receivers are spread over
--client-procs processes and over the servers; they speak the Engine.IO v4 /
Socket.IO v5 wire protocol directly over aiohttp websockets and only
pattern-match the chat text, so the figures measure the servers, not a
heavyweight client. Sender and receivers share this machine's clock.
`server_us_per_delivery` is the servers' CPU over the measured window divided
by the deliveries (one message to one receiver).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.cluster import start_redis, stop  # noqa: E402

STAMP = re.compile(r'"text":"bench (\d+) (\d+)"')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    received: int = 0
    measuring: bool = False


class RawClient:
    """A minimal Socket.IO client: connect, join with ack, answer pings, time chat."""

    def __init__(self, http: aiohttp.ClientSession, url: str, stats: Stats) -> None:
        self._http, self._url, self._stats = http, url, stats
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future] = {}
        self._next_ack = 0
        self._task: asyncio.Task | None = None
        # Other server events (raw `42[...]` frames) go here when set (bench/auction.py).
        self.on_event: Callable[[str], None] | None = None

    async def connect(self, token: str | None = None) -> None:
        ws_url = self._url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self._ws = await self._http.ws_connect(ws_url, max_msg_size=0)
        opened = await self._ws.receive_str()
        assert opened.startswith("0"), opened
        await self._ws.send_str("40" + json.dumps({"token": token} if token else {}))
        connected = await self._ws.receive_str()
        assert connected.startswith("40"), connected
        self._task = asyncio.create_task(self._read())

    async def call(self, event: str, payload: dict) -> dict:
        assert self._ws is not None
        self._next_ack += 1
        ack_id = self._next_ack
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self._ws.send_str(f"42{ack_id}" + json.dumps([event, payload]))
        return await asyncio.wait_for(future, 30)

    async def _read(self) -> None:
        assert self._ws is not None
        with contextlib.suppress(aiohttp.ClientError):
            await self._read_frames()

    async def _read_frames(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            data = message.data
            if data == "2":
                await self._ws.send_str("3")
            elif data.startswith('42["chat:message"'):
                match = STAMP.search(data)
                if match and self._stats.measuring:
                    self._stats.received += 1
                    self._stats.latencies_ms.append((time.time_ns() - int(match[2])) / 1e6)
            elif data.startswith("42") and self.on_event is not None:
                self.on_event(data)
            elif data.startswith("43"):
                ack_id = int(re.match(r"43(\d+)", data)[1])
                future = self._acks.pop(ack_id, None)
                if future is not None and not future.done():
                    future.set_result(json.loads(data[2 + len(str(ack_id)) :])[0])
            else:
                self._on_message(data)

    def _on_message(self, data: str) -> None:
        """One Socket.IO packet other than a ping: time chat, resolve acks."""
        if data.startswith('42["chat:message"'):
            match = STAMP.search(data)
            if match and self._stats.measuring:
                self._stats.received += 1
                self._stats.latencies_ms.append((time.time_ns() - int(match[2])) / 1e6)
        elif data.startswith("43"):
            ack_id = int(re.match(r"43(\d+)", data)[1])
            future = self._acks.pop(ack_id, None)
            if future is not None and not future.done():
                future.set_result(json.loads(data[2 + len(str(ack_id)) :])[0])

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def start_server(data_dir: Path, settings: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COSTREAM_")},
        "COSTREAM_DATA_DIR": str(data_dir),
        "COSTREAM_SECRET_KEY": "bench-secret-key-0123456789",  # shared by every process
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=(data_dir.parent / f"server-{port}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


async def wait_healthy(http: aiohttp.ClientSession, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(url + "/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


async def post(http: aiohttp.ClientSession, url: str, body: dict, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(url, json=body, headers=headers) as response:
        assert response.status in (200, 201), await response.text()
        return await response.json()


def start_servers(
    count: int, tmp: Path, batch_ms: int
) -> tuple[list[subprocess.Popen], list[str], object]:
    """`count` costream processes (with a private redis-server when more than one)."""
    redis = None
    settings = {
        "COSTREAM_CHAT_RATE_LIMIT": "1000000",  # one sender at full rate
        "COSTREAM_CHAT_RATE_WINDOW": "1",
        "COSTREAM_SOCKETIO_BATCH_MS": str(batch_ms),
    }
    if count > 1:
        redis = start_redis(tmp / "redis.log")
        settings["COSTREAM_REDIS_URL"] = redis.url
    processes, urls = [], []
    for _ in range(count):
        process, url = start_server(tmp / "data", settings)
        processes.append(process)
        urls.append(url)
    return processes, urls, redis


def receive(urls: list[str], count: int, join: dict, ready, start, stop_, results) -> None:
    """A receiver process: `count` clients spread over `urls`; reports its latencies."""

    async def main() -> None:
        stats = Stats()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            clients = [RawClient(http, urls[i % len(urls)], stats) for i in range(count)]
            limit = asyncio.Semaphore(50)

            async def enter(client: RawClient) -> None:
                async with limit:
                    await client.connect()
                    ack = await client.call("join", join)
                    assert ack["ok"], ack

            await asyncio.gather(*(enter(c) for c in clients))
            ready.put(count)
            while not start.is_set():
                await asyncio.sleep(0.02)
            before = resource.getrusage(resource.RUSAGE_SELF)
            stats.measuring = True
            while not stop_.is_set():
                await asyncio.sleep(0.02)
            stats.measuring = False
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            results.put((stats.latencies_ms, cpu))
            for client in clients:
                await client.close()

    asyncio.run(main())


async def run(args: argparse.Namespace) -> dict:
    processes: list[subprocess.Popen] = []
    redis = None
    workers: list[multiprocessing.Process] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.url is None:
            processes, urls, redis = start_servers(args.servers, Path(tmp), args.batch_ms)
        else:
            urls = [args.url]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            try:
                for url in urls:
                    await wait_healthy(http, url)
                url = urls[0]
                user = f"bench{int(time.time())}"
                session = await post(
                    http, url + "/api/auth/register", {"username": user, "password": "bench-pass"}
                )
                token = session["token"]
                stream = (await post(http, url + "/api/streams", {"title": "bench"}, token))[
                    "stream"
                ]
                await post(http, f"{url}/api/streams/{stream['id']}/start", {}, token)
                join = {"stream_id": stream["id"]}

                # Receivers live in their own processes, so the client side is not the limit.
                context = multiprocessing.get_context("fork")
                ready, results = context.Queue(), context.Queue()
                start, stop_ = context.Event(), context.Event()
                shares = [
                    args.clients // args.client_procs + (i < args.clients % args.client_procs)
                    for i in range(args.client_procs)
                ]
                started = time.perf_counter()
                for share in shares:
                    worker = context.Process(
                        target=receive, args=(urls, share, join, ready, start, stop_, results)
                    )
                    worker.start()
                    workers.append(worker)
                loop = asyncio.get_running_loop()
                for _ in workers:
                    await loop.run_in_executor(None, ready.get, True, 300)
                connect_s = time.perf_counter() - started
                sender = RawClient(http, url, Stats())
                await sender.connect(token)
                assert (await sender.call("join", join))["ok"]

                failed_sends = 0

                async def send(seq: int) -> None:
                    # An overloaded server may not ack in time: count it, keep measuring.
                    nonlocal failed_sends
                    try:
                        ack = await sender.call(
                            "chat:send", {"text": f"bench {seq} {time.time_ns()}"}
                        )
                        failed_sends += not ack["ok"]
                    except (TimeoutError, aiohttp.ClientError):
                        failed_sends += 1

                # Warm up, then measure a paced run.
                interval = 1 / args.rate
                for seq in range(int(args.rate)):
                    await send(seq)
                    await asyncio.sleep(interval)
                start.set()
                cpu_before = sum(cpu_seconds(p.pid) for p in processes)
                t0 = time.perf_counter()
                total = int(args.rate * args.seconds)
                pending = []
                for seq in range(total):
                    target = t0 + seq * interval
                    await asyncio.sleep(max(0.0, target - time.perf_counter()))
                    pending.append(asyncio.create_task(send(1000 + seq)))
                await asyncio.gather(*pending)
                # Drain: until the servers are idle again (every delivery written).
                await asyncio.sleep(1.0)
                wall = time.perf_counter() - t0
                cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
                stop_.set()
                latencies: list[float] = []
                client_cpu = 0.0
                for _ in workers:
                    got, used = await loop.run_in_executor(None, results.get, True, 120)
                    latencies.extend(got)
                    client_cpu += used
                await sender.close()
            finally:
                stop_.set()
                for worker in workers:
                    worker.join(timeout=30)
                for process in processes:
                    stop(process, timeout=20)
                if redis is not None:
                    stop(redis.process)

    expected = total * args.clients
    lat = sorted(latencies)
    quantiles = statistics.quantiles(lat, n=100) if len(lat) > 1 else [float("nan")] * 99
    return {
        "clients": args.clients,
        "servers": len(urls),
        "client_processes": args.client_procs,
        "batch_ms": args.batch_ms,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "connect_and_join_s": round(connect_s, 2),
        "expected_deliveries": expected,
        "failed_sends": failed_sends,
        "delivered": len(lat),
        "p50_ms": round(quantiles[49], 1),
        "p99_ms": round(quantiles[98], 1),
        "max_ms": round(lat[-1], 1) if lat else None,
        "server_cpu_percent": round(100 * cpu / wall, 1),
        "server_us_per_delivery": round(1e6 * cpu / len(lat), 2) if lat else None,
        "client_cpu_percent": round(100 * client_cpu / wall, 1),
        "deliveries_per_s": round(len(lat) / wall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="chat messages per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--url", help="an already running server (CPU is then not measured)")
    parser.add_argument("--servers", type=int, default=1, help="costream processes (Redis if >1)")
    parser.add_argument("--client-procs", type=int, default=2, help="receiver processes")
    parser.add_argument("--batch-ms", type=int, default=150, help="COSTREAM_SOCKETIO_BATCH_MS")
    result = asyncio.run(run(parser.parse_args()))
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
