"""Auction bidding: N Socket.IO bidders on one running auction, each bidding again (the
last minimum it saw plus 0..N-1 increments) as soon as its previous ack returns.

Prints accepted bids/s, bid ack p50/p99, and the time from an accepted bid's send to
its `auction:updated` at the last receiver (sampled: every SAMPLE-th bid).

    .venv/bin/python bench/auction.py --bidders 500 --seconds 30

The server runs as a separate `costream serve` process on a free port of 127.0.0.1
with its own data dir. Bidders are created straight in its database with tokens
signed by its secret (registration hashes with argon2: far too slow for 500), and
speak Socket.IO with bench/chat_fanout.py's minimal client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
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
from tests.helpers.cluster import stop  # noqa: E402

SECRET = "bench-auction-secret-0123456789"
SAMPLE = 5
UPDATED = re.compile(r'^42\["auction:updated".*"min_next_cents":(\d+).*"bid_count":(\d+)')


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
    """A data dir whose secret we know, so tokens can be issued without signing in."""
    data_dir = Path(tmp) / "data"
    data_dir.mkdir()
    (data_dir / "secret_key").write_text(SECRET)
    (data_dir / "secret_key").chmod(0o600)
    return data_dir


async def live_stream(http: aiohttp.ClientSession, url: str, host: str) -> dict:
    stream = (await post(http, url + "/api/streams", {"title": "bench"}, host))["stream"]
    await post(http, f"{url}/api/streams/{stream['id']}/start", {}, host)
    return stream


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_data_dir(tmp)
        process, url = start_server(data_dir, {"COSTREAM_SECRET_KEY": SECRET})
        tokens = TokenService(SECRET, 3600)
        connector = aiohttp.TCPConnector(limit=0)
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

                min_next = [100]
                sent_at: dict[int, float] = {}  # sampled bid_count -> send time
                last_seen: dict[int, float] = {}  # sampled bid_count -> latest arrival
                seen_count: dict[int, int] = {}

                def on_event(data: str) -> None:
                    match = UPDATED.match(data)
                    if match is None:
                        return
                    min_next[0] = max(min_next[0], int(match[1]))
                    count = int(match[2])
                    if count % SAMPLE == 0:
                        last_seen[count] = time.perf_counter()
                        seen_count[count] = seen_count.get(count, 0) + 1

                clients = [RawClient(http, url, Stats()) for _ in names]
                limit = asyncio.Semaphore(50)

                async def enter(client: RawClient, name: str) -> None:
                    async with limit:
                        await client.connect(tokens.issue(name))
                        client.on_event = on_event
                        assert (await client.call("join", {"stream_id": stream["id"]}))["ok"]

                started = time.perf_counter()
                await asyncio.gather(*(enter(c, n) for c, n in zip(clients, names, strict=True)))
                connect_s = time.perf_counter() - started
                await post(http, f"{url}/api/listings/{listing['id']}/auction/start", {}, host)

                acks_ms: list[float] = []
                accepted = refused = 0
                stop_at = time.perf_counter() + args.seconds

                async def bidder(client: RawClient) -> None:
                    nonlocal accepted, refused
                    while time.perf_counter() < stop_at:
                        sent = time.perf_counter()
                        # Above the last minimum seen by a random number of increments, so
                        # that racing bidders do not all offer the same amount.
                        amount = min_next[0] + random.randrange(len(clients))
                        ack = await client.call(
                            "auction:bid", {"listing_id": listing["id"], "amount_cents": amount}
                        )
                        acks_ms.append((time.perf_counter() - sent) * 1000)
                        if ack["ok"]:
                            accepted += 1
                            count = ack["auction"]["bid_count"]
                            min_next[0] = max(min_next[0], ack["auction"]["min_next_cents"])
                            if count % SAMPLE == 0:
                                sent_at[count] = sent
                        else:
                            refused += 1
                            assert ack["error"]["code"] == "bid_too_low", ack

                t0 = time.perf_counter()
                await asyncio.gather(*(bidder(c) for c in clients))
                wall = time.perf_counter() - t0
                await asyncio.sleep(2)  # let the last updates arrive before reading them
                fanout_ms = [
                    (last_seen[count] - sent_at[count]) * 1000
                    for count in sent_at
                    if seen_count.get(count) == len(clients)
                ]
                for client in clients:
                    await client.close()
        finally:
            stop(process, timeout=20)

    return {
        "bidders": args.bidders,
        "seconds": round(wall, 1),
        "connect_and_join_s": round(connect_s, 2),
        "accepted_bids": accepted,
        "refused_bids": refused,
        "accepted_per_s": round(accepted / wall, 1),
        "ack_p50_ms": quantile_ms(acks_ms, 50),
        "ack_p99_ms": quantile_ms(acks_ms, 99),
        "updated_at_last_receiver_p50_ms": quantile_ms(fanout_ms, 50),
        "updated_at_last_receiver_p99_ms": quantile_ms(fanout_ms, 99),
        "sampled_bids": len(fanout_ms),
    }


def bench_main(doc: str, run_bench, options: dict[str, tuple[type, float]]) -> None:
    """Parse `--name value` options, run the bench, print its figures (and as JSON)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for name, (kind, default) in options.items():
        parser.add_argument(f"--{name}", type=kind, default=default)
    result = asyncio.run(run_bench(parser.parse_args()))
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:>{width}}: {value}")
    print(json.dumps(result))


def main() -> None:
    bench_main(__doc__, run, {"bidders": (int, 500), "seconds": (float, 30.0)})


if __name__ == "__main__":
    main()
