"""Soak: a long show on a real `costream serve`, watching its memory and file descriptors.

A host publishes moving video; a cohost is invited, publishes, and leaves, over and
over; N viewers churn (a tenth replaced every --churn-seconds); chat runs at
--chat-rate messages per second from several signed-in viewers. Every
--report-seconds the server's RSS and open file descriptors are printed (the target
is flat after warm-up), and every error as it happens.

    .venv/bin/python bench/soak.py --minutes 20 --viewers 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import MovingTrack, go_live, loopback_only, machine  # noqa: E402
from bench.viewer_client import (  # noqa: E402
    COUNTS,
    discard_decoding,
    light_receive,
    open_viewers,
)
from tests.helpers.api import Api  # noqa: E402
from tests.helpers.cluster import server_env, spawn_node, stop, wait_ready  # noqa: E402
from tests.helpers.peers import BLUE, HttpSignal, Publisher, Viewer  # noqa: E402
from tests.helpers.sio import Client  # noqa: E402

CHATTERS = 10  # 5 msg/s stays under the per-user chat rate limit (5 per 5 s)


class Soak:
    def __init__(self, args: argparse.Namespace, url: str, pid: int) -> None:
        self.args = args
        self.url = url
        self.pid = pid
        self.started = time.monotonic()
        self.errors = 0
        self.chat_ok = 0
        self.cohost_cycles = 0
        self.samples: list[tuple[float, float, int]] = []

    def error(self, what: str) -> None:
        self.errors += 1
        print(f"[{self.elapsed():7.1f}s] ERROR {what}", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def server_usage(self) -> tuple[float, int]:
        """(RSS in MiB, open file descriptors) of the server process."""
        with open(f"/proc/{self.pid}/status") as status:
            rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        return rss_kb / 1024, len(os.listdir(f"/proc/{self.pid}/fd"))

    def report(self, viewers: list[Viewer]) -> None:
        rss, fds = self.server_usage()
        self.samples.append((self.elapsed(), rss, fds))
        connected = sum(v.pc.connectionState == "connected" for v in viewers)
        print(
            f"[{self.elapsed():7.1f}s] server rss {rss:7.1f} MiB  fds {fds:4d}  "
            f"viewers {connected:3d}  video frames {COUNTS['video_frames']:8d}  "
            f"chat ok {self.chat_ok:6d}  cohost cycles {self.cohost_cycles:3d}  "
            f"errors {self.errors}",
            flush=True,
        )

    async def chat(self, sid: str, chatters: list[Client]) -> None:
        """--chat-rate messages per second on a fixed schedule, whatever the ack latency."""
        sending: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        for n in itertools.count():
            task = asyncio.create_task(self._send(chatters[n % len(chatters)], n))
            sending.add(task)
            task.add_done_callback(sending.discard)
            delay = start + (n + 1) / self.args.chat_rate - time.monotonic()
            if delay < 0:  # fell behind (a loaded machine): do not burst to catch up
                start -= delay
            await asyncio.sleep(max(0.0, delay))

    async def _send(self, client: Client, n: int) -> None:
        try:
            ack = await client.call("chat:send", {"text": f"soak message {n}"})
            if ack.get("ok"):
                self.chat_ok += 1
            else:
                self.error(f"chat:send {ack.get('error')}")
        except Exception as error:
            self.error(f"chat:send {error!r}")

    async def cohost(self, sid: str, host: Client, cohost: Client, token: str) -> None:
        half = self.args.cohost_seconds / 2
        while True:
            publisher = None
            try:
                await host.ok("cohost:invite", {"username": "soakcohost"})
                invite = await cohost.next("cohost:invited", timeout=30)
                await cohost.ok(
                    "cohost:respond", {"invite_id": invite["invite_id"], "accept": True}
                )
                publisher = await Publisher(BLUE, 880).start(
                    HttpSignal(self.url, f"/whip/{sid}", token)
                )
                await asyncio.sleep(half)
                await cohost.ok("cohost:leave", {})
                self.cohost_cycles += 1
            except Exception as error:
                self.error(f"cohost cycle {error!r}")
                await cohost.call("cohost:leave", {}, timeout=30)  # start the next one clean
            finally:
                if publisher is not None:
                    await publisher.close()
            await asyncio.sleep(half)

    async def churn(self, sid: str, viewers: list[Viewer]) -> None:
        while True:
            await asyncio.sleep(self.args.churn_seconds)
            leaving = random.sample(viewers, max(1, len(viewers) // 10))
            for viewer in leaving:
                viewers.remove(viewer)
                await viewer.close()
            joined = await open_viewers(self.url, sid, len(leaving), 4, light=True)
            if len(joined) < len(leaving):
                self.error(f"{len(leaving) - len(joined)} viewers could not join")
            viewers += joined


async def run(args: argparse.Namespace) -> None:
    loopback_only()
    light_receive()
    discard_decoding()
    data = Path(tempfile.mkdtemp(prefix="costream-soak-"))
    # Every soak client comes from 127.0.0.1: lift the per-address limits (sign-ups,
    # sessions), as bench/serve.py does; the show's own limits stay as deployed.
    env = server_env(
        data / "data",
        "soak-secret-key-0123456789abcdef",
        auth_rate_limit="10000",
        auth_user_rate_limit="10000",
        max_sessions_per_address="10000",
        max_sessions_per_stream="10000",
        max_media_sessions="10000",
    )
    node = await asyncio.to_thread(lambda: wait_ready(spawn_node(env, data / "serve.log")))
    print(machine(), f"\nserver {node.url} pid {node.process.pid}, log {data / 'serve.log'}")
    tasks: list[asyncio.Task[None]] = []
    viewers: list[Viewer] = []
    clients: list[Client] = []
    try:
        show = await go_live(node.url, MovingTrack())
        soak = Soak(args, node.url, node.process.pid)
        async with Api(node.url) as api:
            cohost_token, _ = await api.register("soakcohost")
            tokens = [(await api.register(f"soakchat{i}"))[0] for i in range(CHATTERS)]
        host = await Client(node.url, show.host_token, "host").connect()
        cohost = await Client(node.url, cohost_token, "cohost").connect()
        chatters = [await Client(node.url, t, f"chat{i}").connect() for i, t in enumerate(tokens)]
        clients += [host, cohost, *chatters]
        for client in clients:
            await client.ok("join", {"stream_id": show.stream_id})
        viewers += await open_viewers(node.url, show.stream_id, args.viewers, 4, light=True)
        tasks += [
            asyncio.create_task(soak.chat(show.stream_id, chatters)),
            asyncio.create_task(soak.cohost(show.stream_id, host, cohost, cohost_token)),
            asyncio.create_task(soak.churn(show.stream_id, viewers)),
        ]
        soak.report(viewers)
        deadline = time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline:
            await asyncio.sleep(min(args.report_seconds, deadline - time.monotonic()))
            for task in tasks:
                if task.done() and task.exception():
                    soak.error(f"task died: {task.exception()!r}")
            soak.report(viewers)
        warm = [s for s in soak.samples if s[0] >= args.warmup_seconds] or soak.samples
        print(
            f"after warm-up ({args.warmup_seconds:.0f} s): rss {warm[0][1]:.1f} -> "
            f"{warm[-1][1]:.1f} MiB, fds {warm[0][2]} -> {warm[-1][2]}; "
            f"{soak.errors} errors, {soak.chat_ok} chat messages, "
            f"{soak.cohost_cycles} cohost cycles"
        )
        await show.publisher.close()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(v.close() for v in viewers), return_exceptions=True)
        for client in clients:
            await client.close()
        await asyncio.to_thread(stop, node.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--chat-rate", type=float, default=5.0, help="messages per second")
    parser.add_argument("--cohost-seconds", type=float, default=60, help="one join+leave cycle")
    parser.add_argument("--churn-seconds", type=float, default=10)
    parser.add_argument("--report-seconds", type=float, default=60)
    parser.add_argument("--warmup-seconds", type=float, default=120)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
