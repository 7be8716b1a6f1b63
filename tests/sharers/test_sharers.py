"""Sharers through the real server: the commission percent, attribution on join (last
link wins; never self, host or cohost; anonymous then signed in), orders' referrer,
the per-sharer statistics, commissions at payout and the ledger's sums."""

from __future__ import annotations

from tests.conftest import BOTH_DATABASES
from tests.helpers.api import Api
from tests.helpers.server import RunningServer
from tests.helpers.sharers import open_show
from tests.helpers.sio import Connect

pytestmark = BOTH_DATABASES

STAT_KEYS = {"stream_id", "joins", "buyers", "orders", "gmv_cents", "commission_cents", "paid"}


async def test_the_host_sets_the_percent_and_refusals_change_nothing(
    server: RunningServer, api: Api
) -> None:
    show = await open_show(server, api, ("hostess", "sam"))
    stream = await show.ok("PATCH", show.stream_path, "hostess", {"sharer_commission_percent": 0})
    assert stream["stream"]["sharer_commission_percent"] == 0
    for body in (
        {"sharer_commission_percent": 51},
        {"sharer_commission_percent": -1},
        {"sharer_commission_percent": "10"},
        {"sharer_commission_percent": 12.5},
        {"sharer_commission_percent": True},
    ):
        status, error = await show.call("PATCH", show.stream_path, "hostess", body)
        assert (status, error["error"]["code"]) == (400, "invalid_field"), body
    status, error = await show.call(
        "PATCH", show.stream_path, "sam", {"sharer_commission_percent": 5}
    )
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, error = await show.call(
        "PATCH", show.stream_path, None, {"sharer_commission_percent": 5}
    )
    assert (status, error["error"]["code"]) == (401, "unauthorized")
    status, error = await show.call(
        "PATCH", "/api/streams/nope", "hostess", {"sharer_commission_percent": 5}
    )
    assert status == 404
    assert (await api.get_stream(show.stream_id))["sharer_commission_percent"] == 0

    # Before live and while live, until an order is attributed.
    await show.set_percent(50)
    await api.start(show.tokens["hostess"], show.stream_id)
    await show.set_percent(12)
    assert (await api.get_stream(show.stream_id))["sharer_commission_percent"] == 12
    status, error = await show.call("GET", show.path("sharers"), "sam")
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, _ = await show.call("GET", "/api/me/referrals", None)
    assert status == 401


async def test_two_sharers_attribution_commissions_and_the_ledger(
    server: RunningServer, api: Api, connect: Connect
) -> None:
    names = ("hostess", "bob", "sam", "tina", "carol", "dave", "eve", "frank")
    show = await open_show(server, api, names)
    await show.set_percent(10)
    await api.start(show.tokens["hostess"], show.stream_id)
    await show.seat_cohost(connect, "bob")
    bag = await show.listing("Bag", 5000)
    mug = await show.listing("Mug", 3333)

    # carol: sam's link, then tina's: the last link wins.
    carol = await show.viewer(connect, "carol")
    assert await show.join(carol, "sam") == {"ref": "recorded", "referrer": "sam"}
    assert await show.join(carol, "TINA") == {"ref": "recorded", "referrer": "tina"}
    # dave: sam's link; then links that never count as a referrer keep sam.
    dave = await show.viewer(connect, "dave")
    assert await show.join(dave, "sam") == {"ref": "recorded", "referrer": "sam"}
    for ref, outcome in (
        ("dave", "self_referral"),
        ("hostess", "sharer_is_host"),
        ("bob", "sharer_is_cohost"),
        ("nobody_here", "unknown_user"),
        ("<b>", "invalid"),
        (7, "invalid"),
    ):
        assert await show.join(dave, ref) == {"ref": outcome, "referrer": "sam"}, ref
    # eve follows sam's link before signing in, then joins again signed in (the page
    # remembers the ref).
    anonymous = await show.viewer(connect, None)
    assert await show.join(anonymous, "sam") == {"ref": "counted", "referrer": None}
    eve = await show.viewer(connect, "eve")
    assert await show.join(eve, "sam") == {"ref": "recorded", "referrer": "sam"}
    # sam follows his own link: never his own referrer. frank comes without a link.
    sam = await show.viewer(connect, "sam")
    assert await show.join(sam, "sam") == {"ref": "self_referral", "referrer": None}
    frank = await show.viewer(connect, "frank")
    assert await show.join(frank, None) == {"ref": "none", "referrer": None}

    orders = {
        "carol": await show.buy("carol", bag),
        "dave": await show.buy("dave", mug),
        "eve": await show.buy("eve", mug, quantity=2),
        "sam": await show.buy("sam", bag),
        "frank": await show.buy("frank", mug),
    }
    referrers = {buyer: order["referrer"] for buyer, order in orders.items()}
    assert referrers == {
        "carol": "tina",
        "dave": "sam",
        "eve": "sam",
        "sam": None,
        "frank": None,
    }
    # The buyer hears order:created with the referrer too; the host's orders show it.
    created = await eve.next("order:created")
    assert created["order"]["referrer"] == "sam"
    host_orders = (await show.ok("GET", show.path("orders"), "hostess"))["orders"]
    assert {o["id"]: o["referrer"] for o in host_orders} == {
        o["id"]: o["referrer"] for o in orders.values()
    }

    # The percent is locked now; re-sending the one in force is not a change.
    status, error = await show.call(
        "PATCH", show.stream_path, "hostess", {"sharer_commission_percent": 20}
    )
    assert (status, error["error"]["code"]) == (409, "commission_locked")
    await show.set_percent(10)
    assert (await api.get_stream(show.stream_id))["sharer_commission_percent"] == 10

    expected = {
        # sam: carol's first join, dave's, the anonymous one, eve's.
        "sam": {"joins": 4, "buyers": 2, "orders": 2, "gmv_cents": 3333 * 3},
        "tina": {"joins": 1, "buyers": 1, "orders": 1, "gmv_cents": 5000},
    }
    commissions = {"sam": 333 + 666, "tina": 500}
    sharers = (await show.ok("GET", show.path("sharers"), "hostess"))["sharers"]
    assert [s["username"] for s in sharers] == ["sam", "tina"]  # best sellers first
    for row in sharers:
        assert set(row) == STAT_KEYS | {"username"}
        assert row == {
            "username": row["username"],
            "stream_id": show.stream_id,
            **expected[row["username"]],
            "commission_cents": commissions[row["username"]],
            "paid": False,
        }
    mine = (await show.ok("GET", "/api/me/referrals", "sam"))["streams"]
    assert len(mine) == 1
    assert {k: mine[0][k] for k in STAT_KEYS} == {
        "stream_id": show.stream_id,
        **expected["sam"],
        "commission_cents": 999,
        "paid": False,
    }
    assert sorted(o["buyer"] for o in mine[0]["attributed_orders"]) == ["dave", "eve"]
    assert (await show.ok("GET", "/api/me/referrals", "carol"))["streams"] == []

    # Payout: the commissions move from the host's available to the sharers', once.
    await api.end(show.tokens["hostess"], show.stream_id)
    await show.ok("POST", show.path("payout"), "hostess")
    status, error = await show.call("POST", show.path("payout"), "hostess")
    assert (status, error["error"]["code"]) == (409, "already_paid")
    total = sum(order["total_cents"] for order in orders.values())
    ledgers = {name: await show.ok("GET", "/api/me/ledger", name) for name in names}
    for sharer, commission in commissions.items():
        entries = ledgers[sharer]["entries"]
        assert [e["kind"] for e in entries] == ["commission"] * len(entries)
        assert {e["bucket"] for e in entries} == {"available"}
        assert ledgers[sharer]["available_cents"] == commission
    host = ledgers["hostess"]
    host_commissions = [e for e in host["entries"] if e["kind"] == "commission"]
    assert sorted(e["amount_cents"] for e in host_commissions) == [-666, -500, -333]
    assert {e["order_id"] for e in host_commissions} == {
        orders[b]["id"] for b in ("carol", "dave", "eve")
    }
    assert host["available_cents"] == total - 1499 and host["pending_cents"] == 0
    assert sum(ledger["balance_cents"] for ledger in ledgers.values()) == total
    for ledger in ledgers.values():
        assert ledger["balance_cents"] == sum(e["amount_cents"] for e in ledger["entries"])
    sharers = (await show.ok("GET", show.path("sharers"), "hostess"))["sharers"]
    assert all(row["paid"] for row in sharers)
    mine = (await show.ok("GET", "/api/me/referrals", "sam"))["streams"]
    assert mine[0]["paid"] and all(o["paid"] for o in mine[0]["attributed_orders"])


async def test_a_sharer_who_becomes_cohost_earns_nothing_from_later_orders(
    server: RunningServer, api: Api, connect: Connect
) -> None:
    show = await open_show(server, api, ("hostess", "sam", "carol"))
    await show.set_percent(25)
    await api.start(show.tokens["hostess"], show.stream_id)
    scarf = await show.listing("Scarf", 1001)
    carol = await show.viewer(connect, "carol")
    assert (await show.join(carol, "sam"))["referrer"] == "sam"
    await show.seat_cohost(connect, "sam")
    order = await show.buy("carol", scarf)
    assert order["referrer"] is None
    # Nothing attributed: the host may still change the percent.
    await show.set_percent(30)


async def test_percent_in_force_is_kept_and_rounded_down(
    server: RunningServer, api: Api, connect: Connect
) -> None:
    show = await open_show(server, api, ("hostess", "sam", "carol"))
    await show.set_percent(7)
    await api.start(show.tokens["hostess"], show.stream_id)
    pen = await show.listing("Pen", 199)  # 7 % of 199 = 13.93 -> 13
    carol = await show.viewer(connect, "carol")
    await show.join(carol, "sam")
    await show.buy("carol", pen)
    row = (await show.ok("GET", show.path("sharers"), "hostess"))["sharers"][0]
    assert (row["commission_cents"], row["gmv_cents"]) == (13, 199)
    await api.end(show.tokens["hostess"], show.stream_id)
    await show.ok("POST", show.path("payout"), "hostess")
    assert (await show.ok("GET", "/api/me/ledger", "sam"))["available_cents"] == 13


async def test_an_auction_win_is_attributed_and_pays_its_commission(
    server: RunningServer, api: Api, connect: Connect
) -> None:
    show = await open_show(server, api, ("hostess", "sam", "carol", "dave"))
    await show.set_percent(15)
    await api.start(show.tokens["hostess"], show.stream_id)
    body = {"title": "Signed vinyl", "price_cents": 2000, "quantity": 1, "format": "auction"}
    listing = (await show.ok("POST", show.path("listings"), "hostess", body, status=201))["listing"]
    carol = await show.viewer(connect, "carol")
    assert (await show.join(carol, "sam"))["referrer"] == "sam"
    dave = await show.viewer(connect, "dave")
    await show.join(dave, None)
    start = {"seconds": 5, "sudden_death": True}
    await show.ok("POST", f"/api/listings/{listing['id']}/auction/start", "hostess", start)
    await dave.ok("auction:bid", {"listing_id": listing["id"], "amount_cents": 2000})
    await carol.ok("auction:bid", {"listing_id": listing["id"], "amount_cents": 2599})
    won = (await carol.next("order:created", timeout=15))["order"]
    assert (won["buyer"], won["referrer"], won["total_cents"]) == ("carol", "sam", 2599)
    [row] = (await show.ok("GET", show.path("sharers"), "hostess"))["sharers"]
    assert (row["username"], row["orders"], row["commission_cents"]) == ("sam", 1, 389)
    await api.end(show.tokens["hostess"], show.stream_id)
    await show.ok("POST", show.path("payout"), "hostess")
    sam = await show.ok("GET", "/api/me/ledger", "sam")
    assert [(e["kind"], e["amount_cents"], e["order_id"]) for e in sam["entries"]] == [
        ("commission", 389, won["id"])
    ]
