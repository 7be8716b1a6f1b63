"""The server's database (SQLite or PostgreSQL), implementing the domain's stores."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from server.domain.chat import ChatMessage
from server.domain.commerce import Listing, ListingFormat, ListingStatus, Order
from server.domain.streams import Kind, Status, Stream
from server.files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, private_files, sqlite_files
from server.migrations import apply_migrations
from server.sql import Engine, IntegrityError, Row, Sql, SqliteEngine, Step, stream_scope
from server.stores.sql_ledger import insert_sale_entry
from server.stores.sql_sharers import attribute_order

_STREAM_COLUMNS = (
    "id, title, description, kind, status, host, cohost, "
    "scheduled_at, started_at, ended_at, created_at"
)
# What a read adds to the stored columns (the v2 lifecycle fields and the reminder count).
STREAM_SELECT = (
    f"SELECT {_STREAM_COLUMNS}, cover, pinned, restarted_at, live_ms, slow_mode_seconds, "
    "blocked_words, raided_to, "
    "(SELECT COUNT(*) FROM reminders WHERE reminders.stream_id = streams.id) AS reminders "
    "FROM streams"
)


LISTING_COLUMNS = (
    "id, stream_id, title, description, price_cents, currency, quantity, remaining, "
    "consignor, status, compare_at_cents, created_at, format, sku, per_buyer_limit, "
    "daily_cap, increment_cents, auction_seconds, sudden_death, flash_price_cents, "
    "flash_ends_at_ms, stock_epoch"
)
ORDER_COLUMNS = (
    "id, stream_id, listing_id, buyer, seller, quantity, unit_price_cents, total_cents, "
    "currency, consignor, created_at, discount_code, discount_cents, giveaway_id, "
    "referrer, commission_percent"
)
# A giveaway's prize order has no listing: NULL on the wire, '' in the NOT NULL column.
_NO_LISTING = ""


def _iso(moment: datetime | None) -> str | None:
    # Full precision, UTC offset included; parsed back with fromisoformat.
    return None if moment is None else moment.isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def stream_from_row(row: Row) -> Stream:
    """A Stream from a row selected with STREAM_SELECT."""
    created_at = _dt(row["created_at"])
    assert created_at is not None  # NOT NULL column
    pinned = row["pinned"]
    return Stream(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        kind=cast(Kind, row["kind"]),
        status=cast(Status, row["status"]),
        host=row["host"],
        cohost=row["cohost"],
        scheduled_at=_dt(row["scheduled_at"]),
        started_at=_dt(row["started_at"]),
        ended_at=_dt(row["ended_at"]),
        created_at=created_at,
        cover=row["cover"],
        pinned=None if pinned is None else json.loads(pinned),
        restarted_at=_dt(row["restarted_at"]),
        live_ms=row["live_ms"],
        slow_mode_seconds=row["slow_mode_seconds"],
        blocked_words=tuple(json.loads(row["blocked_words"])),
        raided_to=row["raided_to"],
        reminders=row["reminders"],
    )


def _chat(row: Row) -> ChatMessage:
    ts = _dt(row["created_at"])
    assert ts is not None  # NOT NULL column
    return ChatMessage(
        id=row["id"],
        stream_id=row["stream_id"],
        user=row["username"],
        text=row["text"],
        mentions=tuple(json.loads(row["mentions"])),
        ts=ts,
    )


def listing_from_row(row: Row) -> Listing:
    created_at = _dt(row["created_at"])
    assert created_at is not None  # NOT NULL column
    return Listing(
        id=row["id"],
        stream_id=row["stream_id"],
        title=row["title"],
        description=row["description"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        quantity=row["quantity"],
        remaining=row["remaining"],
        consignor=row["consignor"],
        status=cast(ListingStatus, row["status"]),
        compare_at_cents=row["compare_at_cents"],
        created_at=created_at,
        format=cast(ListingFormat, row["format"]),
        sku=row["sku"],
        per_buyer_limit=row["per_buyer_limit"],
        daily_cap=row["daily_cap"],
        increment_cents=row["increment_cents"],
        auction_seconds=row["auction_seconds"],
        sudden_death=bool(row["sudden_death"]),
        flash_price_cents=row["flash_price_cents"],
        flash_ends_at_ms=row["flash_ends_at_ms"],
        stock_epoch=row["stock_epoch"],
    )


def order_from_row(row: Row) -> Order:
    created_at = _dt(row["created_at"])
    assert created_at is not None  # NOT NULL column
    return Order(
        id=row["id"],
        stream_id=row["stream_id"],
        listing_id=row["listing_id"] or None,
        buyer=row["buyer"],
        seller=row["seller"],
        quantity=row["quantity"],
        unit_price_cents=row["unit_price_cents"],
        total_cents=row["total_cents"],
        currency=row["currency"],
        consignor=row["consignor"],
        created_at=created_at,
        discount_code=row["discount_code"],
        discount_cents=row["discount_cents"],
        giveaway_id=row["giveaway_id"],
        referrer=row["referrer"],
        commission_percent=row["commission_percent"],
    )


def _private_sqlite_file(path: Path) -> None:
    """A directory we create is private; the file is created 0600 before SQLite opens
    it, and SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
    private_files(*sqlite_files(path))


async def insert_order(conn: Sql, order: Order) -> Order:
    """Record an order inside the caller's transaction. Every order (buy-now, auction
    win, giveaway) is written here, so whatever must accompany an order (the ledger's
    sale entry, its sharer, analytics) is added in one place. Returns the order as
    recorded (with its referrer and commission percent)."""
    order = await attribute_order(conn, order)
    await conn.execute(
        f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES ({', '.join('?' * 16)})",
        (
            order.id,
            order.stream_id,
            _NO_LISTING if order.listing_id is None else order.listing_id,
            order.buyer,
            order.seller,
            order.quantity,
            order.unit_price_cents,
            order.total_cents,
            order.currency,
            order.consignor,
            _iso(order.created_at),
            order.discount_code,
            order.discount_cents,
            order.giveaway_id,
            order.referrer,
            order.commission_percent,
        ),
    )
    await insert_sale_entry(conn, order)
    return order


class Database:
    """The server's database (SQLite or PostgreSQL, see server.sql). Built unopened (so
    it can sit in an AppKey before start-up), then `await open()` and finally
    `await close()`. Statements run on it directly or inside `transaction()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The hottest point reads (every buy, bid and page asks for a stream and a
        # listing): concurrent ones share one query.
        self._stream_rows = rows_by_id(self, STREAM_SELECT)
        self._listing_rows = rows_by_id(self, f"SELECT {LISTING_COLUMNS} FROM listings")
        self._streams = ReadBatcher(self._stream_rows)
        self._listings = ReadBatcher(self._listing_rows)
        # A buy needs both: one wait for the pair, not one for each in turn.
        self._listings_on_streams = ReadBatcher(self._read_listings_on_streams)

    @property
    def dialect(self) -> str:
        return self.engine.dialect

    async def open(self) -> None:
        """Open (creating if needed) the database and bring its schema up to date."""
        if isinstance(self.engine, SqliteEngine):
            _private_sqlite_file(Path(self.engine.path))
        await self.engine.open()
        await apply_migrations(self.engine)

    async def close(self) -> None:
        """Close once pending statements finish."""
        await self.engine.close()

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one write; returns the number of rows changed."""
        return await self.engine.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self.engine.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return await self.engine.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        row: Row | None = await self.engine.fetchone(sql, params)
        return row

    def transaction(self, scope: str | None = None) -> AbstractAsyncContextManager[Sql]:
        """A write transaction exclusive within `scope` (None: the whole database),
        also across processes sharing the database (see server.sql)."""
        tx: AbstractAsyncContextManager[Sql] = self.engine.transaction(scope)
        return tx

    async def batch(self, scope: str | None, steps: Sequence[Step]) -> bool:
        """`steps` in one write transaction (see server.sql's Engine.batch): on SQLite
        one trip to the database thread instead of one per statement."""
        return await self.engine.batch(scope, steps)

    async def scope_of(self, table: str, key_column: str, key: object) -> str | None:
        """The lock scope of the stream a row of `table` belongs to (a row never moves
        to another stream, so it is read before the transaction); None, the whole
        database, for a row not found."""
        row = await self.fetchone(f"SELECT stream_id FROM {table} WHERE {key_column} = ?", (key,))
        return None if row is None else stream_scope(row["stream_id"])

    # -- users ---------------------------------------------------------------------------

    async def insert_user(self, username: str, password_hash: str, created_at: str) -> bool:
        """False when the username is taken (case-insensitively, by the UNIQUE index)."""
        try:
            await self.execute(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                (username, password_hash, created_at),
            )
        except IntegrityError:
            return False
        return True

    async def get_user(self, username: str) -> tuple[str, str] | None:
        """(canonical username, password hash)."""
        row = await self.fetchone(
            "SELECT username, password_hash FROM users WHERE username = ?", (username,)
        )
        return None if row is None else (row["username"], row["password_hash"])

    # -- streams -------------------------------------------------------------------------

    async def insert_stream(self, stream: Stream) -> None:
        await self.execute(
            f"INSERT INTO streams ({_STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stream.id,
                stream.title,
                stream.description,
                stream.kind,
                stream.status,
                stream.host,
                stream.cohost,
                _iso(stream.scheduled_at),
                _iso(stream.started_at),
                _iso(stream.ended_at),
                _iso(stream.created_at),
            ),
        )

    async def get_stream(self, stream_id: str) -> Stream | None:
        row = await self._streams.get(stream_id)
        return None if row is None else stream_from_row(row)

    async def mark_live(self, stream_id: str, at: datetime) -> bool:
        """scheduled or rehearsal -> live; False when it was neither."""
        changed = await self.execute(
            "UPDATE streams SET status = 'live', started_at = ? "
            "WHERE id = ? AND status IN ('scheduled', 'rehearsal')",
            (_iso(at), stream_id),
        )
        return changed == 1

    async def mark_rehearsal(self, stream_id: str) -> bool:
        """scheduled -> rehearsal; False when it was not scheduled."""
        changed = await self.execute(
            "UPDATE streams SET status = 'rehearsal' WHERE id = ? AND status = 'scheduled'",
            (stream_id,),
        )
        return changed == 1

    async def mark_restarted(self, stream_id: str, at: datetime, ended_after: datetime) -> bool:
        """ended -> live again (same id, chat and listings kept) if it ended after
        `ended_after` and was not paid out; False otherwise."""
        # The stream's write lock, as the payout's: one judges after the other.
        async with self.transaction(stream_scope(stream_id)) as conn:
            changed = await conn.execute(
                "UPDATE streams SET status = 'live', restarted_at = ?, ended_at = NULL "
                "WHERE id = ? AND status = 'ended' AND started_at IS NOT NULL "
                "AND ended_at >= ? AND NOT EXISTS "
                "(SELECT 1 FROM payouts WHERE payouts.stream_id = streams.id)",
                (_iso(at), stream_id, _iso(ended_after)),
            )
        return changed == 1

    async def paid_out(self, stream_id: str) -> bool:
        row = await self.fetchone("SELECT 1 FROM payouts WHERE stream_id = ?", (stream_id,))
        return row is not None

    async def mark_ended(self, stream_id: str, at: datetime) -> tuple[bool, str | None]:
        """Not ended -> ended with the seat freed; returns (changed, previous cohost)."""
        async with self.transaction(stream_scope(stream_id)) as conn:
            row = await conn.fetchone(
                "SELECT cohost, status, started_at, restarted_at FROM streams "
                "WHERE id = ? AND status != 'ended'",
                (stream_id,),
            )
            if row is None:
                return False, None
            # The stretch live since the (re)start joins live_ms; a rehearsal adds nothing.
            since = _dt(row["restarted_at"] or row["started_at"])
            stretch = 0
            if row["status"] == "live" and since is not None:
                stretch = max(0, round((at - since).total_seconds() * 1000))
            await conn.execute(
                "UPDATE streams SET status = 'ended', ended_at = ?, cohost = NULL, "
                "live_ms = live_ms + ? WHERE id = ?",
                (_iso(at), stretch, stream_id),
            )
            return True, row["cohost"]

    async def take_seat(self, stream_id: str, username: str) -> bool:
        """Seat `username` if the seat is free and the stream not ended (one atomic UPDATE)."""
        changed = await self.execute(
            "UPDATE streams SET cohost = ? WHERE id = ? AND cohost IS NULL AND status != 'ended'",
            (username, stream_id),
        )
        return changed == 1

    async def clear_seat(self, stream_id: str, expected: str | None) -> str | None:
        """Empty the seat (only if `expected` holds it, when given); returns who left."""
        async with self.transaction(stream_scope(stream_id)) as conn:
            row = await conn.fetchone("SELECT cohost FROM streams WHERE id = ?", (stream_id,))
            previous: str | None = None if row is None else row["cohost"]
            if previous is None or (
                expected is not None and previous.casefold() != expected.casefold()
            ):
                return None
            await conn.execute("UPDATE streams SET cohost = NULL WHERE id = ?", (stream_id,))
            return previous

    # -- chat ----------------------------------------------------------------------------

    async def add_chat(self, message: ChatMessage, keep: int) -> None:
        """Store a message and drop its stream's messages older than the newest `keep`."""
        async with self.transaction(stream_scope(message.stream_id)) as conn:
            await conn.execute(
                "INSERT INTO chat_messages (id, stream_id, username, text, mentions, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    message.id,
                    message.stream_id,
                    message.user,
                    message.text,
                    json.dumps(list(message.mentions)),
                    _iso(message.ts),
                ),
            )
            await conn.execute(
                "DELETE FROM chat_messages WHERE stream_id = ? AND seq <= ("
                "SELECT seq FROM chat_messages WHERE stream_id = ? "
                "ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (message.stream_id, message.stream_id, keep),
            )

    async def recent_chat(self, stream_id: str, limit: int) -> list[ChatMessage]:
        """The newest `limit` messages of a stream, oldest first."""
        rows = await self.fetchall(
            "SELECT * FROM (SELECT * FROM chat_messages WHERE stream_id = ? "
            "ORDER BY seq DESC LIMIT ?) AS recent ORDER BY seq",
            (stream_id, limit),
        )
        return [_chat(row) for row in rows]

    async def hide_chat(self, stream_id: str, message_id: str) -> bool:
        """Delete a message (hidden for everyone); False when unknown in this stream."""
        changed = await self.execute(
            "DELETE FROM chat_messages WHERE stream_id = ? AND id = ?", (stream_id, message_id)
        )
        return changed == 1

    async def search_users(self, prefix: str, limit: int) -> list[str]:
        """Usernames starting with `prefix` (case-insensitively), alphabetically."""
        pattern = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
        rows = await self.fetchall(
            "SELECT username FROM users WHERE username LIKE ? ESCAPE '\\' "
            "ORDER BY lower(username) LIMIT ?",
            (pattern, limit),
        )
        return [row["username"] for row in rows]

    # -- commerce ------------------------------------------------------------------------

    async def insert_listing(self, listing: Listing) -> None:
        await self.execute(
            f"INSERT INTO listings ({LISTING_COLUMNS}) VALUES ({', '.join('?' * 22)})",
            (
                listing.id,
                listing.stream_id,
                listing.title,
                listing.description,
                listing.price_cents,
                listing.currency,
                listing.quantity,
                listing.remaining,
                listing.consignor,
                listing.status,
                listing.compare_at_cents,
                _iso(listing.created_at),
                listing.format,
                listing.sku,
                listing.per_buyer_limit,
                listing.daily_cap,
                listing.increment_cents,
                listing.auction_seconds,
                listing.sudden_death,
                listing.flash_price_cents,
                listing.flash_ends_at_ms,
                listing.stock_epoch,
            ),
        )

    async def get_listing(self, listing_id: str) -> Listing | None:
        row = await self._listings.get(listing_id)
        return None if row is None else listing_from_row(row)

    async def listing_on_stream(self, listing_id: str) -> tuple[Listing, Stream] | None:
        """The listing and its stream (as stored), read with the others asked for."""
        return await self._listings_on_streams.get(listing_id)

    async def _read_listings_on_streams(
        self, ids: list[str]
    ) -> list[tuple[Listing, Stream] | None]:
        # A rush asks for one listing a thousand times: each row is parsed once (the
        # objects are frozen, so the askers may share them).
        unique = list(dict.fromkeys(ids))
        listings = [listing_from_row(row) for row in await self._listing_rows(unique) if row]
        stream_ids = list({listing.stream_id for listing in listings})
        streams = {}
        if stream_ids:  # (PostgreSQL refuses an empty IN list)
            rows = await self._stream_rows(stream_ids)
            streams = {row["id"]: stream_from_row(row) for row in rows if row is not None}
        found = {x.id: (x, streams[x.stream_id]) for x in listings if x.stream_id in streams}
        return [found.get(key) for key in ids]

    async def stream_listings(self, stream_id: str) -> list[Listing]:
        rows = await self.fetchall(
            f"SELECT {LISTING_COLUMNS} FROM listings WHERE stream_id = ? ORDER BY seq",
            (stream_id,),
        )
        return [listing_from_row(row) for row in rows]

    async def stream_orders(self, stream_id: str) -> list[Order]:
        rows = await self.fetchall(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE stream_id = ? ORDER BY seq",
            (stream_id,),
        )
        return [order_from_row(row) for row in rows]


K = TypeVar("K")
T = TypeVar("T")


def rows_by_id(db: Database, select: str) -> Callable[[list[str]], Awaitable[list[Row | None]]]:
    """A ReadBatcher's reader: `select` (a SELECT ... FROM without WHERE) row by `id`."""

    async def read_many(ids: list[str]) -> list[Row | None]:
        unique = list(dict.fromkeys(ids))
        marks = ", ".join("?" * len(unique))
        rows = await db.fetchall(f"{select} WHERE id IN ({marks})", unique)
        by_id = {row["id"]: row for row in rows}
        return [by_id.get(key) for key in ids]

    return read_many


class ReadBatcher(Generic[K, T]):
    """Coalesces concurrent point reads into one query.

    A read asked for while a query is out waits for the next one, so every answer is
    read after it was asked for (as fresh as a read of its own)."""

    # SQLite's default limit on host parameters is 999 (32766 since 3.32).
    MAX_KEYS = 500

    def __init__(self, read_many: Callable[[list[K]], Awaitable[list[T]]]) -> None:
        """`read_many(keys)` answers every key, in order."""
        self._read_many = read_many
        self._waiting: list[tuple[K, asyncio.Future[T]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def get(self, key: K) -> T:
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, answer))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())
        return await answer

    async def _read(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.MAX_KEYS]
                del self._waiting[: self.MAX_KEYS]
                try:
                    values = await self._read_many([key for key, _ in batch])
                except Exception as exc:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                for (_, answer), value in zip(batch, values, strict=True):
                    if not answer.done():
                        answer.set_result(value)
        finally:
            self._reader = None
