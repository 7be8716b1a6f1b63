"""Giveaways: the committed seed, a draw the test recomputes, presence at the draw."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from server.domain.giveaways import draw
from tests.conftest import BOTH_DATABASES
from tests.helpers.room import Room
from tests.helpers.sio import Client
from tests.selling.conftest import buy, call, error_of, expect, new_listing

pytestmark = BOTH_DATABASES

GIVEAWAY_KEYS = {
    "id",
    "stream_id",
    "title",
    "status",
    "ends_at",
    "ends_at_ms",
    "eligibility",
    "entrant_count",
    "commitment",
    "seed",
    "winner",
}


def recompute(seed_hex: str, entrants: list[str]) -> list[str]:
    """The protocol's draw order: the hashed pick first, then the next ones, wrapping."""
    names = sorted(name.lower() for name in entrants)
    digest = hashlib.sha256(bytes.fromhex(seed_hex) + "\n".join(names).encode("utf-8")).digest()
    first = int.from_bytes(digest, "big") % len(names)
    return [names[(first + step) % len(names)] for step in range(len(names))]


async def create(room: Room, **fields: Any) -> dict[str, Any]:
    body = {"title": "Signed poster", "seconds": 10, **fields}
    path = f"/api/streams/{room.stream_id}/giveaways"
    giveaway = (await expect(room, 201, "POST", path, "hostess", body))["giveaway"]
    assert set(giveaway) == GIVEAWAY_KEYS
    return giveaway


async def enter(client: Client, giveaway_id: str) -> Any:
    return await client.call("giveaway:enter", {"giveaway_id": giveaway_id})


async def test_the_draw_is_recomputable_and_skips_the_absent(quick_room: Room) -> None:
    room = quick_room
    host = await room.client("hostess")
    people = {name: await room.client(name) for name in ("bob", "carol", "dave")}
    giveaway = await create(room, seconds=4)
    assert (giveaway["status"], giveaway["seed"], giveaway["winner"]) == ("open", None, None)
    assert (await people["bob"].next("giveaway:started"))["giveaway"] == giveaway
    assert (await room.client("bob")).join_ack["giveaway"] == giveaway
    for client in people.values():
        ack = await enter(client, giveaway["id"])
        assert ack["ok"], ack
    again = await enter(people["bob"], giveaway["id"])  # entering twice counts once
    assert again["giveaway"]["entrant_count"] == 3
    assert await host.next("giveaway:updated", lambda d: d["giveaway"]["entrant_count"] == 3)
    status, body = await call(room, "GET", f"/api/giveaways/{giveaway['id']}", None)
    assert (status, body["entrants"], body["giveaway"]["seed"]) == (200, [], None)

    await people["carol"].close()  # carol leaves before the draw: she cannot win
    ended = (await host.next("giveaway:ended", timeout=20))["giveaway"]
    assert ended["status"] == "drawn"
    revealed = await expect(room, 200, "GET", f"/api/giveaways/{giveaway['id']}", None)
    assert revealed["giveaway"] == ended
    seed = ended["seed"]
    assert hashlib.sha256(bytes.fromhex(seed)).hexdigest() == giveaway["commitment"]
    assert sorted(revealed["entrants"]) == ["bob", "carol", "dave"]
    order = [name for name in recompute(seed, revealed["entrants"]) if name != "carol"]
    assert ended["winner"] == order[0]

    winner = people[ended["winner"]]
    prize = (await winner.next("order:created"))["order"]
    assert (prize["giveaway_id"], prize["total_cents"], prize["listing_id"]) == (
        giveaway["id"],
        0,
        None,
    )
    assert (await host.next("order:created"))["order"] == prize
    assert (await enter(people["dave"], giveaway["id"]))["error"]["code"] == "giveaway_closed"


def test_an_absent_pick_passes_to_the_next_present_entrant() -> None:
    seed = "00" * 32
    entrants = ["Zed", "amy", "Bob", "carl"]
    order = recompute(seed, entrants)
    canonical = {name.lower(): name for name in entrants}
    assert draw(seed, entrants, set(order)) == canonical[order[0]]
    assert draw(seed, entrants, set(order[1:])) == canonical[order[1]]
    assert draw(seed, entrants, {order[3]}) == canonical[order[3]]
    assert draw(seed, entrants, set()) is None
    assert draw(seed, [], {"amy"}) is None


async def test_buyers_only_no_entrant_and_one_at_a_time(quick_room: Room) -> None:
    room = quick_room
    item = await new_listing(room, quantity=5)
    bob, carol = await room.client("bob"), await room.client("carol")
    assert (await buy(room, item["id"], "bob"))[0] == 201
    giveaway = await create(room, eligibility="buyers", seconds=2)
    path = f"/api/streams/{room.stream_id}/giveaways"
    assert error_of(await call(room, "POST", path, "hostess", {"title": "Two", "seconds": 10})) == (
        409,
        "giveaway_running",
    )
    ack = await enter(carol, giveaway["id"])
    assert ack["error"]["code"] == "not_eligible"
    assert (await enter(bob, giveaway["id"]))["ok"]
    ended = (await carol.next("giveaway:ended", timeout=20))["giveaway"]
    assert ended["winner"] == "bob"

    empty = await create(room, title="Nobody came", seconds=1)
    ended = (await carol.next("giveaway:ended", timeout=20))["giveaway"]
    assert (ended["id"], ended["winner"], ended["entrant_count"]) == (empty["id"], None, 0)
    assert len(ended["seed"]) == 64
    await asyncio.gather(bob.barrier(), carol.barrier())


async def test_bad_giveaways_are_refused(room: Room) -> None:
    path = f"/api/streams/{room.stream_id}/giveaways"
    for bad, field in [
        ({"title": "", "seconds": 10}, "title"),
        ({"title": "x", "seconds": 9}, "seconds"),
        ({"title": "x", "seconds": 601}, "seconds"),
        ({"title": "x", "seconds": 10, "eligibility": "friends"}, "eligibility"),
    ]:
        status, body = await call(room, "POST", path, "hostess", bad)
        assert (status, body["error"]["code"]) == (400, "invalid_field")
        assert body["error"]["message"].startswith(f"{field}:")
    assert error_of(await call(room, "GET", "/api/giveaways/nope", None)) == (
        404,
        "giveaway_not_found",
    )
