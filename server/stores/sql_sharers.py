"""Storage of sharers (migration 0009): the commission percent, referrals, joins.

`attribute_order` runs inside the transaction that records an order (called by
server.store.insert_order), so the referrer and the percent in force are stamped on the
order atomically with it; `commission_entries` runs inside the payout's transaction
(server.stores.sql_ledger) and yields each attributed order's commission once.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.domain.sharers import AttributedOrder, SharerStats, commission_cents
from server.sql import Row, Sql, stream_scope

if TYPE_CHECKING:
    from server.domain.commerce import Order
    from server.store import Database

# The referrer of a buyer in a stream: their last link, unless the sharer is (now) the
# host or the cohost, or the buyer themselves. Column collations make these comparisons
# case-insensitive.
_REFERRER_SQL = (
    "SELECT r.sharer, COALESCE(s.percent, 0) AS percent FROM referrals r "
    "JOIN streams st ON st.id = r.stream_id "
    "LEFT JOIN stream_sharing s ON s.stream_id = r.stream_id "
    "WHERE r.stream_id = ? AND r.viewer = ? AND r.sharer != ? "
    "AND r.sharer != st.host AND (st.cohost IS NULL OR r.sharer != st.cohost)"
)
# Whether the commission of an attributed order is in the ledger.
_CREDITED_SQL = (
    "EXISTS (SELECT 1 FROM ledger_entries e WHERE e.kind = 'commission' "
    "AND e.order_id = o.id AND e.username = o.referrer)"
)


async def attribute_order(conn: Sql, order: Order) -> Order:
    """The order with its referrer and the percent in force (none: unchanged). A
    giveaway's prize is won, not bought through a link: never attributed."""
    if order.giveaway_id is not None:
        return order
    row = await conn.fetchone(_REFERRER_SQL, (order.stream_id, order.buyer, order.buyer))
    if row is None:
        return order
    return dataclasses.replace(order, referrer=row["sharer"], commission_percent=row["percent"])


async def commission_entries(conn: Sql, stream_id: str, when: str) -> list[tuple[Any, ...]]:
    """Ledger entries (sql_ledger's tuple shape) for the stream's attributed orders whose
    commission is not yet in the ledger: −commission on the host, +commission on the
    sharer, both available."""
    rows = await conn.fetchall(
        "SELECT o.id, o.seller, o.referrer, o.total_cents, o.commission_percent "
        f"FROM orders o WHERE o.stream_id = ? AND o.referrer IS NOT NULL AND NOT {_CREDITED_SQL} "
        "ORDER BY o.seq",
        (stream_id,),
    )
    entries: list[tuple[Any, ...]] = []
    for row in rows:
        amount = commission_cents(row["total_cents"], row["commission_percent"])
        if amount > 0:
            entries += [
                (
                    row["seller"],
                    "commission",
                    "available",
                    -amount,
                    stream_id,
                    row["id"],
                    None,
                    when,
                ),
                (
                    row["referrer"],
                    "commission",
                    "available",
                    amount,
                    stream_id,
                    row["id"],
                    None,
                    when,
                ),
            ]
    return entries


def _attributed(row: Row, paid_out: bool) -> AttributedOrder:
    return AttributedOrder(
        id=row["id"],
        stream_id=row["stream_id"],
        buyer=row["buyer"],
        total_cents=row["total_cents"],
        currency=row["currency"],
        commission_percent=row["commission_percent"],
        created_at=datetime.fromisoformat(row["created_at"]),
        # A zero commission has nothing to credit: it counts as paid with the payout.
        paid=bool(row["credited"]) or (row["commission_cents"] == 0 and paid_out),
    )


_COUNT_JOIN_SQL = (
    "INSERT INTO referral_joins (stream_id, sharer, joins) VALUES (?, ?, 1) "
    "ON CONFLICT (stream_id, sharer) DO UPDATE SET joins = referral_joins.joins + 1"
)


class SqlSharerStore:
    """Sharers in the server's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def percent(self, stream_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT percent FROM stream_sharing WHERE stream_id = ?", (stream_id,)
        )
        return 0 if row is None else int(row["percent"])

    async def set_percent(self, stream_id: str, percent: int, at: datetime) -> bool:
        # One transaction: an order attributed meanwhile either comes first (refused)
        # or is stamped with the new percent.
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            if await conn.fetchone(
                "SELECT 1 FROM orders WHERE stream_id = ? AND referrer IS NOT NULL LIMIT 1",
                (stream_id,),
            ):
                return False
            await conn.execute(
                "INSERT INTO stream_sharing (stream_id, percent, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (stream_id) DO UPDATE SET percent = excluded.percent, "
                "updated_at = excluded.updated_at",
                (stream_id, percent, at.isoformat()),
            )
            return True

    async def count_join(self, stream_id: str, sharer: str) -> None:
        await self._db.execute(_COUNT_JOIN_SQL, (stream_id, sharer))

    async def record_join(
        self, stream_id: str, sharer: str, viewer: str | None, at: datetime
    ) -> None:
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            await conn.execute(_COUNT_JOIN_SQL, (stream_id, sharer))
            if viewer is not None:  # last link wins
                await conn.execute(
                    "INSERT INTO referrals (stream_id, viewer, sharer, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (stream_id, viewer) DO UPDATE SET "
                    "sharer = excluded.sharer, updated_at = excluded.updated_at",
                    (stream_id, viewer, sharer, at.isoformat()),
                )

    async def referrer(self, stream_id: str, viewer: str) -> str | None:
        row = await self._db.fetchone(
            "SELECT sharer FROM referrals WHERE stream_id = ? AND viewer = ?", (stream_id, viewer)
        )
        return None if row is None else str(row["sharer"])

    async def stats(
        self, *, stream_id: str | None = None, sharer: str | None = None
    ) -> list[SharerStats]:
        if (stream_id is None) == (sharer is None):
            raise ValueError("filter by stream or by sharer")
        column, value = ("stream_id", stream_id) if stream_id is not None else ("sharer", sharer)
        order_column = "o.stream_id" if stream_id is not None else "o.referrer"
        joins = await self._db.fetchall(
            f"SELECT stream_id, sharer, joins FROM referral_joins WHERE {column} = ?", (value,)
        )
        orders = await self._db.fetchall(
            "SELECT o.id, o.stream_id, o.referrer, o.buyer, o.total_cents, o.currency, "
            "o.commission_percent, o.created_at, "
            "o.total_cents * o.commission_percent / 100 AS commission_cents, "
            f"{_CREDITED_SQL} AS credited "
            f"FROM orders o WHERE {order_column} = ? AND o.referrer IS NOT NULL ORDER BY o.seq",
            (value,),
        )
        # Keyed by (stream, sharer) with usernames compared case-insensitively.
        names: dict[tuple[str, str], str] = {}
        join_counts: dict[tuple[str, str], int] = defaultdict(int)
        bought: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for row in joins:
            key = (row["stream_id"], row["sharer"].casefold())
            names.setdefault(key, row["sharer"])
            join_counts[key] += row["joins"]
        for row in orders:
            key = (row["stream_id"], row["referrer"].casefold())
            names.setdefault(key, row["referrer"])
            bought[key].append(row)
        streams = sorted({stream for stream, _ in names})
        paid_out = (
            {
                row["stream_id"]
                for row in await self._db.fetchall(
                    "SELECT stream_id FROM payouts WHERE stream_id IN "
                    f"({', '.join('?' * len(streams))})",
                    streams,
                )
            }
            if streams
            else set()
        )  # PostgreSQL refuses an empty IN ()
        results = []
        for key, username in names.items():
            rows = bought[key]
            attributed = tuple(_attributed(row, key[0] in paid_out) for row in rows)
            results.append(
                SharerStats(
                    stream_id=key[0],
                    username=username,
                    joins=join_counts[key],
                    buyers=len({row["buyer"].casefold() for row in rows}),
                    orders=len(rows),
                    gmv_cents=sum(row["total_cents"] for row in rows),
                    commission_cents=sum(row["commission_cents"] for row in rows),
                    # Paid: the stream is paid out and every commission is in the ledger.
                    paid=key[0] in paid_out and all(order.paid for order in attributed),
                    attributed=attributed,
                )
            )
        # Best sellers first.
        results.sort(key=lambda r: (-r.gmv_cents, -r.joins, r.username.casefold(), r.stream_id))
        return results
