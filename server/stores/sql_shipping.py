"""Storage of shipments and labels (tables from migration 0004_after_sale)."""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from server.domain.profile import Address
from server.domain.shipping import (
    Label,
    LabelLine,
    PrintedLabel,
    Shipment,
    SplitOutcome,
    new_tracking_number,
)
from server.domain.times import format_time, utc_now
from server.sql import Row, Sql, stream_scope
from server.store import Database


async def rows(conn: Sql, sql: str, params: Iterable[Any] = ()) -> list[Any]:
    """Every row of a query run on a connection the caller holds (inside a transaction)."""
    return await conn.fetchall(sql, params)


def _fold(name: str | None) -> str | None:
    return None if name is None else name.casefold()


def _label(row: Row) -> Label:
    return Label(
        id=row["id"],
        shipment_id=row["shipment_id"],
        stream_id=row["stream_id"],
        buyer=row["buyer"],
        tracking=row["tracking"],
        from_address=Address.from_dict(json.loads(row["from_address"])),
        to_address=Address.from_dict(json.loads(row["to_address"])),
        consignor=row["consignor"],
        created_at=datetime.fromisoformat(row["created_at"]),
        sent_at=None if row["sent_at"] is None else datetime.fromisoformat(row["sent_at"]),
    )


_LABEL_SELECT = (
    "SELECT l.id, l.shipment_id, l.stream_id, s.buyer, l.tracking, l.from_address, "
    "l.to_address, l.consignor, l.created_at, l.sent_at "
    "FROM labels l JOIN shipments s ON s.id = l.shipment_id"
)


async def file_new_orders(conn: Sql, stream_id: str, now: datetime) -> None:
    """Put each order of the stream that is in no shipment yet into the oldest unlabelled
    shipment of its buyer and sender (the host, or its consignor), or a new one."""
    new_orders = await rows(
        conn,
        "SELECT o.id, o.buyer, o.consignor FROM orders o WHERE o.stream_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM shipment_orders so WHERE so.order_id = o.id) ORDER BY o.seq",
        (stream_id,),
    )
    if not new_orders:
        return
    open_bundles: dict[tuple[str | None, str | None], str] = {}
    for row in await rows(
        conn,
        "SELECT s.id, s.buyer, s.consignor FROM shipments s WHERE s.stream_id = ? AND NOT "
        "EXISTS (SELECT 1 FROM labels l WHERE l.shipment_id = s.id) ORDER BY s.seq",
        (stream_id,),
    ):
        open_bundles.setdefault((_fold(row["buyer"]), _fold(row["consignor"])), row["id"])
    created: list[tuple[str, str, str, str | None, str]] = []
    filed: list[tuple[str, str]] = []
    for order in new_orders:
        key = (_fold(order["buyer"]), _fold(order["consignor"]))
        if key not in open_bundles:
            open_bundles[key] = secrets.token_urlsafe(9)
            created.append(
                (open_bundles[key], stream_id, order["buyer"], order["consignor"], now.isoformat())
            )
        filed.append((order["id"], open_bundles[key]))
    await conn.executemany(
        "INSERT INTO shipments (id, stream_id, buyer, consignor, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        created,
    )
    await conn.executemany(
        "INSERT INTO shipment_orders (order_id, shipment_id) VALUES (?, ?)", filed
    )


async def load_shipments(
    conn: Sql, stream_id: str, only: list[str] | None = None
) -> list[Shipment]:
    """The stream's shipments oldest first (only the ids in `only`, when given)."""
    order_ids: dict[str, list[str]] = defaultdict(list)
    for row in await rows(
        conn,
        "SELECT so.shipment_id, so.order_id FROM shipment_orders so "
        "JOIN orders o ON o.id = so.order_id WHERE o.stream_id = ? ORDER BY o.seq",
        (stream_id,),
    ):
        order_ids[row["shipment_id"]].append(row["order_id"])
    labels = {
        row["shipment_id"]: _label(row)
        for row in await rows(conn, f"{_LABEL_SELECT} WHERE l.stream_id = ?", (stream_id,))
    }
    wanted = None if only is None else set(only)
    return [
        Shipment(
            id=row["id"],
            stream_id=row["stream_id"],
            buyer=row["buyer"],
            order_ids=tuple(order_ids[row["id"]]),
            consignor=row["consignor"],
            label=labels.get(row["id"]),
        )
        for row in await rows(
            conn,
            "SELECT id, stream_id, buyer, consignor FROM shipments WHERE stream_id = ? "
            "ORDER BY seq",
            (stream_id,),
        )
        if wanted is None or row["id"] in wanted
    ]


# What an order is for: its listing's title, or a giveaway prize's.
_ITEM_JOINS = (
    "LEFT JOIN listings li ON li.id = o.listing_id LEFT JOIN giveaways gw ON gw.id = o.giveaway_id"
)
_ITEM_TITLE = "COALESCE(li.title, gw.title, 'Item')"
_VIEW_ONLY = ("seq", "label_id", "tracking", "label_sent_at")


def order_view(row: Row) -> dict[str, Any]:
    """An order as the orders pages show it: the protocol's fields, its item, stream,
    shipment and label state."""
    view = dict(row)
    view["listing_id"] = row["listing_id"] or None  # a giveaway prize has no listing
    view["created_at"] = format_time(datetime.fromisoformat(row["created_at"]))
    view["label"] = (
        None
        if row["label_id"] is None
        else {
            "id": row["label_id"],
            "tracking": row["tracking"],
            "sent_at": None
            if row["label_sent_at"] is None
            else format_time(datetime.fromisoformat(row["label_sent_at"])),
        }
    )
    for key in _VIEW_ONLY:
        view.pop(key, None)
    return view


class SqlShippingStore:
    """Shipments and labels in the server's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def shipments(self, stream_id: str) -> list[Shipment]:
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            await file_new_orders(conn, stream_id, utc_now())
            return await load_shipments(conn, stream_id)

    async def shipment_stream(self, shipment_id: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT stream_id FROM shipments WHERE id = ?", (shipment_id,)
        )
        return None if row is None else row["stream_id"]

    async def split(
        self, shipment_id: str, order_ids: list[str], new_id: str
    ) -> tuple[SplitOutcome, list[Shipment]]:
        scope = await self._db.scope_of("shipments", "id", shipment_id)
        async with self._db.transaction(scope) as conn:
            found = await rows(
                conn,
                "SELECT s.stream_id, s.buyer, s.consignor, s.created_at, "
                "EXISTS (SELECT 1 FROM labels l WHERE l.shipment_id = s.id) AS labelled "
                "FROM shipments s WHERE s.id = ?",
                (shipment_id,),
            )
            if not found:
                return "not_found", []
            shipment = found[0]
            if shipment["labelled"]:
                return "label_exists", []
            inside = {
                row["order_id"]
                for row in await rows(
                    conn,
                    "SELECT order_id FROM shipment_orders WHERE shipment_id = ?",
                    (shipment_id,),
                )
            }
            moving = set(order_ids)
            if not moving < inside:  # a strict subset: both parts keep an order
                return "bad_orders", []
            await conn.execute(
                "INSERT INTO shipments (id, stream_id, buyer, consignor, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    new_id,
                    shipment["stream_id"],
                    shipment["buyer"],
                    shipment["consignor"],
                    utc_now().isoformat(),
                ),
            )
            await conn.executemany(
                "UPDATE shipment_orders SET shipment_id = ? WHERE order_id = ?",
                [(new_id, order_id) for order_id in moving],
            )
            both = await load_shipments(conn, shipment["stream_id"], [shipment_id, new_id])
            both.sort(key=lambda s: s.id != shipment_id)  # [old, new]
            return "ok", both

    async def create_labels(
        self, stream_id: str, sender: Address, now: datetime
    ) -> tuple[list[Label], list[str]]:
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            await file_new_orders(conn, stream_id, now)
            unlabelled = await rows(
                conn,
                "SELECT s.id, s.buyer, s.consignor, a.name, a.line1, a.line2, a.city, a.region, "
                "a.postal_code, a.country, a.username IS NOT NULL AS has_address "
                "FROM shipments s LEFT JOIN addresses a ON a.username = s.buyer "
                "WHERE s.stream_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM labels l WHERE l.shipment_id = s.id) ORDER BY s.seq",
                (stream_id,),
            )
            made: list[Label] = []
            skipped: list[str] = []
            for row in unlabelled:
                if not row["has_address"]:
                    skipped.append(row["id"])
                    continue
                made.append(
                    Label(
                        id=secrets.token_urlsafe(9),
                        shipment_id=row["id"],
                        stream_id=stream_id,
                        buyer=row["buyer"],
                        tracking=new_tracking_number(),
                        from_address=sender,
                        to_address=Address.from_dict(dict(row)),
                        consignor=row["consignor"],
                        created_at=now,
                        sent_at=None,
                    )
                )
            await conn.executemany(
                "INSERT INTO labels (id, shipment_id, stream_id, tracking, from_address, "
                "to_address, consignor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        label.id,
                        label.shipment_id,
                        stream_id,
                        label.tracking,
                        json.dumps(label.from_address.to_dict()),
                        json.dumps(label.to_address.to_dict()),
                        label.consignor,
                        now.isoformat(),
                    )
                    for label in made
                ],
            )
            return made, skipped

    async def labels(self, stream_id: str, consignor: str | None) -> list[PrintedLabel]:
        where, params = "WHERE l.stream_id = ?", [stream_id]
        if consignor is not None:
            where += " AND l.consignor = ?"
            params.append(consignor)
        labels = [
            _label(row)
            for row in await self._db.fetchall(f"{_LABEL_SELECT} {where} ORDER BY l.seq", params)
        ]
        lines: dict[str, list[LabelLine]] = defaultdict(list)
        for row in await self._db.fetchall(
            f"SELECT so.shipment_id, o.id, o.quantity, {_ITEM_TITLE} AS title "
            f"FROM shipment_orders so JOIN orders o ON o.id = so.order_id {_ITEM_JOINS} "
            "WHERE o.stream_id = ? ORDER BY o.seq",
            (stream_id,),
        ):
            lines[row["shipment_id"]].append(LabelLine(row["id"], row["title"], row["quantity"]))
        return [PrintedLabel(label, tuple(lines[label.shipment_id])) for label in labels]

    async def order_rows(
        self, *, stream_id: str | None = None, buyer: str | None = None
    ) -> list[dict[str, Any]]:
        where, params = ("o.stream_id = ?", stream_id) if stream_id else ("o.buyer = ?", buyer)
        # o.*: every order column (discount_code, discount_cents, giveaway_id...) comes along.
        return [
            order_view(row)
            for row in await self._db.fetchall(
                f"SELECT o.*, {_ITEM_TITLE} AS item_title, st.title AS stream_title, "
                "so.shipment_id, l.id AS label_id, l.tracking, l.sent_at AS label_sent_at "
                f"FROM orders o {_ITEM_JOINS} "
                "LEFT JOIN streams st ON st.id = o.stream_id "
                "LEFT JOIN shipment_orders so ON so.order_id = o.id "
                "LEFT JOIN labels l ON l.shipment_id = so.shipment_id "
                f"WHERE {where} ORDER BY o.seq",
                (params,),
            )
        ]

    async def mark_sent(self, label_ids: list[str], at: datetime) -> None:
        async with self._db.transaction() as conn:  # labels of any stream: the whole database
            await conn.executemany(
                "UPDATE labels SET sent_at = ? WHERE id = ?",
                [(at.isoformat(), label_id) for label_id in label_ids],
            )
