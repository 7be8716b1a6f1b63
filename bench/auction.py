"""Auction bidding: N Socket.IO bidders on one running auction, each bidding again as
soon as its previous ack returns: `--strategy seen` offers the last minimum it saw plus
0..N/P-1 increments (P bidder processes), `--strategy clock` an amount that rises with
the shared clock (so nearly every bid beats the one before it).

Prints accepted bids/s, bid ack p50/p99, and the time from an accepted bid's send to
the first `auction:updated` showing it (bid_count at least that bid's) at the last of
the N receivers (sampled: every SAMPLE-th bid_count), plus the CPU the server and the
bidders' processes used, to show which side saturates.

    .venv/bin/python bench/auction.py --bidders 500 --seconds 30 --client-procs 2

The server runs as a separate `costream serve` process on a free port of 127.0.0.1
with its own data dir. Bidders are created straight in its database with tokens
signed by its secret (registration hashes with argon2: far too slow for 500), are
spread over --client-procs processes, and speak Socket.IO with bench/lean_client.py
(a websocket on a bare asyncio protocol, so that they take as little as they can of
the cores the server shares). Every process times with the machine's monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.chat_fanout import (  # noqa: E402
    cpu_seconds,
    post,
    start_server,
    wait_healthy,
)
from bench.lean_client import LeanClient  # noqa: E402
from server.auth import TokenService  # noqa: E402
from tests.helpers.cluster import stop  # noqa: E402

SECRET = "bench-secret-key-0123456789"  # what bench/chat_fanout.py's start_server sets
SAMPLE = 5
CLOCK_CENTS_PER_S = 1_000_000  # 1 cent a microsecond: 30 s stay far under the 10^8 cap
UPDATED = re.compile(r'^42\["auction:updated".*"min_next_cents":(\d+).*"bid_count":(\d+)')
DELIVERED = re.compile(r'^costream_socketio_deliveries_total\{event="([^"]+)"\} (\S+)$', re.M)


def quantile_ms(values: list[float], q: int) -> float:
    if len(values) < 2:
        return float("nan")
    return round(statistics.quantiles(values, n=100)[q - 1], 1)


def add_users(db: Path, names: list[str]) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, '!', '')",
            [(name,) for name in names],
        )


def prepare_data_dir(tmp: str) -> Path:
    """A data dir for the server (its secret comes from the environment: SECRET)."""
    data_dir = Path(tmp) / "data"
    data_dir.mkdir()
    return data_dir


async def deliveries(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The server's Socket.IO deliveries so far, per event (its /metrics)."""
    async with http.get(url + "/metrics") as response:
        return {event: float(count) for event, count in DELIVERED.findall(await response.text())}


async def live_stream(http: aiohttp.ClientSession, url: str, host: str) -> dict:
    stream = (await post(http, url + "/api/streams", {"title": "bench"}, host))["stream"]
    await post(http, f"{url}/api/streams/{stream['id']}/start", {}, host)
    return stream


def bid_in_process(
    url: str,
    names: list[str],
    stream_id: str,
    listing_id: str,
    strategy: str,
    ready,
    go,
    results,
) -> None:
    """A bidders' process: connect and join, then bid until the deadline `go` sends;
    reports its acks, counts and sampled `auction:updated` arrivals."""

    async def main() -> None:
        tokens = TokenService(SECRET, 3600)
        spread = len(names)
        min_next = [100]
        seen: dict[int, list[float]] = {}  # sampled bid_count -> [latest arrival, receivers]
        sent_at: dict[int, float] = {}  # sampled bid_count -> send time of that bid
        acks_ms: list[float] = []
        counts = {"accepted": 0, "refused": 0}

        def watcher() -> Any:
            shown = [0]  # the highest bid_count this receiver has seen

            def on_event(data: str) -> None:
                match = UPDATED.match(data)
                if match is None:
                    return
                min_next[0] = max(min_next[0], int(match[1]))
                count, now = int(match[2]), time.monotonic()
                first = shown[0] + SAMPLE - shown[0] % SAMPLE
                for sampled in range(first, count + 1, SAMPLE):
                    entry = seen.setdefault(sampled, [now, 0])
                    entry[0], entry[1] = max(entry[0], now), entry[1] + 1
                shown[0] = max(shown[0], count)

            return on_event

        clients = [LeanClient(url) for _ in names]
        limit = asyncio.Semaphore(50)

        async def enter(client: LeanClient, name: str) -> None:
            async with limit:
                await client.connect(tokens.issue(name))
                client.on_event = watcher()
                assert (await client.call("join", {"stream_id": stream_id}))["ok"]

        await asyncio.gather(*(enter(c, n) for c, n in zip(clients, names, strict=True)))
        ready.put(len(clients))
        loop = asyncio.get_running_loop()
        started, stop_at = await loop.run_in_executor(None, go.get, True, 300)

        def offer(seen_min: int, now: float) -> int:
            if strategy == "seen":
                # Above the last minimum seen by a random number of increments, so
                # that racing bidders do not all offer the same amount.
                return seen_min + random.randrange(spread)
            # "clock": amounts rise with the shared clock (CLOCK_CENTS_PER_S), so a
            # bid sent later almost always beats one sent earlier.
            return max(seen_min, 100 + int((now - started) * CLOCK_CENTS_PER_S))

        async def bidder(client: LeanClient) -> None:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                amount = offer(min_next[0], sent)
                ack = await client.call(
                    "auction:bid", {"listing_id": listing_id, "amount_cents": amount}
                )
                acks_ms.append((time.monotonic() - sent) * 1000)
                if ack["ok"]:
                    counts["accepted"] += 1
                    count = ack["auction"]["bid_count"]
                    min_next[0] = max(min_next[0], ack["auction"]["min_next_cents"])
                    if count % SAMPLE == 0:
                        sent_at[count] = sent
                else:
                    counts["refused"] += 1
                    assert ack["error"]["code"] == "bid_too_low", ack

        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.gather(*(bidder(c) for c in clients))
        await asyncio.sleep(2)  # let the last updates arrive before reading them
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        results.put((acks_ms, counts, sent_at, seen, cpu))
        for client in clients:
            await client.close()

    asyncio.run(main())


async def run(args: argparse.Namespace) -> dict:
    context = multiprocessing.get_context("fork")
    workers: list[multiprocessing.Process] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_data_dir(tmp)
        process, url = start_server(
            data_dir,
            {"COSTREAM_SECRET_KEY": SECRET, "COSTREAM_SOCKETIO_BATCH_MS": str(args.batch_ms)},
        )
        tokens = TokenService(SECRET, 3600)
        connector = aiohttp.TCPConnector(limit=0)
        loop = asyncio.get_running_loop()
        try:
            async with aiohttp.ClientSession(connector=connector) as http:
                await wait_healthy(http, url)
                names = [f"bidder{n}" for n in range(args.bidders)]
                add_users(data_dir / "costream.sqlite3", ["host", *names])
                host = tokens.issue("host")
                stream = await live_stream(http, url, host)
                body = {
                    "title": "Bench lot",
                    "price_cents": 100,
                    "format": "auction",
                    "increment_cents": 1,
                    "auction_seconds": 300,
                }
                listing = (
                    await post(http, f"{url}/api/streams/{stream['id']}/listings", body, host)
                )["listing"]
                ready, go, results = context.Queue(), context.Queue(), context.Queue()
                started = time.monotonic()
                for index in range(args.client_procs):
                    share = names[index :: args.client_procs]
                    worker = context.Process(
                        target=bid_in_process,
                        args=(
                            url,
                            share,
                            stream["id"],
                            listing["id"],
                            len(names),
                            ready,
                            go,
                            results,
                        ),
                    )
                    worker.start()
                    workers.append(worker)
                for _ in workers:
                    await loop.run_in_executor(None, ready.get, True, 300)
                connect_s = time.monotonic() - started
                await post(http, f"{url}/api/listings/{listing['id']}/auction/start", {}, host)
                delivered_before = await deliveries(http, url)
                cpu_before = cpu_seconds(process.pid)
                t0 = time.monotonic()
                for _ in workers:
                    go.put((t0, t0 + args.seconds))
                acks_ms: list[float] = []
                accepted = refused = 0
                sent_at: dict[int, float] = {}
                seen: dict[int, list[float]] = {}
                client_cpu = 0.0
                for _ in workers:
                    got = await loop.run_in_executor(None, results.get, True, args.seconds + 120)
                    acks, counts, sent, arrivals, cpu = got
                    acks_ms += acks
                    accepted += counts["accepted"]
                    refused += counts["refused"]
                    sent_at.update(sent)
                    client_cpu += cpu
                    for count, (latest, receivers) in arrivals.items():
                        entry = seen.setdefault(count, [latest, 0])
                        entry[0], entry[1] = max(entry[0], latest), entry[1] + receivers
                server_cpu = cpu_seconds(process.pid) - cpu_before
                delivered = await deliveries(http, url)
                wall = args.seconds
        finally:
            for worker in workers:
                worker.join(timeout=30)
            stop(process, timeout=20)
    fanout_ms = [
        (seen[count][0] - sent_at[count]) * 1000
        for count in sent_at
        if count in seen and seen[count][1] == args.bidders
    ]
    return {
        "bidders": args.bidders,
        "client_procs": args.client_procs,
        "strategy": args.strategy,
        "socketio_batch_ms": args.batch_ms,
        "seconds": wall,
        "connect_and_join_s": round(connect_s, 2),
        "accepted_bids": accepted,
        "refused_bids": refused,
        "accepted_per_s": round(accepted / wall, 1),
        "ack_p50_ms": quantile_ms(acks_ms, 50),
        "ack_p99_ms": quantile_ms(acks_ms, 99),
        "updated_at_last_receiver_p50_ms": quantile_ms(fanout_ms, 50),
        "updated_at_last_receiver_p99_ms": quantile_ms(fanout_ms, 99),
        "sampled_bids": len(fanout_ms),
        "updated_fanouts_per_s": round(
            (delivered.get("auction:updated", 0) - delivered_before.get("auction:updated", 0))
            / args.bidders
            / wall,
            1,
        ),
        "outbid_per_accepted": round(
            (delivered.get("auction:outbid", 0) - delivered_before.get("auction:outbid", 0))
            / max(accepted, 1),
            2,
        ),
        "server_cpu_s": round(server_cpu, 1),
        "server_us_per_accepted_bid": round(server_cpu / max(accepted, 1) * 1e6, 1),
        "bidders_us_per_accepted_bid": round(client_cpu / max(accepted, 1) * 1e6, 1),
        "bidders_cpu_s": round(client_cpu, 1),
    }


def bench_main(doc: str, run_bench, options: dict[str, tuple[type, float]]) -> None:
    """Parse `--name value` options, run the bench, print its figures (and as JSON)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for name, (kind, default) in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=default)
    result = asyncio.run(run_bench(parser.parse_args()))
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:>{width}}: {value}")
    print(json.dumps(result))


def main() -> None:
    bench_main(
        __doc__,
        run,
        {
            "bidders": (int, 500),
            "seconds": (float, 30.0),
            "client_procs": (int, 2),
            "strategy": (str, "seen"),
            "batch_ms": (int, 0),
        },
    )


if __name__ == "__main__":
    main()
