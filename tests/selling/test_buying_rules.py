"""Buy-now rules under concurrency: codes, per-buyer limits, daily caps, flash prices,
compare-at prices backed by a real sale, and no rapid item flashing."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import BOTH_DATABASES
from tests.helpers.room import Room
from tests.selling.conftest import add_buyers, buy, call, error_of, expect, new_listing

pytestmark = BOTH_DATABASES


async def create_code(room: Room, **fields: Any) -> dict[str, Any]:
    path = f"/api/streams/{room.stream_id}/codes"
    return (await expect(room, 201, "POST", path, "hostess", fields))["code"]


async def codes(room: Room) -> list[dict[str, Any]]:
    return (await expect(room, 200, "GET", f"/api/streams/{room.stream_id}/codes", "hostess"))[
        "codes"
    ]


async def orders(room: Room) -> list[dict[str, Any]]:
    path = f"/api/streams/{room.stream_id}/orders"
    return (await expect(room, 200, "GET", path, "hostess"))["orders"]


async def test_200_concurrent_buys_spend_a_code_exactly_max_uses_times(room: Room) -> None:
    buyers = await add_buyers(room.server, room, "fan", 200)
    item = await new_listing(room, price_cents=2000, quantity=1000)
    await create_code(room, code="live10", percent_off=10, max_uses=10)
    answers = await asyncio.gather(
        *(buy(room, item["id"], name, discount_code="LIVE10") for name in buyers)
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * 10 + [409] * 190
    assert {body["error"]["code"] for status, body in answers if status == 409} == {
        "code_exhausted"
    }
    placed = await orders(room)
    assert len(placed) == 10
    assert {(o["discount_code"], o["discount_cents"], o["total_cents"]) for o in placed} == {
        ("LIVE10", 200, 1800)
    }
    [code] = await codes(room)
    assert (code["uses"], code["uses_left"]) == (10, 0)
    listing = (await expect(room, 200, "GET", f"/api/streams/{room.stream_id}/listings", None))[
        "listings"
    ][0]
    assert listing["remaining"] == 990  # refused buys took no stock


async def test_per_buyer_limit_and_daily_cap_hold_under_concurrency(room: Room) -> None:
    limited = await new_listing(room, quantity=100, per_buyer_limit=3)
    answers = await asyncio.gather(*(buy(room, limited["id"], "bob") for _ in range(20)))
    assert sorted(status for status, _ in answers) == [201] * 3 + [409] * 17
    assert {error_of(a) for a in answers if a[0] == 409} == {(409, "buyer_limit_reached")}
    assert (await buy(room, limited["id"], "carol", quantity=3))[0] == 201
    assert error_of(await buy(room, limited["id"], "carol")) == (409, "buyer_limit_reached")

    buyers = await add_buyers(room.server, room, "watcher", 30)
    capped = await new_listing(room, quantity=100, daily_cap=7)
    answers = await asyncio.gather(*(buy(room, capped["id"], name) for name in buyers))
    assert sorted(status for status, _ in answers) == [201] * 7 + [409] * 23
    assert {error_of(a) for a in answers if a[0] == 409} == {(409, "daily_cap_reached")}
    sold = [o for o in await orders(room) if o["listing_id"] == capped["id"]]
    assert sum(o["quantity"] for o in sold) == 7


async def test_code_rules(room: Room) -> None:
    item = await new_listing(room, price_cents=1500, quantity=50)
    other = await new_listing(room, price_cents=900, quantity=50)
    amount = await create_code(
        room,
        code="Save500",
        amount_off_cents=500,
        max_uses=5,
        per_buyer=2,
        listing_ids=[item["id"]],
    )
    assert amount == {
        "stream_id": room.stream_id,
        "code": "SAVE500",
        "percent_off": None,
        "amount_off_cents": 500,
        "max_uses": 5,
        "per_buyer": 2,
        "listing_ids": [item["id"]],
        "uses": 0,
        "uses_left": 5,
    }
    status, body = await buy(room, item["id"], "bob", quantity=2, discount_code="save500")
    assert status == 201
    order = body["order"]
    assert (order["unit_price_cents"], order["discount_cents"], order["total_cents"]) == (
        1500,
        500,
        2500,
    )  # an amount code counts once per order
    assert error_of(await buy(room, other["id"], "bob", discount_code="SAVE500")) == (
        400,
        "code_not_applicable",
    )
    assert (await buy(room, item["id"], "bob", discount_code="SAVE500"))[0] == 201
    assert error_of(await buy(room, item["id"], "bob", discount_code="SAVE500")) == (
        409,
        "code_limit_reached",
    )
    assert error_of(await buy(room, item["id"], "bob", discount_code="NOPE1")) == (
        400,
        "invalid_code",
    )
    await create_code(room, code="CHEAP", amount_off_cents=5000, max_uses=1)
    status, body = await buy(room, other["id"], "carol", discount_code="cheap")
    assert (body["order"]["discount_cents"], body["order"]["total_cents"]) == (900, 0)
    await create_code(room, code="THIRD", percent_off=33, max_uses=9)
    status, body = await buy(room, other["id"], "dave", quantity=3, discount_code="THIRD")
    assert body["order"]["discount_cents"] == 2700 * 33 // 100  # floor
    path = f"/api/streams/{room.stream_id}/codes"
    assert error_of(
        await call(
            room, "POST", path, "hostess", {"code": "cheap", "percent_off": 5, "max_uses": 1}
        )
    ) == (409, "code_taken")
    for bad, field in [
        ({"code": "ab", "percent_off": 5, "max_uses": 1}, "code"),
        ({"code": "ABCD-1", "percent_off": 5, "max_uses": 1}, "code"),
        ({"code": "ABCD", "percent_off": 91, "max_uses": 1}, "percent_off"),
        ({"code": "ABCD", "percent_off": 5, "amount_off_cents": 5, "max_uses": 1}, "percent_off"),
        ({"code": "ABCD", "max_uses": 1}, "percent_off"),
        ({"code": "ABCD", "amount_off_cents": 100_000_001, "max_uses": 1}, "amount_off_cents"),
        ({"code": "ABCD", "percent_off": 5, "max_uses": 0}, "max_uses"),
        ({"code": "ABCD", "percent_off": 5, "max_uses": 1, "listing_ids": ["nope"]}, "listing_ids"),
    ]:
        status, body = await call(room, "POST", path, "hostess", bad)
        assert (status, body["error"]["code"]) == (400, "invalid_field"), bad
        assert body["error"]["message"].startswith(f"{field}:")
    before = await codes(room)
    await room.api.end(room.tokens["hostess"], room.stream_id)
    assert error_of(await buy(room, item["id"], "carol", discount_code="SAVE500")) == (
        409,
        "code_inactive",
    )
    assert await codes(room) == before


async def test_flash_sale_price_window(room: Room) -> None:
    item = await new_listing(room, price_cents=3000, quantity=10)
    viewer = await room.client("carol")
    path = f"/api/listings/{item['id']}/flash"
    for bad in ({"price_cents": 3000, "seconds": 5}, {"price_cents": 100, "seconds": 4}):
        assert error_of(await call(room, "POST", path, "hostess", bad)) == (400, "invalid_field")
    answer = await expect(room, 200, "POST", path, "cohost", {"price_cents": 1999, "seconds": 5})
    flash = answer["listing"]["flash"]
    assert set(flash) == {"price_cents", "ends_at", "ends_at_ms"} and flash["price_cents"] == 1999
    assert (await viewer.next("listing:updated"))["listing"]["flash"] == flash
    status, body = await buy(room, item["id"], "carol", quantity=2)
    assert (body["order"]["unit_price_cents"], body["order"]["total_cents"]) == (1999, 3998)
    await viewer.next("listing:updated")  # the sale's stock change
    ended = await viewer.next("listing:updated", lambda d: d["listing"]["flash"] is None, 10)
    assert ended["listing"]["remaining"] == 8
    status, body = await buy(room, item["id"], "carol")
    assert body["order"]["unit_price_cents"] == 3000


async def test_compare_at_needs_a_backing_sale(room: Room) -> None:
    path = f"/api/streams/{room.stream_id}/listings"
    base = {"title": "Sneakers", "price_cents": 4000, "quantity": 5}
    assert error_of(
        await call(room, "POST", path, "hostess", {**base, "compare_at_cents": 6000})
    ) == (
        400,
        "compare_at_unbacked",
    )
    with_sku = {**base, "sku": "SNK-42.b_1", "compare_at_cents": 6000}
    assert error_of(await call(room, "POST", path, "hostess", with_sku)) == (
        400,
        "compare_at_unbacked",
    )
    earlier = await new_listing(
        room, title="Sneakers", price_cents=6000, quantity=1, sku="SNK-42.b_1"
    )
    assert (await buy(room, earlier["id"], "bob"))[0] == 201
    assert error_of(
        await call(room, "POST", path, "hostess", {**with_sku, "compare_at_cents": 6001})
    ) == (400, "compare_at_unbacked")
    assert error_of(
        await call(room, "POST", path, "hostess", {**with_sku, "sku": "snk-42.b_1"})
    ) == (400, "compare_at_unbacked")
    answer = await expect(room, 201, "POST", path, "hostess", with_sku)
    assert (answer["listing"]["compare_at_cents"], answer["listing"]["sku"]) == (6000, "SNK-42.b_1")
    for bad_sku in ("", "x" * 41, "has space", 7):
        assert error_of(await call(room, "POST", path, "hostess", {**base, "sku": bad_sku})) == (
            400,
            "invalid_field",
        )
    listings = (await expect(room, 200, "GET", path, None))["listings"]
    assert len(listings) == 2


async def test_present_too_soon(server_factory: Any, connect: Any) -> None:
    from tests.helpers.api import Api
    from tests.helpers.room import make_room

    server = await server_factory(min_present_seconds=30.0)
    async with Api(server.url) as api:
        room = await make_room(server, api, connect)
        first, second = await new_listing(room), await new_listing(room, title="Second")
        viewer = await room.client("bob")
        await expect(room, 200, "POST", f"/api/listings/{first['id']}/present", "hostess")
        assert error_of(
            await call(room, "POST", f"/api/listings/{second['id']}/present", "hostess")
        ) == (409, "present_too_soon")
        await expect(room, 200, "POST", f"/api/listings/{first['id']}/present", "hostess")
        await viewer.barrier()
        assert [d["listing"]["id"] for d in viewer.seen("listing:presenting")] == [first["id"]] * 2


async def test_a_quote_shows_the_discount_and_changes_nothing(room: Room) -> None:
    item = await new_listing(room, price_cents=2500, quantity=2)
    await create_code(room, code="FIVE", amount_off_cents=500, max_uses=1)
    path = f"/api/listings/{item['id']}/quote"
    quote = (await expect(room, 200, "POST", path, "bob", {"discount_code": "five"}))["quote"]
    assert (quote["unit_price_cents"], quote["discount_cents"], quote["total_cents"]) == (
        2500,
        500,
        2000,
    )
    assert "id" not in quote
    assert error_of(await call(room, "POST", path, "bob", {"discount_code": "NOPE"})) == (
        400,
        "invalid_code",
    )
    assert error_of(await call(room, "POST", path, "hostess", {})) == (403, "forbidden")
    assert (await codes(room))[0]["uses"] == 0
    assert await orders(room) == []
