"""Live commerce end to end: listings, presenting, buying (never overselling) and orders."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from server.keys import STREAMS
from tests.conftest import BOTH_DATABASES
from tests.helpers.api import Api
from tests.helpers.room import Room, make_room
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Connect

pytestmark = BOTH_DATABASES

LISTING_KEYS = {
    "id",
    "stream_id",
    "title",
    "description",
    "price_cents",
    "currency",
    "quantity",
    "remaining",
    "consignor",
    "status",
}
ORDER_KEYS = {
    "id",
    "stream_id",
    "listing_id",
    "buyer",
    "seller",
    "quantity",
    "unit_price_cents",
    "total_cents",
    "currency",
    "consignor",
    "created_at",
    "discount_code",
    "discount_cents",
    "giveaway_id",
    "referrer",  # sharers (protocol-sharers.md)
}
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
async def room(server: RunningServer, api: Api, connect: Connect) -> Room:
    return await make_room(server, api, connect)


async def call(
    room: Room, method: str, path: str, user: str | None, json: Any = None
) -> tuple[int, Any]:
    return await room.api.request(
        method, path, token=room.tokens[user] if user else None, json=json
    )


async def create(room: Room, user: str = "hostess", **fields: Any) -> tuple[int, Any]:
    body = {"title": "Red sneakers", "price_cents": 4999, "quantity": 3, **fields}
    return await call(room, "POST", f"/api/streams/{room.stream_id}/listings", user, body)


async def listing(room: Room, **fields: Any) -> dict[str, Any]:
    status, body = await create(room, **fields)
    assert status == 201, body
    return body["listing"]


async def buy(room: Room, listing_id: str, user: str | None, **fields: Any) -> tuple[int, Any]:
    return await call(room, "POST", f"/api/listings/{listing_id}/buy", user, fields)


async def listings(room: Room) -> list[dict[str, Any]]:
    status, body = await call(room, "GET", f"/api/streams/{room.stream_id}/listings", None)
    assert status == 200, body
    return body["listings"]


async def orders(room: Room, user: str = "hostess") -> tuple[int, Any]:
    return await call(room, "GET", f"/api/streams/{room.stream_id}/orders", user)


def error(answer: tuple[int, Any]) -> tuple[int, str]:
    status, body = answer
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return status, body["error"]["code"]


async def test_the_host_creates_listings_anyone_lists_them(room: Room) -> None:
    status, body = await create(room, description="size 42", currency="EUR")
    assert status == 201
    item = body["listing"]
    assert set(item) >= LISTING_KEYS
    assert item["id"] and isinstance(item["id"], str)
    assert {k: v for k, v in item.items() if k != "id"} == {
        "stream_id": room.stream_id,
        "title": "Red sneakers",
        "description": "size 42",
        "price_cents": 4999,
        "currency": "EUR",
        "quantity": 3,
        "remaining": 3,
        "consignor": None,
        "status": "active",
        "compare_at_cents": None,
        "format": "buy_now",
        "sku": None,
        "per_buyer_limit": None,
        "daily_cap": None,
        "increment_cents": 100,
        "auction_seconds": 30,
        "sudden_death": False,
        "flash": None,
    }
    plain = await listing(room, title="Cap", price_cents=0, quantity=1)
    assert (plain["currency"], plain["description"], plain["compare_at_cents"]) == ("USD", "", None)
    assert await listings(room) == [item, plain]  # oldest first, anonymous may read

    status, body = await call(room, "GET", "/api/streams/nope/listings", None)
    assert (status, body["error"]["code"]) == (404, "stream_not_found")


async def test_only_the_host_creates_listings(room: Room) -> None:
    await room.server.app[STREAMS].seat_cohost(room.stream_id, "bob")
    assert error(await create(room, "bob")) == (403, "forbidden")  # the cohost
    assert error(await create(room, "carol")) == (403, "forbidden")  # a viewer
    assert error(await create(room, None)) == (401, "unauthorized")
    assert await listings(room) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": 5}, "title"),
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": 9.5}, "price_cents"),
        ({"price_cents": True}, "price_cents"),
        ({"price_cents": "100"}, "price_cents"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 100_001}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "USDX"}, "currency"),
        ({"description": "x" * 2001}, "description"),
        ({"compare_at_cents": 4998}, "compare_at_cents"),
        ({"consignor": "nobody_here"}, "consignor"),
        ({"consignor": 7}, "consignor"),
    ],
)
async def test_bad_listings_are_refused(room: Room, fields: dict[str, Any], field: str) -> None:
    status, body = await create(room, **fields)
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert body["error"]["message"].startswith(f"{field}:")
    assert await listings(room) == []


async def test_no_listings_in_an_ended_stream(room: Room) -> None:
    await room.api.end(room.tokens["hostess"], room.stream_id)
    assert error(await create(room)) == (409, "stream_ended")
    status, body = await call(room, "POST", "/api/streams/nope/listings", "hostess", {})
    assert (status, body["error"]["code"]) == (404, "stream_not_found")


async def test_the_host_and_the_cohost_present_viewers_cannot(room: Room) -> None:
    item = await listing(room)
    await room.server.app[STREAMS].seat_cohost(room.stream_id, "bob")
    for user in ("hostess", "bob"):
        status, body = await call(room, "POST", f"/api/listings/{item['id']}/present", user)
        assert (status, body) == (200, {"listing": item})
    path = f"/api/listings/{item['id']}/present"
    assert error(await call(room, "POST", path, "carol")) == (403, "forbidden")
    assert error(await call(room, "POST", path, None)) == (401, "unauthorized")
    assert error(await call(room, "POST", "/api/listings/nope/present", "hostess")) == (
        404,
        "listing_not_found",
    )


async def test_buying_makes_an_order_for_the_host(room: Room) -> None:
    item = await listing(room, quantity=5)
    status, body = await buy(room, item["id"], "carol", quantity=2)
    assert status == 201
    order = body["order"]
    assert set(order) == ORDER_KEYS
    assert UTC_TIME.fullmatch(order["created_at"])
    assert order["id"] and isinstance(order["id"], str)
    assert {k: order[k] for k in ORDER_KEYS - {"id", "created_at"}} == {
        "stream_id": room.stream_id,
        "listing_id": item["id"],
        "buyer": "carol",
        "seller": "hostess",
        "quantity": 2,
        "unit_price_cents": 4999,
        "total_cents": 9998,
        "currency": "USD",
        "consignor": None,
        "discount_code": None,
        "discount_cents": 0,
        "giveaway_id": None,
        "referrer": None,
    }
    status, body = await call(room, "POST", f"/api/listings/{item['id']}/buy", "bob")  # no body
    assert status == 201 and body["order"]["quantity"] == 1
    [after] = await listings(room)
    assert (after["remaining"], after["status"]) == (2, "active")
    assert [o["buyer"] for o in (await orders(room))[1]["orders"]] == ["carol", "bob"]
    assert (await orders(room))[1]["orders"][0] == order


async def test_the_host_and_cohost_cannot_buy(room: Room) -> None:
    item = await listing(room)
    await room.server.app[STREAMS].seat_cohost(room.stream_id, "bob")
    assert error(await buy(room, item["id"], "hostess")) == (403, "forbidden")
    assert error(await buy(room, item["id"], "bob")) == (403, "forbidden")
    assert error(await buy(room, item["id"], None)) == (401, "unauthorized")
    assert error(await buy(room, "nope", "carol")) == (404, "listing_not_found")
    assert (await listings(room))[0]["remaining"] == 3
    assert (await orders(room))[1]["orders"] == []


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": 0},
        {"quantity": 4},  # more than the listing's quantity
        {"quantity": "1"},
        {"quantity": True},
        {"quantity": 1.5},
        {"discount_code": 10},
        {"discount_code": "no"},
    ],
)
async def test_bad_purchases_change_nothing(room: Room, fields: dict[str, Any]) -> None:
    item = await listing(room)
    status, body = await buy(room, item["id"], "carol", **fields)
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert body["error"]["message"].startswith(f"{next(iter(fields))}:")
    assert await listings(room) == [item]
    assert (await orders(room))[1]["orders"] == []


async def test_buying_needs_a_live_stream(
    server: RunningServer, api: Api, connect: Connect
) -> None:
    host = await add_user(server, "hostess")
    buyer = await add_user(server, "carol")
    stream = await api.create_stream(host, title="Later")
    room = Room(server, api, connect, stream["id"], {"hostess": host, "carol": buyer})
    item = await listing(room)  # listing before going live is fine
    assert error(await buy(room, item["id"], "carol")) == (409, "stream_not_live")
    await api.start(host, stream["id"])
    assert (await buy(room, item["id"], "carol"))[0] == 201
    await api.end(host, stream["id"])
    assert error(await buy(room, item["id"], "carol")) == (409, "stream_not_live")
    assert (await listings(room))[0]["remaining"] == 2


async def test_no_overselling_under_concurrency(room: Room) -> None:
    buyers = [f"buyer_{n}" for n in range(5)]
    for name in buyers:
        room.tokens[name] = await add_user(room.server, name)
    item = await listing(room, quantity=5)
    answers = await asyncio.gather(
        *(buy(room, item["id"], buyers[n % len(buyers)]) for n in range(20))
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 5 + [409] * 15
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"sold_out"}
    [after] = await listings(room)
    assert (after["remaining"], after["status"]) == (0, "sold_out")
    placed = (await orders(room))[1]["orders"]
    assert len(placed) == 5 and sum(o["quantity"] for o in placed) == 5
    assert error(await buy(room, item["id"], "carol")) == (409, "sold_out")


async def test_asking_for_more_than_remain_is_sold_out(room: Room) -> None:
    item = await listing(room, quantity=3)
    assert (await buy(room, item["id"], "carol", quantity=2))[0] == 201
    assert error(await buy(room, item["id"], "carol", quantity=2)) == (409, "sold_out")
    assert (await listings(room))[0]["remaining"] == 1
    assert (await buy(room, item["id"], "carol", quantity=1))[0] == 201
    assert (await listings(room))[0]["status"] == "sold_out"


async def test_only_the_host_sees_orders(room: Room) -> None:
    await room.server.app[STREAMS].seat_cohost(room.stream_id, "bob")
    assert (await orders(room))[0] == 200
    assert error(await orders(room, "bob")) == (403, "forbidden")
    assert error(await orders(room, "carol")) == (403, "forbidden")
    assert error(await orders(room, None)) == (401, "unauthorized")
    status, body = await call(room, "GET", "/api/streams/nope/orders", "hostess")
    assert (status, body["error"]["code"]) == (404, "stream_not_found")


async def test_consigned_items_are_sold_by_the_host(room: Room) -> None:
    await room.server.app[STREAMS].seat_cohost(room.stream_id, "bob")
    item = await listing(room, consignor="BOB")
    assert item["consignor"] == "bob"  # the registered spelling
    status, body = await buy(room, item["id"], "carol")
    assert status == 201
    assert (body["order"]["seller"], body["order"]["consignor"]) == ("hostess", "bob")
    # The consignor is still the cohost: they cannot buy, nor see the host's orders.
    assert error(await buy(room, item["id"], "bob")) == (403, "forbidden")
    assert error(await orders(room, "bob")) == (403, "forbidden")


async def test_the_stream_hears_listings_buyer_and_host_hear_orders(room: Room) -> None:
    host = await room.client("hostess")
    bob = await room.client("bob")
    carol = await room.client("carol")
    anon = await room.client(None)

    item = await listing(room, quantity=2)
    for client in (host, bob, carol, anon):
        assert await client.next("listing:created") == {"listing": item}

    await call(room, "POST", f"/api/listings/{item['id']}/present", "hostess")
    for client in (host, bob, carol, anon):
        assert await client.next("listing:presenting") == {"listing": item}

    order = (await buy(room, item["id"], "carol"))[1]["order"]
    updated = {**item, "remaining": 1}
    for client in (host, bob, carol, anon):
        assert await client.next("listing:updated") == {"listing": updated}
    for client in (host, carol):
        assert await client.next("order:created") == {"order": order}

    await buy(room, item["id"], "carol")
    sold_out = {**item, "remaining": 0, "status": "sold_out"}
    assert await anon.next("listing:updated") == {"listing": sold_out}
    for client in (bob, anon):
        await client.barrier()
        assert client.seen("order:created") == []

    late = await room.client("bob")  # a (re)join gets the listings in its ack
    assert late.join_ack["listings"] == [sold_out]
