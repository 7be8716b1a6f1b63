"""Every selling call refuses the roles the protocol excludes, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.room import Room
from tests.selling.conftest import call, expect, new_listing

HOST, COHOST, VIEWER, ANON = "hostess", "cohost", "bob", None
FORBIDDEN, UNAUTHORIZED = (403, "forbidden"), (401, "unauthorized")

# (call, who, refusal): `call` names an entry of `requests` below.
REFUSALS = [
    *(
        (call, who, FORBIDDEN)
        for call in ("create_listing", "create_code", "list_codes", "create_giveaway")
        for who in (COHOST, VIEWER)
    ),
    *((call, who, FORBIDDEN) for call in ("start_auction", "flash") for who in (VIEWER,)),
    *(
        (call, who, FORBIDDEN)
        for call in ("bid", "sio_bid", "buy", "sio_enter")
        for who in (HOST, COHOST)
    ),
    *(
        (call, ANON, UNAUTHORIZED)
        for call in (
            "create_listing",
            "create_code",
            "list_codes",
            "create_giveaway",
            "start_auction",
            "flash",
            "bid",
            "sio_bid",
            "buy",
            "sio_enter",
            "present",
        )
    ),
    ("present", VIEWER, FORBIDDEN),
]


async def snapshot(room: Room, ids: dict[str, str]) -> Any:
    stream = room.stream_id
    return [
        await expect(room, 200, "GET", f"/api/streams/{stream}/listings", None),
        await expect(room, 200, "GET", f"/api/listings/{ids['auction']}/auction", None),
        await expect(room, 200, "GET", f"/api/streams/{stream}/codes", HOST),
        await expect(room, 200, "GET", f"/api/streams/{stream}/orders", HOST),
        await expect(room, 200, "GET", f"/api/giveaways/{ids['giveaway']}", None),
    ]


@pytest.mark.parametrize(("action", "who", "refusal"), REFUSALS)
async def test_refusals_change_nothing(
    room: Room, action: str, who: str | None, refusal: tuple[int, str]
) -> None:
    item = await new_listing(room, quantity=5)
    lot = await new_listing(room, format="auction", auction_seconds=300)
    await expect(room, 200, "POST", f"/api/listings/{lot['id']}/auction/start", HOST)
    await expect(
        room,
        201,
        "POST",
        f"/api/streams/{room.stream_id}/codes",
        HOST,
        {"code": "LIVE5", "percent_off": 5, "max_uses": 3},
    )
    giveaway = (
        await expect(
            room,
            201,
            "POST",
            f"/api/streams/{room.stream_id}/giveaways",
            HOST,
            {"title": "Cap", "seconds": 600},
        )
    )["giveaway"]
    ids = {"auction": lot["id"], "giveaway": giveaway["id"]}
    before = await snapshot(room, ids)
    stream = room.stream_id
    requests = {
        "create_listing": (
            "POST",
            f"/api/streams/{stream}/listings",
            {"title": "x", "price_cents": 1, "quantity": 1},
        ),
        "create_code": (
            "POST",
            f"/api/streams/{stream}/codes",
            {"code": "MINE", "percent_off": 90, "max_uses": 9},
        ),
        "list_codes": ("GET", f"/api/streams/{stream}/codes", None),
        "create_giveaway": (
            "POST",
            f"/api/streams/{stream}/giveaways",
            {"title": "x", "seconds": 10},
        ),
        "start_auction": ("POST", f"/api/listings/{lot['id']}/auction/start", None),
        "flash": ("POST", f"/api/listings/{item['id']}/flash", {"price_cents": 1, "seconds": 60}),
        "bid": ("POST", f"/api/listings/{lot['id']}/bids", {"amount_cents": 5000}),
        "buy": ("POST", f"/api/listings/{item['id']}/buy", {"discount_code": "LIVE5"}),
        "present": ("POST", f"/api/listings/{item['id']}/present", None),
    }
    sio_events = {
        "sio_bid": ("auction:bid", {"listing_id": lot["id"], "amount_cents": 5000}),
        "sio_enter": ("giveaway:enter", {"giveaway_id": giveaway["id"]}),
    }
    if action in sio_events:
        client = await room.client(who)
        event, payload = sio_events[action]
        await client.fails(event, payload, refusal[1])
    else:
        method, path, body = requests[action]
        status, answer = await call(room, method, path, who, body)
        assert (status, answer["error"]["code"]) == refusal
    assert await snapshot(room, ids) == before
