"""Buying under a rush: N concurrent buyers on a buy-now listing of Q items.

Checks that exactly Q orders exist afterwards and prints the buy latency p50/p99, and
the CPU the server and the buyers used during the rush.

    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10
    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10 --warm 1

Each buyer opens its own connection when the rush starts; with `--warm 1` each has
already loaded the stream over it (a viewer whose page is open), so the rush reuses
open keep-alive connections. The sleep before the start is not a synchronisation:
it only lets every buyer reach the start line (the measure starts at the release).

With `--postgres 1` the server runs on a private PostgreSQL cluster (started and
deleted by the bench, as in the tests) instead of SQLite.

The server runs as a separate `costream serve` process on 127.0.0.1 (set up as in
bench/auction.py: buyers created in its database, tokens signed with its secret).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.auction import (  # noqa: E402
    SECRET,
    add_users,
    bench_main,
    live_stream,
    prepare_data_dir,
    quantile_ms,
)
from bench.chat_fanout import cpu_seconds, post, start_server, wait_healthy  # noqa: E402
from server.auth import TokenService  # noqa: E402
from tests.helpers.cluster import stop  # noqa: E402
from tests.helpers.postgres import insert_accounts, start_postgres  # noqa: E402


async def run(args: argparse.Namespace) -> dict:
    postgres = start_postgres() if args.postgres else None
    database_url = postgres.create_database() if postgres else None
    settings = {"COSTREAM_DATABASE_URL": database_url} if database_url else {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = prepare_data_dir(tmp)
        process, url = start_server(data_dir, {"COSTREAM_SECRET_KEY": SECRET, **settings})
        tokens = TokenService(SECRET, 3600)
        try:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                await wait_healthy(http, url)
                names = [f"buyer{n}" for n in range(args.buyers)]
                if database_url:
                    await insert_accounts(database_url, ["host", *names])
                else:
                    add_users(data_dir / "costream.sqlite3", ["host", *names])
                host = tokens.issue("host")
                stream = await live_stream(http, url, host)
                body = {"title": "Drop", "price_cents": 2500, "quantity": args.quantity}
                listing = (
                    await post(http, f"{url}/api/streams/{stream['id']}/listings", body, host)
                )["listing"]
                headers = [{"Authorization": f"Bearer {tokens.issue(n)}"} for n in names]
                go = asyncio.Event()

                async def buyer(header: dict[str, str]) -> tuple[int, float]:
                    if args.warm:  # the buyer's page is open: its connection is, too
                        async with http.get(f"{url}/api/streams/{stream['id']}") as response:
                            await response.read()
                    await go.wait()
                    sent = time.perf_counter()
                    async with http.post(
                        f"{url}/api/listings/{listing['id']}/buy", json={}, headers=header
                    ) as response:
                        await response.read()
                        return response.status, (time.perf_counter() - sent) * 1000

                tasks = [asyncio.create_task(buyer(h)) for h in headers]
                await asyncio.sleep(3 if args.warm else 0.5)  # every buyer on the start line
                cpu_before = cpu_seconds(process.pid), time.process_time()
                t0 = time.perf_counter()
                go.set()
                results = await asyncio.gather(*tasks)
                wall = time.perf_counter() - t0
                server_cpu = cpu_seconds(process.pid) - cpu_before[0]
                buyers_cpu = time.process_time() - cpu_before[1]
                async with http.get(
                    f"{url}/api/streams/{stream['id']}/orders",
                    headers={"Authorization": f"Bearer {host}"},
                ) as response:
                    orders = (await response.json())["orders"]
        finally:
            stop(process, timeout=20)
            if postgres and database_url:
                postgres.drop_database(database_url)
                postgres.stop()
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = [ms for _, ms in results]
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "buyers": args.buyers,
        "quantity": args.quantity,
        "warm_connections": bool(args.warm),
        "statuses": statuses,
        "orders": len(orders),
        "exactly_quantity_orders": len(orders) == args.quantity,
        "wall_s": round(wall, 2),
        "buy_p50_ms": quantile_ms(latencies, 50),
        "buy_p99_ms": quantile_ms(latencies, 99),
        "server_cpu_s": round(server_cpu, 2),
        "buyers_cpu_s": round(buyers_cpu, 2),
    }


def main() -> None:
    bench_main(
        __doc__,
        run,
        {"buyers": (int, 1000), "quantity": (int, 10), "warm": (int, 0), "postgres": (int, 0)},
    )


if __name__ == "__main__":
    main()
