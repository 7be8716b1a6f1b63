"""Storage of the ledger, payouts, shares and cohost history (migration 0004).

`insert_sale_entry` is called by server.store.insert_order, inside the transaction
that records the order, so every order (buy-now, auction win, giveaway) has its
`sale` entry. The ledger table refuses UPDATE and DELETE (triggers).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.domain.ledger import (
    LedgerEntry,
    Payout,
    PayoutOutcome,
    ShareOutcome,
    StreamMoney,
    Transfer,
)
from server.sql import Row, Sql, stream_scope
from server.stores.sql_sharers import commission_entries

if TYPE_CHECKING:
    from server.domain.commerce import Order
    from server.store import Database

_ENTRY_COLUMNS = (
    "id, username, kind, bucket, amount_cents, stream_id, order_id, transfer_id, created_at"
)


async def _append(conn: Sql, *entries: tuple[Any, ...]) -> None:
    """Append entries given as (username, kind, bucket, amount, stream, order, transfer, at)."""
    await conn.executemany(
        f"INSERT INTO ledger_entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(secrets.token_urlsafe(9), *entry) for entry in entries],
    )


async def insert_sale_entry(conn: Sql, order: Order) -> None:
    """Credit the order's total to the host (its seller), pending until the payout."""
    await _append(
        conn,
        (
            order.seller,
            "sale",
            "pending",
            order.total_cents,
            order.stream_id,
            order.id,
            None,
            order.created_at.isoformat(),
        ),
    )


async def _one(conn: Sql, sql: str, params: tuple[Any, ...]) -> Row:
    row = await conn.fetchone(sql, params)
    assert row is not None  # aggregate queries always answer one row
    return row


def _payout(row: Row) -> Payout:
    return Payout(
        stream_id=row["stream_id"],
        host=row["host"],
        revenue_cents=row["revenue_cents"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _transfer(row: Row) -> Transfer:
    return Transfer(
        id=row["id"],
        stream_id=row["stream_id"],
        from_user=row["from_user"],
        to_user=row["to_user"],
        amount_cents=row["amount_cents"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


_REVENUE_SQL = (
    "SELECT COALESCE(SUM(amount_cents), 0) AS revenue FROM ledger_entries "
    "WHERE stream_id = ? AND kind = 'sale'"
)


class SqlLedgerStore:
    """The ledger in the server's database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_cohost(self, stream_id: str, username: str, at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO cohost_history (stream_id, username, first_seated_at) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (stream_id, username, at.isoformat()),
        )

    async def payout(
        self, stream_id: str, host: str, at: datetime
    ) -> tuple[PayoutOutcome, Payout | None]:
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            paid = await _one(
                conn, "SELECT COUNT(*) AS n FROM payouts WHERE stream_id = ?", (stream_id,)
            )
            if paid["n"]:
                return "already_paid", None
            status = await _one(conn, "SELECT status FROM streams WHERE id = ?", (stream_id,))
            if status["status"] != "ended":
                return "stream_not_ended", None
            revenue = (await _one(conn, _REVENUE_SQL, (stream_id,)))["revenue"]
            await conn.execute(
                "INSERT INTO payouts (stream_id, host, revenue_cents, created_at) "
                "VALUES (?, ?, ?, ?)",
                (stream_id, host, revenue, at.isoformat()),
            )
            when = at.isoformat()
            await _append(
                conn,
                (host, "payout", "pending", -revenue, stream_id, None, None, when),
                (host, "payout", "available", revenue, stream_id, None, None, when),
                # The sharers' commissions come out of what was just made available.
                *await commission_entries(conn, stream_id, when),
            )
            return "ok", Payout(stream_id, host, revenue, at)

    async def share(
        self,
        stream_id: str,
        host: str,
        to_user: str,
        amount_cents: int,
        transfer_id: str,
        at: datetime,
    ) -> tuple[ShareOutcome, Transfer | None]:
        # One exclusive transaction: two concurrent shares are judged one after the other.
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            cohost = await conn.fetchone(
                "SELECT username FROM cohost_history WHERE stream_id = ? AND username = ?",
                (stream_id, to_user),
            )
            if cohost is None:
                return "not_a_cohost", None
            payout = await conn.fetchone(
                "SELECT revenue_cents FROM payouts WHERE stream_id = ?", (stream_id,)
            )
            if payout is None:
                return "not_paid_out", None
            shared = await _one(
                conn,
                "SELECT COALESCE(SUM(amount_cents), 0) AS shared FROM transfers "
                "WHERE stream_id = ?",
                (stream_id,),
            )
            if shared["shared"] + amount_cents > payout["revenue_cents"]:
                return "exceeds_revenue", None
            transfer = Transfer(transfer_id, stream_id, host, cohost["username"], amount_cents, at)
            await conn.execute(
                "INSERT INTO transfers (id, stream_id, from_user, to_user, amount_cents, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (transfer.id, stream_id, host, transfer.to_user, amount_cents, at.isoformat()),
            )
            when = at.isoformat()
            await _append(
                conn,
                (
                    host,
                    "transfer_out",
                    "available",
                    -amount_cents,
                    stream_id,
                    None,
                    transfer_id,
                    when,
                ),
                (
                    transfer.to_user,
                    "transfer_in",
                    "available",
                    amount_cents,
                    stream_id,
                    None,
                    transfer_id,
                    when,
                ),
            )
            return "ok", transfer

    async def entries(self, username: str) -> list[LedgerEntry]:
        return [
            LedgerEntry(
                id=row["id"],
                username=row["username"],
                kind=row["kind"],
                bucket=row["bucket"],
                amount_cents=row["amount_cents"],
                stream_id=row["stream_id"],
                order_id=row["order_id"],
                transfer_id=row["transfer_id"],
                created_at=datetime.fromisoformat(row["created_at"]),
            )
            for row in await self._db.fetchall(
                f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries WHERE username = ? ORDER BY seq",
                (username,),
            )
        ]

    async def stream_money(self, stream_id: str) -> StreamMoney:
        revenue = await self._db.fetchone(_REVENUE_SQL, (stream_id,))
        payout = await self._db.fetchone("SELECT * FROM payouts WHERE stream_id = ?", (stream_id,))
        transfers = await self._db.fetchall(
            "SELECT * FROM transfers WHERE stream_id = ? ORDER BY seq", (stream_id,)
        )
        cohosts = await self._db.fetchall(
            "SELECT username FROM cohost_history WHERE stream_id = ? ORDER BY first_seated_at",
            (stream_id,),
        )
        return StreamMoney(
            revenue_cents=0 if revenue is None else revenue["revenue"],
            payout=None if payout is None else _payout(payout),
            transfers=tuple(_transfer(row) for row in transfers),
            cohosts=tuple(row["username"] for row in cohosts),
        )
