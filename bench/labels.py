"""Shipping labels for a big show: seconds to make the labels and render the PDF (and
CSV), and the process's peak memory.

A show with `--orders` orders (default 2000) from `--buyers` buyers, a third of them
consignor items, is written straight into a fresh SQLite database with the real
`insert_order` (so every order also gets its ledger entry). Then the real stores and
document code run: file the orders into shipments and make the labels (one
transaction), read them back with their lines, render the PDF (one 4x6 in page per
label) and the CSV. Targets: <= 10 s for labels + PDF, <= 300 MB peak RSS.

    .venv/bin/python bench/labels.py --orders 2000
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.documents.labels import labels_csv, labels_pdf  # noqa: E402
from server.domain.commerce import Listing, Order  # noqa: E402
from server.domain.profile import Address  # noqa: E402
from server.domain.streams import Stream  # noqa: E402
from server.sql import SqliteEngine  # noqa: E402
from server.store import Database, insert_order  # noqa: E402
from server.stores.sql_profile import SqlProfileStore  # noqa: E402
from server.stores.sql_shipping import SqlShippingStore  # noqa: E402

HOST, CONSIGNOR = "hostess", "bob"


def _address(name: str) -> Address:
    return Address(
        name, f"{len(name)} Long Parcel Street", "Building B", "Lyon", None, "69001", "FR"
    )


async def seed(db: Database, orders: int, buyers: int) -> str:
    now = datetime.now(UTC)
    stream = Stream(
        "bench", "Benchmark drop", "", "video", "ended", HOST, None, None, now, now, now
    )
    await db.insert_stream(stream)
    profiles = SqlProfileStore(db)
    names = [HOST, CONSIGNOR, *(f"buyer{i:05d}" for i in range(buyers))]
    for name in names:
        await db.insert_user(name, "!unusable", now.isoformat())
        await profiles.save_address(name, _address(f"Buyer {name}"))
    listings = []
    for i in range(30):
        listing = Listing(
            id=f"l{i}",
            stream_id=stream.id,
            title=f"Item number {i} with a fairly long descriptive title",
            description="",
            price_cents=1000 + i,
            currency="USD",
            quantity=100_000,
            remaining=100_000,
            consignor=CONSIGNOR if i % 3 == 0 else None,
            status="active",
            compare_at_cents=None,
            created_at=now,
        )
        await db.insert_listing(listing)
        listings.append(listing)
    async with db.transaction() as conn:
        for i in range(orders):
            listing = listings[(i * 7) % len(listings)]
            order = Order(
                f"o{i}",
                stream.id,
                listing.id,
                names[2 + i % buyers],
                HOST,
                1,
                listing.price_cents,
                listing.price_cents,
                "USD",
                listing.consignor,
                now,
            )
            await insert_order(conn, order)
    return stream.id


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--buyers", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(SqliteEngine(Path(folder) / "bench.sqlite3"))
        await db.open()
        stream_id = await seed(db, args.orders, min(args.buyers, args.orders))
        shipping = SqlShippingStore(db)

        cpu_started = time.process_time()
        started = time.perf_counter()
        made, skipped = await shipping.create_labels(stream_id, _address("Host"), datetime.now(UTC))
        made_at = time.perf_counter()
        printed = await shipping.labels(stream_id, None)
        read_at = time.perf_counter()
        pdf = await asyncio.to_thread(labels_pdf, printed, "Benchmark drop")
        pdf_at = time.perf_counter()
        cpu_pdf_at = time.process_time()
        text = labels_csv(printed)
        done = time.perf_counter()
        await db.close()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"orders {args.orders}, buyers {min(args.buyers, args.orders)}")
    print(f"labels made: {len(made)} (skipped {len(skipped)})")
    print(f"file orders + make labels: {made_at - started:6.2f} s")
    print(f"read labels + lines:       {read_at - made_at:6.2f} s")
    print(f"render PDF:                {pdf_at - read_at:6.2f} s ({len(pdf) / 1e6:.1f} MB)")
    print(f"render CSV:                {done - pdf_at:6.2f} s ({len(text) / 1e6:.1f} MB)")
    print(f"labels + PDF total:        {pdf_at - started:6.2f} s (target <= 10 s)")
    # CPU seconds of the process (all threads): the cost without other load's waiting.
    print(f"labels + PDF CPU time:     {cpu_pdf_at - cpu_started:6.2f} s")
    print(f"peak RSS:                  {peak_mb:6.0f} MB (target <= 300 MB)")


if __name__ == "__main__":
    asyncio.run(main())
