"""Reminders at go-live: S subscribers (C of them connected), one host presses start.

Prints the host's start latency (target <= 200 ms whatever S) next to a start with
no subscribers, and the time until the last connected subscriber got its
`reminder` event (and how many got it).

    .venv/bin/python bench/reminders.py --subscribers 10000 --connected 2000

The server is a separate `costream serve` process (its own data dir, started here).
Subscribers are written straight into its SQLite file (accounts and sign-ups, as if
they had clicked "Remind me"); their tokens are signed with the data dir's secret.
Connected subscribers are minimal Socket.IO clients (bench/chat_fanout.py's
RawClient) that only look for `reminder`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.chat_fanout import RawClient, Stats, post, start_server, wait_healthy  # noqa: E402
from server.auth import TokenService  # noqa: E402
from server.config import load_or_create_secret  # noqa: E402
from tests.helpers.cluster import stop  # noqa: E402


class ReminderClient(RawClient):
    """Records when its `reminder` arrives (perf_counter); answers pings."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        super().__init__(http, url, Stats())
        self.reminded_at: float | None = None
        self.reminded = asyncio.Event()
        self.on_event = self._event

    def _event(self, data: str) -> None:
        if data.startswith('42["reminder"'):
            self.reminded_at = time.perf_counter()
            self.reminded.set()


def add_subscribers(database: Path, stream_id: str, names: list[str]) -> None:
    """Accounts and reminder sign-ups, in one transaction (the server runs meanwhile)."""
    now = "2026-01-01T00:00:00+00:00"
    with sqlite3.connect(database, timeout=30) as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
            [(name, "!unusable", now) for name in names],
        )
        conn.executemany(
            "INSERT INTO reminders (stream_id, username, email, created_at) VALUES (?, ?, ?, ?)",
            [(stream_id, name, None, now) for name in names],
        )


async def timed_start(http: aiohttp.ClientSession, url: str, stream_id: str, token: str) -> float:
    started = time.perf_counter()
    await post(http, f"{url}/api/streams/{stream_id}/start", {}, token)
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        tokens = TokenService(load_or_create_secret(data_dir), 3600)
        process, url = start_server(data_dir)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            try:
                await wait_healthy(http, url)
                host = "benchhost"
                await post(
                    http, url + "/api/auth/register", {"username": host, "password": "bench-pass"}
                )
                host_token = tokens.issue(host)
                create = {"title": "bench"}
                baseline = (await post(http, url + "/api/streams", create, host_token))["stream"]
                show = (await post(http, url + "/api/streams", create, host_token))["stream"]
                names = [f"sub{index:06d}" for index in range(args.subscribers)]
                add_subscribers(data_dir / "costream.sqlite3", show["id"], names)

                clients = [ReminderClient(http, url) for _ in range(args.connected)]
                limit = asyncio.Semaphore(50)

                async def enter(client: ReminderClient, name: str) -> None:
                    async with limit:
                        await client.connect(tokens.issue(name))

                await asyncio.gather(*(enter(c, n) for c, n in zip(clients, names, strict=False)))
                empty_start = await timed_start(http, url, baseline["id"], host_token)
                t0 = time.perf_counter()
                start_s = await timed_start(http, url, show["id"], host_token)
                try:
                    async with asyncio.timeout(args.timeout):
                        await asyncio.gather(*(c.reminded.wait() for c in clients))
                except TimeoutError:
                    pass
                arrivals = [c.reminded_at - t0 for c in clients if c.reminded_at is not None]
                for client in clients:
                    await client.close()
                return {
                    "subscribers": args.subscribers,
                    "connected": args.connected,
                    "start_ms_no_subscribers": round(empty_start * 1000, 1),
                    "start_ms": round(start_s * 1000, 1),
                    "reminded": len(arrivals),
                    "last_reminder_ms": round(max(arrivals) * 1000, 1) if arrivals else None,
                    "median_reminder_ms": (
                        round(statistics.median(arrivals) * 1000, 1) if arrivals else None
                    ),
                }
            finally:
                stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--connected", type=int, default=2_000)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for events")
    args = parser.parse_args()
    if args.connected > args.subscribers:
        parser.error("--connected cannot exceed --subscribers")
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
