"""Buying under a rush: N concurrent buyers on a buy-now listing of Q items.

Checks that exactly Q orders exist afterwards and prints the buy latency p50/p99, and
the CPU the server and the buyers used during the rush.

    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10 --client-procs 2
    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10 --client-procs 2 --warm 1
    .venv/bin/python bench/buy.py --buyers 1000 --quantity 10 --client-procs 2 --rounds 5

Each buyer opens its own connection when the rush starts (its latency runs from before
the connect to the whole answer); with `--warm 1` each has already loaded the stream
over it, signed in (a viewer whose page is open), so the rush reuses open keep-alive
connections of tokens the server has seen. Buyers run in `--client-procs` processes
(default 1) and are released together once every one of them is on the start line.

`--client lean` (the default) speaks HTTP/1.1 on a bare asyncio Protocol
(bench/lean_http.py: real requests, real parsed answers); `--client aiohttp` uses
aiohttp's client. Real buyers each have their own device, but here they share the
server's two cores, and a buyer's answer read late by a busy client counts in its
latency: aiohttp's client costs about as much CPU per buy as the server does (more
per fresh connection), the lean one about half, so the lean client measures more of
the server and less of the bench. Both are reported in docs/benchmarks.md.

`--rounds R` runs R rushes on R listings against the same server (one second apart),
the buyers staying (warm: with their connections): one rush lasts well under a second,
so a single one is at the mercy of this machine's moments; the output has each rush's
p99, their median, and p50/p99 over all answers.

With `--postgres 1` the server runs on a private PostgreSQL cluster (started and
deleted by the bench, as in the tests) instead of SQLite.

The server runs as a separate `costream serve` process on 127.0.0.1 (set up as in
bench/auction.py: buyers created in its database, tokens signed with its secret).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

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
from bench.lean_http import LeanHttp  # noqa: E402
from server.auth import TokenService  # noqa: E402
from tests.helpers.cluster import stop  # noqa: E402
from tests.helpers.postgres import insert_accounts, start_postgres  # noqa: E402

Answer = tuple[int, str, float]  # status, error code ("" for an order), ms
ROUND_PAUSE_S = 1.0


class Rush(NamedTuple):
    """One rush's answers, wall time, server and buyers' CPU seconds."""

    answers: list[Answer]
    wall: float
    server_cpu: float
    buyers_cpu: float


def _code(status: int, body: bytes) -> str:
    """The protocol's error code of a refusal, "" for an order."""
    return "" if status < 400 else json.loads(body)["error"]["code"]


class StartLine:
    """Buyers report at the line; `all_there` wakes when every one of them has."""

    def __init__(self, count: int) -> None:
        self.go = asyncio.Event()
        self.all_there = asyncio.Event()
        self._missing = count

    async def wait(self) -> None:
        self._missing -= 1
        if self._missing == 0:
            self.all_there.set()
        await self.go.wait()


class AiohttpBuyers:
    """Buyers on aiohttp: warm, one ClientSession whose pool keeps a connection per
    buyer from the page load on; fresh, a new session (so new connections) per rush,
    closed only before the next rush (see LeanBuyers)."""

    def __init__(self, url: str, stream_path: str, tokens: list[str], warm: bool) -> None:
        self._url, self._tokens, self._warm = url, tokens, warm
        self._stream_path = stream_path
        self._session: aiohttp.ClientSession | None = None
        self._last_rush: aiohttp.ClientSession | None = None

    @staticmethod
    def _session_of_many() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def open(self) -> None:
        if self._warm:  # every buyer's page is open, signed in: so is its connection
            self._session = self._session_of_many()

            async def load(token: str) -> None:
                header = {"Authorization": f"Bearer {token}"}
                async with self._session.get(self._url + self._stream_path, headers=header) as r:
                    await r.read()

            await asyncio.gather(*map(load, self._tokens))

    async def rush(self, buy_path: str, line: StartLine) -> list[Answer]:
        await self._close_last_rush()
        http = self._session or self._session_of_many()
        if http is not self._session:
            self._last_rush = http

        async def buyer(token: str) -> Answer:
            header = {"Authorization": f"Bearer {token}"}
            await line.wait()
            sent = time.perf_counter()
            async with http.post(self._url + buy_path, json={}, headers=header) as response:
                body = await response.read()
                ms = (time.perf_counter() - sent) * 1000
            return response.status, _code(response.status, body), ms

        return await asyncio.gather(*map(buyer, self._tokens))

    async def _close_last_rush(self) -> None:
        if self._last_rush is not None:
            await self._last_rush.close()
            self._last_rush = None

    async def close(self) -> None:
        await self._close_last_rush()
        if self._session is not None:
            await self._session.close()


class LeanBuyers:
    """Buyers on bench/lean_http.py, one connection each: warm, opened with the page
    load and kept; fresh, opened at the start of each rush and closed only before the
    next one. A buyer's page keeps its connection alive after the answer; closing a
    process's connections as soon as its own buyers are answered had the server
    handle those closes while the other process's buyers still waited."""

    def __init__(self, url: str, stream_path: str, tokens: list[str], warm: bool) -> None:
        self._url, self._tokens, self._warm = url, tokens, warm
        self._stream_path = stream_path
        self._open: list[LeanHttp] = []
        self._last_rush: list[LeanHttp] = []

    async def open(self) -> None:
        if self._warm:
            self._open = [LeanHttp(self._url) for _ in self._tokens]

            async def load(connection: LeanHttp, token: str) -> None:
                await connection.connect()
                await connection.request("GET", self._stream_path, _auth(token))

            await asyncio.gather(*map(load, self._open, self._tokens))

    async def rush(self, buy_path: str, line: StartLine) -> list[Answer]:
        self._close_last_rush()
        connections = self._open or [LeanHttp(self._url) for _ in self._tokens]
        if connections is not self._open:
            self._last_rush = connections

        async def buyer(connection: LeanHttp, token: str) -> Answer:
            headers = {**_auth(token), "Content-Type": "application/json"}
            await line.wait()
            sent = time.perf_counter()
            if not self._warm:
                await connection.connect()
            answer = await connection.request("POST", buy_path, headers, b"{}")
            ms = (time.perf_counter() - sent) * 1000
            return answer.status, _code(answer.status, answer.body), ms

        return await asyncio.gather(*map(buyer, connections, self._tokens))

    def _close_last_rush(self) -> None:
        for connection in self._last_rush:
            connection.close()
        self._last_rush = []

    async def close(self) -> None:
        self._close_last_rush()
        for connection in self._open:
            connection.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CLIENTS = {"aiohttp": AiohttpBuyers, "lean": LeanBuyers}


def buy_in_process(
    client: str,
    url: str,
    stream_id: str,
    listing_ids: list[str],
    tokens: list[str],
    warm: bool,
    ready,
    go,
    results,
) -> None:
    """A buyers' process: for each listing (one rush each), every buyer comes to the
    start line, buys once at `go`, and the process reports (status, code, ms) per buyer
    and its own CPU seconds of the rush."""

    # What the fork inherited (the bench's modules and objects) lives as long as this
    # process: kept out of the collector's full passes, as in the server.
    gc.freeze()

    async def main() -> None:
        buyers = CLIENTS[client](url, f"/api/streams/{stream_id}", tokens, warm)
        await buyers.open()
        try:
            for listing_id in listing_ids:
                line = StartLine(len(tokens))
                rush = asyncio.create_task(buyers.rush(f"/api/listings/{listing_id}/buy", line))
                await line.all_there.wait()
                ready.put(len(tokens))
                await asyncio.get_running_loop().run_in_executor(None, go.get, True, 300)
                cpu_before = time.process_time()
                line.go.set()
                answers = await rush
                results.put((answers, time.process_time() - cpu_before))
        finally:
            await buyers.close()

    asyncio.run(main())


async def run(args: argparse.Namespace) -> dict:
    postgres = start_postgres() if args.postgres else None
    database_url = postgres.create_database() if postgres else None
    settings = {"COSTREAM_DATABASE_URL": database_url} if database_url else {}
    context = multiprocessing.get_context("fork")
    workers: list[multiprocessing.Process] = []
    rushes: list[Rush] = []
    listing_ids: list[str] = []
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
                listing_ids = [
                    (await post(http, f"{url}/api/streams/{stream['id']}/listings", body, host))[
                        "listing"
                    ]["id"]
                    for _ in range(args.rounds)
                ]
                buyer_tokens = [tokens.issue(n) for n in names]
                ready, go, results = context.Queue(), context.Queue(), context.Queue()
                shares = [buyer_tokens[i :: args.client_procs] for i in range(args.client_procs)]
                common = (url, stream["id"], listing_ids)
                workers += [
                    context.Process(
                        target=buy_in_process,
                        args=(args.client, *common, share, bool(args.warm), ready, go, results),
                    )
                    for share in shares
                ]
                for worker in workers:
                    worker.start()
                for round_ in range(args.rounds):
                    if round_:  # let the last rush's connections close (not a synchronisation)
                        await asyncio.sleep(ROUND_PAUSE_S)
                    await asyncio.gather(
                        *(loop.run_in_executor(None, ready.get, True, 300) for _ in workers)
                    )
                    cpu_before = cpu_seconds(process.pid)
                    t0 = time.perf_counter()
                    for _ in workers:
                        go.put(True)
                    answers: list[Answer] = []
                    buyers_cpu = 0.0
                    for _ in workers:
                        got, cpu = await loop.run_in_executor(None, results.get, True, 300)
                        answers += got
                        buyers_cpu += cpu
                    wall = time.perf_counter() - t0
                    rushes.append(
                        Rush(answers, wall, cpu_seconds(process.pid) - cpu_before, buyers_cpu)
                    )
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
    per_listing = {listing_id: 0 for listing_id in listing_ids}
    for order in orders:
        per_listing[order["listing_id"]] += 1
    statuses: dict[str, int] = {}
    for rush in rushes:
        for status, code, _ in rush.answers:
            key = f"{status} {code}".strip()
            statuses[key] = statuses.get(key, 0) + 1
    latencies = [ms for rush in rushes for _, _, ms in rush.answers]
    p99s = [quantile_ms([ms for _, _, ms in rush.answers], 99) for rush in rushes]
    server_cpu = sum(rush.server_cpu for rush in rushes)
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "buyers": args.buyers,
        "quantity": args.quantity,
        "rounds": args.rounds,
        "warm_connections": bool(args.warm),
        "client": args.client,
        "client_procs": args.client_procs,
        "statuses": statuses,
        "orders": len(orders),
        "exactly_quantity_orders": all(n == args.quantity for n in per_listing.values()),
        "wall_s": [round(rush.wall, 2) for rush in rushes],
        "buy_p50_ms": quantile_ms(latencies, 50),
        "buy_p99_ms": quantile_ms(latencies, 99),
        "buy_max_ms": round(max(latencies), 1),
        "buy_p99_ms_per_rush": p99s,
        "buy_p99_ms_median_rush": statistics.median(p99s),
        "server_cpu_ms_per_rush": [round(rush.server_cpu * 1000) for rush in rushes],
        "server_cpu_ms_per_buy": round(server_cpu * 1000 / len(latencies), 3),
        "buyers_cpu_ms_per_buy": round(
            sum(rush.buyers_cpu for rush in rushes) * 1000 / len(latencies), 3
        ),
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
            "client": (str, "lean"),
            "rounds": (int, 1),
        },
    )


if __name__ == "__main__":
    main()
