"""Two `costream serve` processes on one PostgreSQL database and one Redis: buys and
code redemptions spread over both never oversell, never over-use a code, and every
order is recorded once in PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from server.auth import TokenService
from tests.helpers.api import Api
from tests.helpers.cluster import Cluster, Redis, start_cluster
from tests.helpers.postgres import Postgres, insert_accounts

pytestmark = pytest.mark.slow

BUYERS = 60
STOCK = 7
CODE_USES = 4


@pytest.fixture(scope="module")
def pg_database(postgres_server: Postgres) -> Iterator[str]:
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="module")
def cluster(
    redis_server: Redis, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    data_dir: Path = tmp_path_factory.mktemp("pg-cluster") / "data"
    running = start_cluster(2, redis_server.url, data_dir, database_url=pg_database)
    yield running
    running.stop()


async def add_accounts(database_url: str, secret: str, names: list[str]) -> dict[str, str]:
    """Accounts in PostgreSQL; returns their tokens."""
    await insert_accounts(database_url, names)
    tokens = TokenService(secret, 3600)
    return {name: tokens.issue(name) for name in names}


async def post_created(api: Api, path: str, token: str, **body: object) -> dict:
    """POST `body` to `path`, which must answer 201; returns the answer."""
    status, answer = await api.request("POST", path, token=token, json=body)
    assert status == 201, answer
    return answer


async def buy_all(
    apis: tuple[Api, Api], listing_id: str, tokens: dict[str, str], buyers: list[str], **body: str
) -> list[tuple[int, dict]]:
    """Every buyer at once, alternating between the two processes."""
    return await asyncio.gather(
        *(
            apis[n % 2].request(
                "POST", f"/api/listings/{listing_id}/buy", token=tokens[name], json=body
            )
            for n, name in enumerate(buyers)
        )
    )


def outcomes(answers: list[tuple[int, dict]]) -> Counter:
    return Counter(status if status == 201 else body["error"]["code"] for status, body in answers)


async def test_buys_on_two_processes_never_oversell(cluster: Cluster, pg_database: str) -> None:
    one, two = (node.url for node in cluster.nodes)
    buyers = [f"fan{n}" for n in range(BUYERS)]
    tokens = await add_accounts(pg_database, cluster.secret, ["hostess", *buyers])
    host = tokens["hostess"]
    async with Api(one) as api_one, Api(two) as api_two:
        stream = await api_one.create_stream(host, title="PostgreSQL show")
        await api_one.start(host, stream["id"])
        listings = f"/api/streams/{stream['id']}/listings"
        item = {"title": "Print", "price_cents": 1000}
        scarce, plenty = [
            (await post_created(api_one, listings, host, **item, quantity=q))["listing"]["id"]
            for q in (STOCK, 1000)
        ]
        codes = f"/api/streams/{stream['id']}/codes"
        await post_created(api_two, codes, host, code="LIVE10", percent_off=10, max_uses=CODE_USES)

        scarce_answers = await buy_all((api_one, api_two), scarce, tokens, buyers)
        coded_answers = await buy_all(
            (api_one, api_two), plenty, tokens, buyers, discount_code="LIVE10"
        )
    assert outcomes(scarce_answers) == {201: STOCK, "sold_out": BUYERS - STOCK}
    assert outcomes(coded_answers) == {201: CODE_USES, "code_exhausted": BUYERS - CODE_USES}

    conn = await asyncpg.connect(pg_database)
    try:
        orders = await conn.fetch("SELECT id, listing_id, discount_code FROM orders")
        remaining = await conn.fetchval("SELECT remaining FROM listings WHERE id = $1", scarce)
        uses = await conn.fetchval("SELECT uses FROM discount_codes WHERE code = 'LIVE10'")
        sale_entries = await conn.fetchval(
            "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'sale' AND stream_id = $1",
            stream["id"],
        )
    finally:
        await conn.close()
    created = [
        body["order"]["id"] for status, body in scarce_answers + coded_answers if status == 201
    ]
    assert sorted(row["id"] for row in orders) == sorted(created)  # each order once
    assert Counter(row["listing_id"] for row in orders) == {scarce: STOCK, plenty: CODE_USES}
    assert remaining == 0
    assert uses == CODE_USES
    assert sale_entries == STOCK + CODE_USES
