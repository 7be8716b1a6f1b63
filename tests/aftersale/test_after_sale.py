"""After the sale end to end through the real server: addresses, shipments and splits,
labels (PDF and CSV), mailing a consignor over real SMTP, payout, shares, the ledger."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from server.keys import STORE
from server.sql import IntegrityError
from tests.conftest import BOTH_DATABASES
from tests.helpers.after_sale import (
    CAROL_ADDRESS,
    DAVE_ADDRESS,
    HOST_ADDRESS,
    PURCHASES,
    Inbox,
    SoldShow,
    attachments,
    pdf_page_sizes,
    pdf_pages,
    sell_cohosted_show,
)
from tests.helpers.api import Api

pytestmark = BOTH_DATABASES

SHIPMENT_KEYS = {"id", "stream_id", "buyer", "order_ids", "consignor", "label"}
LABEL_KEYS = {"id", "shipment_id", "tracking", "from", "to", "consignor"}
ENTRY_KEYS = {
    "id",
    "kind",
    "bucket",
    "amount_cents",
    "stream_id",
    "order_id",
    "transfer_id",
    "created_at",
}
BOB_ITEMS = ("Vintage camera", "Film roll")
HOST_ITEMS = ("Red sneakers", "Denim jacket")


async def shipments(show: SoldShow) -> list[dict]:
    return (await show.ok("GET", show.path("shipments"), "hostess"))["shipments"]


def by_buyer(items: list[dict], buyer: str, consignor: str | None) -> list[dict]:
    return [s for s in items if s["buyer"] == buyer and s["consignor"] == consignor]


async def addresses_for(show: SoldShow, *users: str) -> None:
    given = {"hostess": HOST_ADDRESS, "carol": CAROL_ADDRESS, "dave": DAVE_ADDRESS}
    for user in users:
        body = await show.ok("PUT", "/api/me/address", user, given[user])
        assert body["address"]["line1"] == given[user]["line1"]


async def ledger(show: SoldShow, user: str) -> dict:
    return await show.ok("GET", "/api/me/ledger", user)


async def test_address_and_email_are_validated_and_refusals_change_nothing(show: SoldShow):
    status, error = await show.call("PUT", "/api/me/address", None, CAROL_ADDRESS)
    assert (status, error["error"]["code"]) == (401, "unauthorized")
    saved = (await show.ok("PUT", "/api/me/address", "carol", CAROL_ADDRESS))["address"]
    assert saved == {**CAROL_ADDRESS}
    bad = [
        {**CAROL_ADDRESS, "city": ""},
        {**CAROL_ADDRESS, "country": "GBR"},
        {**CAROL_ADDRESS, "postal_code": "<b>1</b>"},
        {**CAROL_ADDRESS, "line1": "22 Parcel\nStreet"},
        {**CAROL_ADDRESS, "name": "Carol \u202eyeliB"},
        {k: v for k, v in CAROL_ADDRESS.items() if k != "name"},
        {**CAROL_ADDRESS, "line2": 7},
    ]
    for body in bad:
        status, error = await show.call("PUT", "/api/me/address", "carol", body)
        assert (status, error["error"]["code"]) == (400, "invalid_field"), body
    profile = await show.ok("GET", "/api/me/profile", "carol")
    assert profile["address"] == saved and profile["user"] == {
        "username": "carol",
        "email": None,
    }

    assert (await show.ok("PUT", "/api/me/email", "bob", {"email": "bob@example.com"})) == {
        "user": {"username": "bob", "email": "bob@example.com"}
    }
    for value in ("bob", "bob@example", "a b@example.com", "x@y.com\r\nBcc: z@w.com", 5, ""):
        status, error = await show.call("PUT", "/api/me/email", "bob", {"email": value})
        assert (status, error["error"]["code"]) == (400, "invalid_field"), value
    assert (await show.ok("GET", "/api/me/profile", "bob"))["user"]["email"] == "bob@example.com"


async def test_the_whole_chain_from_bundles_to_shares(show: SoldShow, inbox: Inbox):
    # Bundles: one per buyer and sender; the consignor's items never ride with the host's.
    before = await shipments(show)
    assert all(set(s) == SHIPMENT_KEYS and s["label"] is None for s in before)
    titles = {order["id"]: title for order, title in zip(show.orders, _titles(), strict=True)}
    for shipment in before:
        consignors = {
            next(o["consignor"] for o in show.orders if o["id"] == order_id)
            for order_id in shipment["order_ids"]
        }
        assert consignors == {shipment["consignor"]}
    carol_host = by_buyer(before, "carol", None)
    assert len(carol_host) == 1 and len(carol_host[0]["order_ids"]) == 2
    assert len(by_buyer(before, "carol", "bob")) == 1
    assert len(before) == 5  # carol x2, dave x2 (host's and bob's), eve x1

    # The host splits carol's bundle: the jacket ships separately.
    jacket = next(i for i in carol_host[0]["order_ids"] if titles[i] == "Denim jacket")
    split_path = f"/api/shipments/{carol_host[0]['id']}/split"
    old, new = (await show.ok("POST", split_path, "hostess", {"order_ids": [jacket]}))["shipments"]
    assert old["id"] == carol_host[0]["id"] and new["order_ids"] == [jacket]
    assert jacket not in old["order_ids"] and len(old["order_ids"]) == 1
    assert (new["buyer"], new["consignor"]) == ("carol", None)
    for order_ids in ([], old["order_ids"], ["nope"], "x"):  # all, none or foreign orders
        status, error = await show.call("POST", split_path, "hostess", {"order_ids": order_ids})
        assert (status, error["error"]["code"]) == (400, "invalid_field")
    assert len(await shipments(show)) == 6

    # Labels need the host's return address first; that refusal makes nothing.
    status, error = await show.call("POST", show.path("labels"), "hostess")
    assert (status, error["error"]["code"]) == (409, "address_missing")
    assert all(s["label"] is None for s in await shipments(show))
    await addresses_for(show, "hostess", "carol", "dave")
    made = await show.ok("POST", show.path("labels"), "hostess", status=201)
    eve = by_buyer(await shipments(show), "eve", None)[0]
    assert made["skipped"] == [{"shipment_id": eve["id"], "reason": "buyer_address_missing"}]
    assert len(made["labels"]) == len(made["created"]) == 5
    for label in made["labels"]:
        assert set(label) >= LABEL_KEYS and label["from"]["line1"] == HOST_ADDRESS["line1"]
        assert label["to"]["line1"] in (CAROL_ADDRESS["line1"], DAVE_ADDRESS["line1"])
    # Re-running makes only the missing ones (eve's, once she has an address).
    await show.ok("PUT", "/api/me/address", "eve", {**DAVE_ADDRESS, "name": "Eve"})
    again = await show.ok("POST", show.path("labels"), "hostess", status=201)
    assert again["skipped"] == [] and len(again["created"]) == 1
    trackings = {label["id"]: label["tracking"] for label in made["labels"]}
    assert {lab["id"]: lab["tracking"] for lab in again["labels"] if lab["id"] in trackings} == (
        trackings
    )
    status, error = await show.call("POST", split_path, "hostess", {"order_ids": old["order_ids"]})
    assert (status, error["error"]["code"]) == (409, "label_exists")
    status, error = await show.call(
        "POST", "/api/shipments/nope/split", "hostess", {"order_ids": []}
    )
    assert (status, error["error"]["code"]) == (404, "shipment_not_found")
    status, error = await show.call("GET", show.path("labels.pdf?consignor=nobody"), "hostess")
    assert (status, error["error"]["code"]) == (400, "invalid_field")

    # Documents: every page 4x6 in with the host's return address; filtered by consignor.
    status, kind, pdf = await show.raw(show.path("labels.pdf"), "hostess")
    assert (status, kind) == (200, "application/pdf")
    pages = pdf_pages(pdf)
    assert len(pages) == 6
    assert set(pdf_page_sizes(pdf)) == {(288.0, 432.0)}
    assert all(HOST_ADDRESS["line1"] in page and "Lyon" in page for page in pages)
    status, kind, bob_pdf = await show.raw(show.path("labels.pdf?consignor=bob"), "hostess")
    assert (status, kind) == (200, "application/pdf")
    _assert_only_bobs(pdf_pages(bob_pdf), expected_pages=2)
    status, kind, raw_csv = await show.raw(show.path("labels.csv?consignor=BOB"), "hostess")
    assert (status, kind) == (200, "text/csv")
    rows = list(csv.DictReader(io.StringIO(raw_csv.decode("utf-8"))))
    assert sorted(r["buyer"] for r in rows) == ["carol", "dave"]
    assert all(r["consignor"] == "bob" and r["from_line1"] == HOST_ADDRESS["line1"] for r in rows)

    # Mail the consignor's labels: first he has no email, then they arrive over SMTP.
    send = show.path("labels/send")
    status, error = await show.call("POST", send, "hostess", {"consignor": "bob"})
    assert (status, error["error"]["code"]) == (409, "email_missing")
    assert inbox.messages == []
    await show.ok("PUT", "/api/me/email", "bob", {"email": "bob@example.com"})
    sent = await show.ok("POST", send, "hostess", {"consignor": "bob"}, status=202)
    assert sent == {"sent_to": "bob@example.com"}
    [message] = inbox.messages
    assert message["To"] == "bob@example.com"
    files = attachments(message)
    pdf_name = f"labels-{show.stream_id}-bob.pdf"
    csv_name = f"labels-{show.stream_id}-bob.csv"
    assert files[pdf_name][0] == "application/pdf" and files[csv_name][0] == "text/csv"
    _assert_only_bobs(pdf_pages(files[pdf_name][1]), expected_pages=2)
    mailed_rows = list(csv.DictReader(io.StringIO(files[csv_name][1].decode("utf-8"))))
    assert {r["tracking"] for r in mailed_rows} == {r["tracking"] for r in rows}
    labelled = [s["label"] for s in await shipments(show)]
    assert all((lab["sent_at"] is not None) == (lab["consignor"] == "bob") for lab in labelled)

    # Money: payout after the end, once; a share to the cohost; sums reconcile.
    status, error = await show.call("POST", show.path("payout"), "hostess")
    assert (status, error["error"]["code"]) == (409, "stream_not_ended")
    await show.api.end(show.tokens["hostess"], show.stream_id)
    paid = (await show.ok("POST", show.path("payout"), "hostess"))["payout"]
    assert paid["revenue_cents"] == show.total() == 5000 * 2 + 3000 * 2 + 12000 + 800 * 2
    status, error = await show.call("POST", show.path("payout"), "hostess")
    assert (status, error["error"]["code"]) == (409, "already_paid")
    # A paid-out show cannot restart: its later sales would never be paid out.
    status, error = await show.call("POST", show.path("start"), "hostess")
    assert (status, error["error"]["code"]) == (409, "already_paid")
    assert (await show.api.get_stream(show.stream_id))["status"] == "ended"
    share = {"username": "bob", "amount_cents": 6400}
    transfer = (await show.ok("POST", show.path("share"), "hostess", share, status=201))["transfer"]
    assert (transfer["from"], transfer["to"], transfer["amount_cents"]) == ("hostess", "bob", 6400)

    host, bob = await ledger(show, "hostess"), await ledger(show, "bob")
    assert all(set(e) == ENTRY_KEYS for e in host["entries"] + bob["entries"])
    assert [e["kind"] for e in host["entries"]] == ["sale"] * 7 + ["payout"] * 2 + ["transfer_out"]
    assert (host["pending_cents"], host["available_cents"]) == (0, show.total() - 6400)
    assert (bob["balance_cents"], bob["available_cents"]) == (6400, 6400)
    assert [e["transfer_id"] for e in bob["entries"]] == [transfer["id"]]
    everyone = [await ledger(show, user) for user in show.tokens]
    for account in everyone:
        assert account["balance_cents"] == sum(e["amount_cents"] for e in account["entries"])
        assert account["balance_cents"] == account["pending_cents"] + account["available_cents"]
    assert sum(account["balance_cents"] for account in everyone) == show.total()

    page = await show.ok("GET", show.path("after-sale"), "hostess")
    assert page["money"]["left_to_share_cents"] == show.total() - 6400
    assert page["money"]["cohosts"] == ["bob"]
    assert page["return_address"]["line1"] == HOST_ADDRESS["line1"]
    assert {o["item_title"] for o in page["orders"]} == set(HOST_ITEMS + BOB_ITEMS)
    assert all(o["shipment_id"] and o["label"]["tracking"] for o in page["orders"])
    assert all("discount_cents" in o and "discount_code" in o for o in page["orders"])
    mine = (await show.ok("GET", "/api/me/orders", "carol"))["orders"]
    assert len(mine) == 4 and all(o["label"]["tracking"].startswith("CS") for o in mine)
    assert {o["stream_title"] for o in mine} == {"Co-hosted drop"}


def _titles() -> list[str]:
    return [title for titles in PURCHASES.values() for title in titles]


def _assert_only_bobs(pages: list[str], expected_pages: int) -> None:
    assert len(pages) == expected_pages
    text = "\n".join(pages)
    assert all(HOST_ADDRESS["line1"] in page for page in pages)
    assert all(title in text for title in BOB_ITEMS)
    assert not any(title in text for title in HOST_ITEMS)


async def _state(show: SoldShow) -> tuple:
    rows = {}
    for table in ("shipments", "shipment_orders", "labels", "ledger_entries", "transfers"):
        rows[table] = await show.server.app[STORE].fetchall(f"SELECT * FROM {table}")
    return tuple(tuple(tuple(row) for row in rows[t]) for t in rows)


@pytest.mark.parametrize("intruder", ["bob", "carol"])
async def test_the_cohost_and_viewers_may_not_touch_any_of_it(show: SoldShow, intruder: str):
    await addresses_for(show, "hostess", "carol", "dave")
    await show.ok("PUT", "/api/me/email", "bob", {"email": "bob@example.com"})
    await show.ok("POST", show.path("labels"), "hostess", status=201)
    await show.api.end(show.tokens["hostess"], show.stream_id)
    [shipment, *_] = await shipments(show)
    before = await _state(show)
    calls = [
        ("GET", show.path("shipments"), None),
        ("POST", f"/api/shipments/{shipment['id']}/split", {"order_ids": ["x"]}),
        ("POST", show.path("labels"), None),
        ("GET", show.path("labels.pdf"), None),
        ("GET", show.path("labels.csv?consignor=bob"), None),
        ("POST", show.path("labels/send"), {"consignor": "bob"}),
        ("POST", show.path("payout"), None),
        ("POST", show.path("share"), {"username": "bob", "amount_cents": 100}),
        ("GET", show.path("after-sale"), None),
    ]
    for method, path, body in calls:
        status, error = await show.call(method, path, intruder, body)
        assert (status, error["error"]["code"]) == (403, "forbidden"), path
    assert await _state(show) == before


async def test_share_refusals_and_concurrent_shares(show: SoldShow):
    await show.api.end(show.tokens["hostess"], show.stream_id)
    share = show.path("share")
    status, error = await show.call(
        "POST", share, "hostess", {"username": "bob", "amount_cents": 1}
    )
    assert (status, error["error"]["code"]) == (409, "not_paid_out")
    await show.ok("POST", show.path("payout"), "hostess")
    revenue = show.total()
    refusals = [
        ({"username": "carol", "amount_cents": 100}, 400, "not_a_cohost"),
        ({"username": "nobody", "amount_cents": 100}, 400, "not_a_cohost"),
        ({"username": "bob", "amount_cents": revenue + 1}, 409, "exceeds_revenue"),
        ({"username": "bob", "amount_cents": 0}, 400, "invalid_field"),
        ({"username": "bob", "amount_cents": 100_000_001}, 400, "invalid_field"),
        ({"username": "bob", "amount_cents": True}, 400, "invalid_field"),
    ]
    for body, code_status, code in refusals:
        status, error = await show.call("POST", share, "hostess", body)
        assert (status, error["error"]["code"]) == (code_status, code), body
    assert (await ledger(show, "bob"))["entries"] == []

    # Two shares that together exceed the revenue, at once: exactly one is accepted.
    body = {"username": "bob", "amount_cents": revenue * 6 // 10}
    answers = await asyncio.gather(*(show.call("POST", share, "hostess", body) for _ in range(2)))
    assert sorted(status for status, _ in answers) == [201, 409]
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"exceeds_revenue"}
    assert (await ledger(show, "bob"))["balance_cents"] == revenue * 6 // 10
    # The rest can still be shared, to the cent.
    rest = {"username": "bob", "amount_cents": revenue - revenue * 6 // 10}
    await show.ok("POST", share, "hostess", rest, status=201)
    assert (await ledger(show, "hostess"))["available_cents"] == 0
    page = await show.ok("GET", show.path("after-sale"), "hostess")
    assert page["money"]["left_to_share_cents"] == 0


async def test_an_smtp_refusal_is_502_and_marks_nothing_sent(show: SoldShow, inbox: Inbox):
    await addresses_for(show, "hostess", "carol", "dave")
    await show.ok("PUT", "/api/me/email", "bob", {"email": "bob@example.com"})
    send = show.path("labels/send")
    status, error = await show.call("POST", send, "hostess", {"consignor": "bob"})
    assert (status, error["error"]["code"]) == (409, "no_labels")
    await show.ok("POST", show.path("labels"), "hostess", status=201)
    inbox.refuse = True
    status, error = await show.call("POST", send, "hostess", {"consignor": "bob"})
    assert (status, error["error"]["code"]) == (502, "mail_failed")
    assert inbox.messages == []
    assert all(s["label"]["sent_at"] is None for s in await shipments(show) if s["label"])
    for bad in ({"consignor": "nobody"}, {"consignor": None}, {"consignor": 3}):
        status, error = await show.call("POST", send, "hostess", bad)
        assert (status, error["error"]["code"]) == (400, "invalid_field"), bad


async def test_without_a_mail_server_sending_is_502(server_factory, connect):
    server = await server_factory()  # no smtp_host
    async with Api(server.url) as client:
        show = await sell_cohosted_show(server, client, connect)
        await addresses_for(show, "hostess", "carol")
        await show.ok("PUT", "/api/me/email", "bob", {"email": "bob@example.com"})
        await show.ok("POST", show.path("labels"), "hostess", status=201)
        status, error = await show.call(
            "POST", show.path("labels/send"), "hostess", {"consignor": "bob"}
        )
        assert (status, error["error"]["code"]) == (502, "mail_failed")


async def test_ledger_entries_are_never_edited_or_deleted(show: SoldShow):
    store = show.server.app[STORE]
    for statement in ("UPDATE ledger_entries SET amount_cents = 0", "DELETE FROM ledger_entries"):
        with pytest.raises(IntegrityError, match="append-only"):
            await store.execute(statement)
    assert len(await store.fetchall("SELECT * FROM ledger_entries")) == len(show.orders)


async def test_pages_show_list_and_sign_in(show: SoldShow):
    hosted = (await show.ok("GET", "/api/me/streams", "hostess"))["streams"]
    assert [stream["id"] for stream in hosted] == [show.stream_id]
    assert (await show.ok("GET", "/api/me/streams", "carol"))["streams"] == []
    for path in (f"/shows/{show.stream_id}/orders", "/me/orders", "/me/profile"):
        async with show.api.session.get(show.api.base_url + path) as response:
            assert (response.status, response.content_type) == (200, "text/html"), path
    for method, path in (
        ("GET", "/api/me/ledger"),
        ("GET", "/api/me/orders"),
        ("GET", "/api/me/profile"),
        ("GET", "/api/me/streams"),
        ("PUT", "/api/me/email"),
        ("GET", show.path("shipments")),
        ("POST", show.path("labels")),
        ("POST", show.path("payout")),
    ):
        status, error = await show.call(method, path, None, {})
        assert (status, error["error"]["code"]) == (401, "unauthorized"), path


async def test_concurrent_payouts_and_label_runs_happen_once(show: SoldShow):
    await addresses_for(show, "hostess", "carol", "dave")
    runs = await asyncio.gather(
        *(show.call("POST", show.path("labels"), "hostess") for _ in range(3))
    )
    assert [status for status, _ in runs] == [201] * 3
    assert sum(len(body["created"]) for _, body in runs) == 4  # eve has no address
    labels = [s["label"] for s in await shipments(show) if s["label"]]
    assert len(labels) == len({label["tracking"] for label in labels}) == 4

    await show.api.end(show.tokens["hostess"], show.stream_id)
    payouts = await asyncio.gather(
        *(show.call("POST", show.path("payout"), "hostess") for _ in range(3))
    )
    assert sorted(status for status, _ in payouts) == [200, 409, 409]
    host = await ledger(show, "hostess")
    assert [e["kind"] for e in host["entries"]].count("payout") == 2
    assert (host["pending_cents"], host["available_cents"]) == (0, show.total())


async def test_two_processes_sharing_the_database_never_overspend(show: SoldShow, server_factory):
    # A second server on the same SQLite file (as a second process would be): the share
    # check and write are one exclusive transaction on the file, not just in one process.
    other = await server_factory()
    assert other.settings.resolved_database_path == show.server.settings.resolved_database_path
    await show.api.end(show.tokens["hostess"], show.stream_id)
    await show.ok("POST", show.path("payout"), "hostess")
    body = {"username": "bob", "amount_cents": show.total() * 6 // 10}
    headers = {"Authorization": f"Bearer {show.tokens['hostess']}"}

    async def share_via(base_url: str) -> int:
        url = f"{base_url}{show.path('share')}"
        async with show.api.session.post(url, json=body, headers=headers) as response:
            return response.status

    statuses = await asyncio.gather(*(share_via(s.url) for s in (show.server, other) * 2))
    assert sorted(statuses) == [201, 409, 409, 409]
    assert (await ledger(show, "bob"))["balance_cents"] == show.total() * 6 // 10


async def test_auction_wins_and_giveaway_prizes_ship_and_enter_the_ledger(show: SoldShow, connect):
    host = await connect(show.server.url, show.tokens["hostess"], "hostess")
    dave = await connect(show.server.url, show.tokens["dave"], "dave")
    for client in (host, dave):
        await client.ok("join", {"stream_id": show.stream_id})
    body = {"title": "Mystery box", "seconds": 10}
    giveaway = (await show.ok("POST", show.path("giveaways"), "hostess", body, status=201))[
        "giveaway"
    ]
    await dave.ok("giveaway:enter", {"giveaway_id": giveaway["id"]})
    lot = {
        "title": "Signed poster",
        "format": "auction",
        "price_cents": 1000,
        "quantity": 1,
        "auction_seconds": 5,
        "sudden_death": True,
    }
    poster = (await show.ok("POST", show.path("listings"), "hostess", lot, status=201))["listing"]
    await show.ok("POST", f"/api/listings/{poster['id']}/auction/start", "hostess")
    bid = {"amount_cents": 1500}
    await show.ok("POST", f"/api/listings/{poster['id']}/bids", "carol", bid, status=201)
    won = await host.next("auction:ended", timeout=20)
    drawn = (await host.next("giveaway:ended", timeout=25))["giveaway"]
    assert (won["order"]["buyer"], won["order"]["total_cents"]) == ("carol", 1500)
    assert drawn["winner"] == "dave"

    code = {"code": "SAVE10", "percent_off": 10, "max_uses": 5}
    await show.ok("POST", show.path("codes"), "hostess", code, status=201)
    jacket = f"/api/listings/{show.listings['Denim jacket']}/buy"
    coded = (await show.ok("POST", jacket, "carol", {"discount_code": "save10"}, status=201))[
        "order"
    ]
    assert coded["total_cents"] == 2700

    await addresses_for(show, "hostess", "carol", "dave")
    made = await show.ok("POST", show.path("labels"), "hostess", status=201)
    assert len(made["labels"]) == 4  # carol: host's + bob's; dave: host's + bob's
    page = await show.ok("GET", show.path("after-sale"), "hostess")
    prize = next(o for o in page["orders"] if o["giveaway_id"] == giveaway["id"])
    assert (prize["item_title"], prize["listing_id"], prize["total_cents"]) == (
        "Mystery box",
        None,
        0,
    )
    [dave_host] = by_buyer(page["shipments"], "dave", None)
    assert prize["id"] in dave_host["order_ids"] and dave_host["label"] is not None
    [carol_host] = by_buyer(page["shipments"], "carol", None)
    assert {won["order"]["id"], coded["id"]} <= set(carol_host["order_ids"])
    coded_row = next(o for o in page["orders"] if o["id"] == coded["id"])
    assert (coded_row["discount_code"], coded_row["discount_cents"]) == ("SAVE10", 300)
    _, _, pdf = await show.raw(show.path("labels.pdf"), "hostess")
    text = "\n".join(pdf_pages(pdf))
    assert "Mystery box" in text and "Signed poster" in text

    await show.api.end(show.tokens["hostess"], show.stream_id)
    paid = (await show.ok("POST", show.path("payout"), "hostess"))["payout"]
    assert paid["revenue_cents"] == show.total() + 1500 + 2700
    entries = (await ledger(show, "hostess"))["entries"]
    sales = {e["order_id"]: e["amount_cents"] for e in entries if e["kind"] == "sale"}
    assert sales[won["order"]["id"]] == 1500 and sales[prize["id"]] == 0
    assert len(sales) == len(show.orders) + 3 and sales[coded["id"]] == 2700
