"""Judged writes of several streams on PostgreSQL: per-stream locks against one lock.

Two "processes" (two Database objects, each with its own pool, as two `costream serve`
processes have) share one private PostgreSQL cluster (started and deleted by the bench,
as in the tests). S live streams of S hosts each offer one listing with ample stock;
B buyers per stream buy at once, spread over both processes, through the store's real
judged transaction (SellingStore.sell: stock, per-buyer limit, daily cap, code). Prints
buys per second and the buy latency p50/p99, and checks every buy made exactly one
order and one sale entry.

    .venv/bin/python bench/pg_write_locks.py --streams 8 --buyers 50
    .venv/bin/python bench/pg_write_locks.py --streams 8 --buyers 50 --one-lock 1

`--one-lock 1` runs every write transaction under the whole-database key (what every
write took before the per-stream locks), for comparison on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.auction import quantile_ms  # noqa: E402
from server.domain.commerce import Listing, judge_sale  # noqa: E402
from server.domain.streams import Stream  # noqa: E402
from server.domain.times import now_ms  # noqa: E402
from server.sql import PostgresEngine  # noqa: E402
from server.store import Database  # noqa: E402
from server.stores.sql_selling import SellingStore  # noqa: E402
from tests.helpers.postgres import start_postgres  # noqa: E402


class OneLockEngine(PostgresEngine):
    """Every write transaction under the whole-database key, whatever its scope."""

    def transaction(self, scope: str | None = None) -> AbstractAsyncContextManager[Any]:
        return super().transaction(None)


async def setup(db: Database, streams: int, stock: int) -> list[str]:
    now = datetime.now(UTC)
    listing_ids = []
    for n in range(streams):
        stream_id = f"show{n}"
        await db.insert_stream(
            Stream(stream_id, "Show", "", "video", "live", f"host{n}", None, None, now, None, now)
        )
        listing = Listing(
            f"{stream_id}-item", stream_id, "Mug", "", 900, "USD", stock, stock, None, "active",
            None, now,
        )  # fmt: skip
        await db.insert_listing(listing)
        listing_ids.append(listing.id)
    return listing_ids


async def buy(db: Database, listing_id: str, buyer: str) -> float:
    started = time.perf_counter()
    await SellingStore(db).sell(
        listing_id, buyer, None, lambda facts: judge_sale(facts, buyer, 1, None, now_ms())
    )
    return (time.perf_counter() - started) * 1000  # ms, as quantile_ms expects


async def run(args: argparse.Namespace) -> dict:
    postgres = start_postgres()
    url = postgres.create_database()
    kind = OneLockEngine if args.one_lock else PostgresEngine
    processes = [Database(kind(url)), Database(kind(url))]
    try:
        for db in processes:
            await db.open()
        stock = args.buyers * 2
        listing_ids = await setup(processes[0], args.streams, stock)
        jobs = [
            buy(processes[(n + s) % 2], listing_id, f"fan{s}-{n}")
            for n in range(args.buyers)
            for s, listing_id in enumerate(listing_ids)
        ]
        started = time.perf_counter()
        latencies = await asyncio.gather(*jobs)
        wall = time.perf_counter() - started
        counts = await processes[0].fetchone(
            "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM ledger_entries), "
            "(SELECT SUM(quantity - remaining) FROM listings)"
        )
        assert counts is not None and list(counts) == [len(jobs)] * 3, list(counts)
        return {
            "locks": "one for every write" if args.one_lock else "per stream",
            "streams": args.streams,
            "buys": len(jobs),
            "wall_s": round(wall, 2),
            "buys_per_s": round(len(jobs) / wall),
            "p50_ms": quantile_ms(latencies, 50),
            "p99_ms": quantile_ms(latencies, 99),
        }
    finally:
        for db in processes:
            await db.close()
        postgres.drop_database(url)
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--buyers", type=int, default=50, help="per stream")
    parser.add_argument("--one-lock", type=int, default=0)
    print(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
