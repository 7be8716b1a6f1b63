"""Stock that grows again: the host raises a sold-out listing's quantity
(`PATCH /api/listings/{id}`) and buyers can buy it, on the process that saw it sell
out and on another process sharing the database and Redis; the refusals of the
change. (An auction that ends unsold keeps its one item, `remaining` 1: nothing for
the stock view to unlearn, and a buy of it is `not_buy_now` before any stock rule.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.auth import TokenService
from server.domain.times import utc_now
from tests.conftest import BOTH_DATABASES
from tests.helpers.api import Api
from tests.helpers.cluster import Cluster, Redis, start_cluster
from tests.helpers.room import Room
from tests.selling.conftest import buy, call, error_of, expect, new_listing
from tests.selling.test_postgres_cluster import post_created


async def restock(room: Room, listing_id: str, quantity: int) -> dict[str, Any]:
    path = f"/api/listings/{listing_id}"
    return (await expect(room, 200, "PATCH", path, "hostess", {"quantity": quantity}))["listing"]


@BOTH_DATABASES
async def test_a_sold_out_listing_sells_again_once_its_quantity_is_raised(room: Room) -> None:
    item = await new_listing(room, quantity=1)
    assert (await buy(room, item["id"], "bob"))[0] == 201
    # This process has now seen it sold out (its stock view holds 0).
    assert error_of(await buy(room, item["id"], "carol")) == (409, "sold_out")

    listing = await restock(room, item["id"], 3)
    assert (listing["quantity"], listing["remaining"], listing["status"]) == (3, 2, "active")
    assert (await buy(room, item["id"], "carol"))[0] == 201
    assert (await buy(room, item["id"], "dave"))[0] == 201
    assert error_of(await buy(room, item["id"], "carol")) == (409, "sold_out")

    # Lowering to exactly what was sold is allowed (sold out); below it is not.
    listing = await restock(room, item["id"], 3)
    assert (listing["remaining"], listing["status"]) == (0, "sold_out")
    path = f"/api/listings/{item['id']}"
    answer = await call(room, "PATCH", path, "hostess", {"quantity": 2})
    assert error_of(answer) == (400, "invalid_field")


async def test_raising_a_quantity_is_the_hosts_alone(room: Room) -> None:
    item = await new_listing(room, quantity=1)
    path = f"/api/listings/{item['id']}"
    for user, expected in (
        (None, (401, "unauthorized")),
        ("bob", (403, "forbidden")),
        ("cohost", (403, "forbidden")),
    ):
        assert error_of(await call(room, "PATCH", path, user, {"quantity": 5})) == expected
    for bad in (0, -1, "5", None, 100_001):
        answer = await call(room, "PATCH", path, "hostess", {"quantity": bad})
        assert error_of(answer) == (400, "invalid_field"), bad
    lot = await new_listing(room, format="auction")
    answer = await call(room, "PATCH", f"/api/listings/{lot['id']}", "hostess", {"quantity": 2})
    assert error_of(answer) == (400, "invalid_field")
    answer = await call(room, "PATCH", "/api/listings/nope", "hostess", {"quantity": 2})
    assert error_of(answer) == (404, "listing_not_found")
    listings = await expect(room, 200, "GET", f"/api/streams/{room.stream_id}/listings", None)
    assert [(x["quantity"], x["remaining"]) for x in listings["listings"]] == [(1, 1), (1, 1)]

    await expect(room, 200, "POST", f"/api/streams/{room.stream_id}/end", "hostess")
    answer = await call(room, "PATCH", path, "hostess", {"quantity": 5})
    assert error_of(answer) == (409, "stream_ended")


async def test_a_restock_reaches_the_viewers(room: Room) -> None:
    item = await new_listing(room, quantity=1)
    bob = await room.client("bob")
    await restock(room, item["id"], 4)
    updated = await bob.next("listing:updated")
    assert (updated["listing"]["id"], updated["listing"]["remaining"]) == (item["id"], 4)


# -- two processes ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir: Path = tmp_path_factory.mktemp("restock-pair") / "data"
    running = start_cluster(2, redis_server.url, data_dir)
    yield running
    running.stop()


def accounts(cluster: Cluster, names: list[str]) -> dict[str, str]:
    """Accounts straight in the shared SQLite file (argon2 is slow); their tokens."""
    with sqlite3.connect(cluster.data_dir / "costream.sqlite3") as db:
        db.executemany(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, '!', ?)",
            [(name, utc_now().isoformat()) for name in names],
        )
    tokens = TokenService(cluster.secret, 3600)
    return {name: tokens.issue(name) for name in names}


@pytest.mark.slow
async def test_a_restock_on_one_process_sells_on_the_other(pair: Cluster) -> None:
    tokens = accounts(pair, ["seller", "ann", "ben", "cy", "di"])
    host = tokens["seller"]
    one, two = (node.url for node in pair.nodes)
    async with Api(one) as api_one, Api(two) as api_two:
        stream = await api_one.create_stream(host, title="Restock")
        await api_one.start(host, stream["id"])
        path = f"/api/streams/{stream['id']}/listings"
        body = await post_created(api_one, path, host, title="Mug", price_cents=900, quantity=1)
        buy_path = f"/api/listings/{body['listing']['id']}/buy"
        patch_path = f"/api/listings/{body['listing']['id']}"

        async def buys(api: Api, name: str) -> tuple[int, str | None]:
            status, answer = await api.request("POST", buy_path, token=tokens[name], json={})
            return status, None if status == 201 else answer["error"]["code"]

        assert await buys(api_one, "ann") == (201, None)
        # Both processes have seen it sold out.
        assert await buys(api_one, "ben") == (409, "sold_out")
        assert await buys(api_two, "ben") == (409, "sold_out")

        # Raised on one process, bought on the other (whose view still holds 0).
        turns = ((api_one, api_two, "ben", 2), (api_two, api_one, "cy", 3))
        for restocker, other, name, quantity in turns:
            status, answer = await restocker.request(
                "PATCH", patch_path, token=host, json={"quantity": quantity}
            )
            assert status == 200 and answer["listing"]["remaining"] == 1, answer
            assert await buys(other, name) == (201, None)
            assert await buys(other, "di") == (409, "sold_out")
