"""Server CPU of one room emit per receiver, with and without batching.

An in-process server (the real app) and N raw websocket receivers in one room;
the figure is the CPU of the emitting thread only (`time.thread_time` around
`sio.emit`, and around the batch flush when batching), divided by the
deliveries: what signaling/fanout.py costs per (message, receiver). With
--per-write K, K messages are emitted into a held batch and written with one
flush (COSTREAM_SOCKETIO_BATCH_MS), so one `send` carries K messages.

    .venv/bin/python bench/chat_emit.py --receivers 500 --messages 100
    .venv/bin/python bench/chat_emit.py --receivers 500 --messages 100 --per-write 4
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chat_fanout import RawClient, Stats  # noqa: E402
from bench.common import loopback_only  # noqa: E402
from server.config import Settings  # noqa: E402
from server.counters import PREPARED_WRITES  # noqa: E402
from server.keys import REALTIME  # noqa: E402
from tests.helpers.server import start_server  # noqa: E402


async def run(args: argparse.Namespace) -> None:
    loopback_only()
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_server(Settings(data_dir=Path(tmp)))
        sio = server.app[REALTIME].sio
        manager = sio.manager
        stats = Stats()
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            clients = [RawClient(http, server.url, stats) for _ in range(args.receivers)]
            for client in clients:
                await client.connect()
            for sid in [sid for sid in manager.rooms["/"] if sid]:
                await sio.enter_room(sid, "bench")
            # Batching: a long window, flushed by hand after K messages.
            manager.batch_seconds = 3600.0 if args.per_write > 1 else 0.0
            stats.measuring = True
            prepared_before = PREPARED_WRITES._value.get()
            spent = 0.0
            for index in range(args.messages):
                message = {"text": f"bench {index} {time.time_ns()}", "user": "someone"}
                started = time.thread_time()
                await sio.emit("chat:message", message, to="bench")
                written = args.per_write == 1 or (index + 1) % args.per_write == 0
                if args.per_write > 1 and written:
                    manager._flush_at.cancel()
                    manager._flush()
                spent += time.thread_time() - started
                if written:  # every receiver has read it all before the next write
                    await until_received(stats, (index + 1) * args.receivers)
            deliveries = args.messages * args.receivers
            prepared = PREPARED_WRITES._value.get() - prepared_before
            print(
                f"{args.receivers} receivers, {args.messages} messages,"
                f" {args.per_write} per write: {spent / deliveries * 1e6:.2f} us of the"
                f" emitting thread's CPU per delivery"
                f" ({prepared / deliveries:.0%} written as prepared frames)"
            )
            for client in clients:
                await client.close()
        await server.stop()


async def until_received(stats: Stats, count: int, timeout: float = 30.0) -> None:
    """Wait (bounded) until the receivers have read `count` chat messages in all."""
    deadline = time.monotonic() + timeout
    while stats.received < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stats.received} of {count} received after {timeout} s")
        await asyncio.sleep(0)  # the receivers run on this loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receivers", type=int, default=500)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--per-write", type=int, default=1)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
