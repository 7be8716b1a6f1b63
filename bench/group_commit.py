"""The auction's group commit under a busy event loop: wall ms per `record_bids`.

A bid is acknowledged only once its batch commits, so the commit's wall time is part
of every bid's wait. Each trip to SQLite's thread costs about one turn of the event
loop when the loop is busy (the thread's answer queues behind everything else that
turn runs), whatever the SQL itself costs. This bench makes the turns long on purpose,
with `--spinners` callbacks that each burn `--spin-us` of CPU and reschedule
themselves, and times `--commits` commits of `--bids` bids each, as the judge writes
them (SellingStore.record_bids on a real SQLite file in WAL mode).

    .venv/bin/python bench/group_commit.py --bids 180 --commits 200 --spinners 20 --spin-us 250

Prints the turn length seen, and the commit's wall ms p50/p90 with the loop idle and
busy: compare checkouts by running it in each.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.auction import bench_main  # noqa: E402
from server.domain.auctions import Auction, BidOutcome  # noqa: E402
from server.domain.streams import Stream  # noqa: E402
from server.sql import SqliteEngine  # noqa: E402
from server.store import Database  # noqa: E402
from server.stores.sql_selling import SellingStore  # noqa: E402
from tests.helpers.listings import a_listing  # noqa: E402


async def running_auction(db: Database) -> Auction:
    now = datetime.now(UTC)
    await db.insert_stream(
        Stream("show", "Show", "", "video", "live", "host", None, None, now, None, now)
    )
    await db.insert_listing(
        a_listing(id="lot", stream_id="show", title="Lot", price_cents=100, quantity=1, remaining=1)
    )
    started = await SellingStore(db).start_auction(
        Auction(
            seq=0,
            listing_id="lot",
            stream_id="show",
            status="running",
            start_cents=100,
            increment_cents=1,
            high_bid_cents=None,
            high_bidder=None,
            high_max_cents=None,
            ends_at_ms=int(time.time() * 1000) + 3_600_000,
            sudden_death=False,
            bid_count=0,
        )
    )
    assert started is not None
    return started


async def time_commits(store: SellingStore, auction: Auction, bids: int, commits: int) -> tuple:
    """`commits` group commits of `bids` bids each: their wall ms, and the auction after."""
    walls: list[float] = []
    for _ in range(commits):
        batch = []
        after = auction
        for _ in range(bids):
            amount = after.min_next_cents
            after = replace(
                after, high_bid_cents=amount, high_bidder="b", bid_count=after.bid_count + 1
            )
            batch.append(BidOutcome(after, "a", "b", amount, amount, int(time.time() * 1000)))
        started = time.perf_counter()
        assert await store.record_bids(after, auction.bid_count, batch)
        walls.append((time.perf_counter() - started) * 1000)
        auction = after
    return walls, auction


def spin(spin_s: float, turns: list[float], running: list[bool]) -> None:
    """Burn `spin_s` of CPU, then run again at the loop's next turn."""
    started = time.perf_counter()
    while time.perf_counter() - started < spin_s:
        pass
    if running[0]:
        asyncio.get_running_loop().call_soon(spin, spin_s, turns, running)


def pct(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100)[q - 1], 2)


async def run(args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(SqliteEngine(Path(folder) / "bench.sqlite3"))
        await db.open()
        try:
            store = SellingStore(db)
            auction = await running_auction(db)
            idle, auction = await time_commits(store, auction, args.bids, args.commits)
            turns: list[float] = []
            running = [True]
            loop = asyncio.get_running_loop()
            for _ in range(args.spinners):
                loop.call_soon(spin, args.spin_us / 1e6, turns, running)
            await asyncio.sleep(0)
            turn_started = time.perf_counter()
            await asyncio.sleep(0)
            turn_ms = (time.perf_counter() - turn_started) * 1000
            busy, auction = await time_commits(store, auction, args.bids, args.commits)
            running[0] = False
        finally:
            await db.close()
    return {
        "bids_per_commit": args.bids,
        "commits": args.commits,
        "loop_turn_ms": round(turn_ms, 2),
        "idle_commit_p50_ms": pct(idle, 50),
        "idle_commit_p90_ms": pct(idle, 90),
        "busy_commit_p50_ms": pct(busy, 50),
        "busy_commit_p90_ms": pct(busy, 90),
        "busy_commit_max_ms": round(max(busy), 2),
        "busy_commit_in_turns": round(statistics.median(busy) / turn_ms, 1),
    }


def main() -> None:
    bench_main(
        __doc__,
        run,
        {"bids": (int, 180), "commits": (int, 200), "spinners": (int, 20), "spin_us": (int, 250)},
    )


if __name__ == "__main__":
    main()
