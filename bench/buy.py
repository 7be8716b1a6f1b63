"""Buying under a rush: N concurrent buyers on a buy-now listing of Q items.

Checks that exactly Q orders exist afterwards and prints the buy latency p50/p99, and
the CPU the server and the buyers used during the rush.

    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10
    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10 --warm 1

    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10 --warm 1 --client-procs 2

Each buyer opens its own connection when the rush starts; with `--warm 1` each has
already loaded the stream over it, signed in (a viewer whose page is open), so the
rush reuses open keep-alive connections of tokens the server has seen. The sleep
before the start is not a synchronisation: it only lets every buyer reach the start
line (the measure starts at the release). Buyers run in `--client-procs` processes
(default 1), released together: 1000 aiohttp requests and their answers cost one
client process about as much CPU as they cost the server, and a buyer's answer read
late by a busy client counts in its latency; real buyers each have their own device.

With `--postgres 1` the server runs on a private PostgreSQL cluster (started and
deleted by the bench, as in the tests) instead of SQLite.

The server runs as a separate `costream serve` process on 127.0.0.1 (set up as in
bench/auction.py: buyers created in its database, tokens signed with its secret).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
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


def buy_in_process(
    url: str, stream_id: str, listing_id: str, tokens: list[str], warm: bool, ready, go, results
) -> None:
    """A buyers' process: every buyer waits on the start line, buys once at `go`, and
    the process reports (status, ms) per buyer and its own CPU seconds of the rush."""

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            start = asyncio.Event()

            async def buyer(token: str) -> tuple[int, float]:
                header = {"Authorization": f"Bearer {token}"}
                if warm:  # the buyer's page is open, signed in: so is its connection
                    async with http.get(f"{url}/api/streams/{stream_id}", headers=header) as r:
                        await r.read()
                await start.wait()
                sent = time.perf_counter()
                async with http.post(
                    f"{url}/api/listings/{listing_id}/buy", json={}, headers=header
                ) as response:
                    await response.read()
                    return response.status, (time.perf_counter() - sent) * 1000

            tasks = [asyncio.create_task(buyer(token)) for token in tokens]
            await asyncio.sleep(3 if warm else 0.5)  # every buyer on the start line
            ready.put(len(tasks))
            await asyncio.get_running_loop().run_in_executor(None, go.get, True, 300)
            cpu_before = time.process_time()
            start.set()
            answers = await asyncio.gather(*tasks)
            results.put((answers, time.process_time() - cpu_before))

    asyncio.run(main())


async def run(args: argparse.Namespace) -> dict:
    postgres = start_postgres() if args.postgres else None
    database_url = postgres.create_database() if postgres else None
    settings = {"COSTREAM_DATABASE_URL": database_url} if database_url else {}
    context = multiprocessing.get_context("fork")
    workers: list[multiprocessing.Process] = []
    loop = asyncio.get_running_loop()
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
                buyer_tokens = [tokens.issue(n) for n in names]
                ready, go, results = context.Queue(), context.Queue(), context.Queue()
                shares = [buyer_tokens[i :: args.client_procs] for i in range(args.client_procs)]
                common = (url, stream["id"], listing["id"])
                workers += [
                    context.Process(
                        target=buy_in_process,
                        args=(*common, share, bool(args.warm), ready, go, results),
                    )
                    for share in shares
                ]
                for worker in workers:
                    worker.start()
                await asyncio.gather(
                    *(loop.run_in_executor(None, ready.get, True, 300) for _ in workers)
                )
                cpu_before = cpu_seconds(process.pid)
                t0 = time.perf_counter()
                for _ in workers:
                    go.put(True)
                answers: list[tuple[int, float]] = []
                buyers_cpu = 0.0
                for _ in workers:
                    got, cpu = await loop.run_in_executor(None, results.get, True, 300)
                    answers += got
                    buyers_cpu += cpu
                wall = time.perf_counter() - t0
                server_cpu = cpu_seconds(process.pid) - cpu_before
                async with http.get(
                    f"{url}/api/streams/{stream['id']}/orders",
                    headers={"Authorization": f"Bearer {host}"},
                ) as response:
                    orders = (await response.json())["orders"]
        finally:
            for worker in workers:
                worker.join(timeout=30)
            stop(process, timeout=20)
            if postgres and database_url:
                postgres.drop_database(database_url)
                postgres.stop()
    statuses: dict[int, int] = {}
    for status, _ in answers:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = [ms for _, ms in answers]
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "buyers": args.buyers,
        "quantity": args.quantity,
        "warm_connections": bool(args.warm),
        "client_procs": args.client_procs,
        "statuses": statuses,
        "orders": len(orders),
        "exactly_quantity_orders": len(orders) == args.quantity,
        "wall_s": round(wall, 2),
        "buy_p50_ms": quantile_ms(latencies, 50),
        "buy_p99_ms": quantile_ms(latencies, 99),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_buy": round(server_cpu * 1000 / args.buyers, 3),
        "buyers_cpu_s": round(buyers_cpu, 2),
    }


def main() -> None:
    bench_main(
        __doc__,
        run,
        {
            "buyers": (int, 1000),
            "quantity": (int, 10),
            "warm": (int, 0),
            "postgres": (int, 0),
            "client_procs": (int, 1),
        },
    )


if __name__ == "__main__":
    main()
