"""Storage of the selling formats: sales with limits and codes, flash sales,
the stage, auctions and giveaways.

Every rule that concurrency could break is judged inside one exclusive transaction
(`Database.transaction`, see server.sql), which serialises this process's coroutines
and every other process sharing the database (SQLite's write lock, PostgreSQL's
transaction advisory locks). Every rule here stays within one stream (a listing's
stock, per-buyer limit and daily cap, a code's uses and per-buyer quota, an auction's
judge, a giveaway's entrants), so each transaction is scoped to its stream: on
PostgreSQL two streams' judges run side by side. A judge that refuses raises, the
transaction rolls back, and nothing has changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from server.domain.auctions import Auction, AuctionStatus, BidOutcome, Closing
from server.domain.codes import DiscountCode
from server.domain.commerce import Listing, Order, SaleFacts, SaleJudge
from server.domain.errors import conflict, forbidden, invalid_field
from server.domain.giveaways import Eligibility, Giveaway, GiveawayStatus
from server.sql import IntegrityError, Row, Sql, Step, stream_scope
from server.store import LISTING_COLUMNS, Database, insert_order, listing_from_row

_AUCTION_COLUMNS = (
    "seq, listing_id, stream_id, status, start_cents, increment_cents, high_bid_cents, "
    "high_bidder, high_max_cents, ends_at_ms, sudden_death, bid_count, order_id"
)
_GIVEAWAY_SELECT = (
    "SELECT g.id, g.stream_id, g.title, g.status, g.ends_at_ms, g.eligibility, g.seed, "
    "g.commitment, g.winner, (SELECT COUNT(*) FROM giveaway_entrants e "
    "WHERE e.giveaway_id = g.id) AS entrant_count FROM giveaways g"
)


def _auction(row: Row) -> Auction:
    return Auction(
        seq=row["seq"],
        listing_id=row["listing_id"],
        stream_id=row["stream_id"],
        status=cast(AuctionStatus, row["status"]),
        start_cents=row["start_cents"],
        increment_cents=row["increment_cents"],
        high_bid_cents=row["high_bid_cents"],
        high_bidder=row["high_bidder"],
        high_max_cents=row["high_max_cents"],
        ends_at_ms=row["ends_at_ms"],
        sudden_death=bool(row["sudden_death"]),
        bid_count=row["bid_count"],
        order_id=row["order_id"],
    )


def _code(row: Row) -> DiscountCode:
    return DiscountCode(
        stream_id=row["stream_id"],
        code=row["code"],
        percent_off=row["percent_off"],
        amount_off_cents=row["amount_off_cents"],
        max_uses=row["max_uses"],
        per_buyer=row["per_buyer"],
        listing_ids=None if row["listing_ids"] is None else tuple(json.loads(row["listing_ids"])),
        uses=row["uses"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _giveaway(row: Row) -> Giveaway:
    return Giveaway(
        id=row["id"],
        stream_id=row["stream_id"],
        title=row["title"],
        status=cast(GiveawayStatus, row["status"]),
        ends_at_ms=row["ends_at_ms"],
        eligibility=cast(Eligibility, row["eligibility"]),
        seed=row["seed"],
        commitment=row["commitment"],
        winner=row["winner"],
        entrant_count=row["entrant_count"],
    )


async def _one(conn: Sql, sql: str, params: tuple[Any, ...]) -> Row | None:
    row: Row | None = await conn.fetchone(sql, params)
    return row


async def _scalar(conn: Sql, sql: str, params: tuple[Any, ...]) -> int:
    row = await _one(conn, sql, params)
    return 0 if row is None or row[0] is None else int(row[0])


async def _listing_in(conn: Sql, listing_id: str) -> Listing:
    row = await _one(conn, f"SELECT {LISTING_COLUMNS} FROM listings WHERE id = ?", (listing_id,))
    assert row is not None  # listings are never deleted
    return listing_from_row(row)


class SellingStore:
    """The selling formats' tables, on the server's Database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _listing_scope(self, listing_id: str) -> str | None:
        """The listing's stream's scope (a listing never moves; None: not found)."""
        listing = await self._db.get_listing(listing_id)  # concurrent buyers share one read
        return None if listing is None else stream_scope(listing.stream_id)

    # -- buy-now: limits, caps, codes, flash prices --------------------------------------

    async def sell(
        self, listing_id: str, buyer: str, code: str | None, judge: SaleJudge, dry_run: bool = False
    ) -> tuple[Listing, Order]:
        async with self._db.transaction(await self._listing_scope(listing_id)) as conn:
            listing = await _listing_in(conn, listing_id)
            stream = await _one(
                conn, "SELECT status, host FROM streams WHERE id = ?", (listing.stream_id,)
            )
            assert stream is not None
            code_row = None
            if code is not None:
                code_row = await _one(
                    conn,
                    "SELECT * FROM discount_codes WHERE stream_id = ? AND code = ?",
                    (listing.stream_id, code),
                )
            facts = SaleFacts(
                listing=listing,
                stream_status=stream["status"],
                seller=stream["host"],
                # Each count is read only for the rule that needs it (fewer trips).
                bought_by_buyer=0
                if listing.per_buyer_limit is None
                else await _scalar(
                    conn,
                    "SELECT SUM(quantity) FROM orders WHERE listing_id = ? AND buyer = ?",
                    (listing.id, buyer),
                ),
                sold_today=0
                if listing.daily_cap is None
                else await _scalar(
                    conn,
                    # created_at is UTC ISO 8601: its first 10 characters are the UTC day.
                    "SELECT SUM(quantity) FROM orders WHERE listing_id = ? "
                    "AND substr(created_at, 1, 10) = ?",
                    (listing.id, datetime.now(UTC).date().isoformat()),
                ),
                code=None if code_row is None else _code(code_row),
                code_used_by_buyer=await _scalar(
                    conn,
                    "SELECT COUNT(*) FROM orders WHERE stream_id = ? AND discount_code = ? "
                    "AND buyer = ?",
                    (listing.stream_id, code, buyer),
                )
                if code_row is not None
                else 0,
            )
            order = judge(facts)
            if dry_run:  # a quote: the same judgement, nothing written
                return listing, order
            await conn.execute(
                "UPDATE listings SET remaining = remaining - ?, "
                "status = CASE WHEN remaining = ? THEN 'sold_out' ELSE status END WHERE id = ?",
                (order.quantity, order.quantity, listing.id),
            )
            if order.discount_code is not None:
                await conn.execute(
                    "UPDATE discount_codes SET uses = uses + 1 WHERE stream_id = ? AND code = ?",
                    (listing.stream_id, order.discount_code),
                )
            order = await insert_order(conn, order)  # with its referrer (sharers)
            left = listing.remaining - order.quantity  # as the UPDATE above left it
            return replace(
                listing, remaining=left, status="sold_out" if left == 0 else listing.status
            ), order

    async def compare_at_backed(
        self, seller: str, sku: str, compare_at_cents: int, since: datetime
    ) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM orders o JOIN listings l ON l.id = o.listing_id "
            "WHERE o.seller = ? AND l.sku = ? AND o.unit_price_cents >= ? AND o.created_at >= ? "
            "LIMIT 1",
            (seller, sku, compare_at_cents, since.isoformat()),
        )
        return row is not None

    async def take_stage(self, stream_id: str, listing_id: str, at_ms: int, min_ms: int) -> bool:
        async with self._db.transaction(stream_scope(stream_id)) as conn:
            row = await _one(conn, "SELECT * FROM stages WHERE stream_id = ?", (stream_id,))
            if row is not None and row["listing_id"] == listing_id:
                return True  # already on stage: it keeps its time
            if row is not None and at_ms - row["presented_at_ms"] < min_ms:
                return False
            await conn.execute(
                "INSERT INTO stages (stream_id, listing_id, presented_at_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (stream_id) DO UPDATE SET listing_id = excluded.listing_id, "
                "presented_at_ms = excluded.presented_at_ms",
                (stream_id, listing_id, at_ms),
            )
            return True

    async def set_flash(self, listing_id: str, price_cents: int, ends_at_ms: int) -> Listing:
        async with self._db.transaction(await self._listing_scope(listing_id)) as conn:
            await conn.execute(
                "UPDATE listings SET flash_price_cents = ?, flash_ends_at_ms = ? WHERE id = ?",
                (price_cents, ends_at_ms, listing_id),
            )
            return await _listing_in(conn, listing_id)

    async def set_quantity(self, listing_id: str, quantity: int) -> Listing:
        async with self._db.transaction() as conn:
            listing = await _listing_in(conn, listing_id)
            sold = listing.quantity - listing.remaining
            if quantity < sold:
                raise invalid_field("quantity", f"must be at least the {sold} already sold")
            remaining = quantity - sold
            status = listing.status
            if status != "closed":
                status = "active" if remaining > 0 else "sold_out"
            restocked = int(remaining > listing.remaining)
            await conn.execute(
                "UPDATE listings SET quantity = ?, remaining = ?, status = ?, "
                "stock_epoch = stock_epoch + ? WHERE id = ?",
                (quantity, remaining, status, restocked, listing_id),
            )
            return await _listing_in(conn, listing_id)

    async def end_due_flashes(self, at_ms: int) -> list[Listing]:
        # Every clock tick of every process asks: streams with none due cost one read
        # and no lock; each stream with some is claimed in its own transaction.
        streams = await self._db.fetchall(
            "SELECT DISTINCT stream_id FROM listings WHERE flash_ends_at_ms <= ?", (at_ms,)
        )
        ended: list[Listing] = []
        for stream in streams:
            async with self._db.transaction(stream_scope(stream["stream_id"])) as conn:
                due = await conn.fetchall(
                    "SELECT id FROM listings WHERE stream_id = ? AND flash_ends_at_ms <= ?",
                    (stream["stream_id"], at_ms),
                )
                for row in due:
                    await conn.execute(
                        "UPDATE listings SET flash_price_cents = NULL, flash_ends_at_ms = NULL "
                        "WHERE id = ?",
                        (row["id"],),
                    )
                    ended.append(await _listing_in(conn, row["id"]))
        return ended

    # -- codes ---------------------------------------------------------------------------

    async def insert_code(self, code: DiscountCode) -> bool:
        try:
            await self._db.execute(
                "INSERT INTO discount_codes (stream_id, code, percent_off, amount_off_cents, "
                "max_uses, per_buyer, listing_ids, uses, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (
                    code.stream_id,
                    code.code,
                    code.percent_off,
                    code.amount_off_cents,
                    code.max_uses,
                    code.per_buyer,
                    None if code.listing_ids is None else json.dumps(list(code.listing_ids)),
                    code.created_at.isoformat(),
                ),
            )
        except IntegrityError:
            return False
        return True

    async def stream_codes(self, stream_id: str) -> list[DiscountCode]:
        rows = await self._db.fetchall(
            "SELECT * FROM discount_codes WHERE stream_id = ? ORDER BY created_at, code",
            (stream_id,),
        )
        return [_code(row) for row in rows]

    async def stream_listing_ids(self, stream_id: str) -> set[str]:
        rows = await self._db.fetchall("SELECT id FROM listings WHERE stream_id = ?", (stream_id,))
        return {row["id"] for row in rows}

    # -- auctions ------------------------------------------------------------------------

    async def start_auction(self, auction: Auction) -> Auction | None:
        async with self._db.transaction(stream_scope(auction.stream_id)) as conn:
            # Checked again here, with the stream's writes held: the caller read the
            # listing before, and an earlier run closing since may have sold it.
            listing = await conn.fetchone(
                "SELECT status FROM listings WHERE id = ?", (auction.listing_id,)
            )
            if listing is None or listing["status"] != "active":
                raise conflict("auction_done", "this item's auction is over")
            try:
                row = await conn.fetchone(
                    "INSERT INTO auctions (listing_id, stream_id, status, start_cents, "
                    "increment_cents, ends_at_ms, sudden_death, bid_count, started_at_ms) "
                    f"VALUES (?, ?, 'running', ?, ?, ?, ?, 0, ?) RETURNING {_AUCTION_COLUMNS}",
                    (
                        auction.listing_id,
                        auction.stream_id,
                        auction.start_cents,
                        auction.increment_cents,
                        auction.ends_at_ms,
                        auction.sudden_death,
                        round(time.time() * 1000),
                    ),
                )
            except IntegrityError:  # auctions_one_running: the stream has one
                return None
            assert row is not None
            return _auction(row)

    async def record_bids(self, after: Auction, written_count: int, bids: list[BidOutcome]) -> bool:
        """One group commit: the auction's new state and its batch of bids, written only
        if the auction still runs with the bid count this judge last wrote (a fence
        against a second judge); False (nothing written) otherwise. One batch: bids
        acknowledge only once it commits, so its trips to the database are their wait."""
        fence = Step(
            "UPDATE auctions SET high_bid_cents = ?, high_bidder = ?, high_max_cents = ?, "
            "ends_at_ms = ?, bid_count = ? "
            "WHERE seq = ? AND status = 'running' AND bid_count = ?",
            [
                (
                    after.high_bid_cents,
                    after.high_bidder,
                    after.high_max_cents,
                    after.ends_at_ms,
                    after.bid_count,
                    after.seq,
                    written_count,
                )
            ],
            expect=1,  # else closed, or judged by another process meanwhile
        )
        rows = Step(
            "INSERT INTO bids (auction_seq, bidder, amount_cents, max_cents, at_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            [(after.seq, b.bidder, b.amount_cents, b.max_cents, b.at_ms) for b in bids],
        )
        return await self._db.batch(stream_scope(after.stream_id), [fence, rows])

    async def latest_auction(self, listing_id: str) -> Auction | None:
        row = await self._db.fetchone(
            f"SELECT {_AUCTION_COLUMNS} FROM auctions WHERE listing_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (listing_id,),
        )
        return None if row is None else _auction(row)

    async def running_auction(self, stream_id: str) -> Auction | None:
        row = await self._db.fetchone(
            f"SELECT {_AUCTION_COLUMNS} FROM auctions WHERE stream_id = ? AND status = 'running'",
            (stream_id,),
        )
        return None if row is None else _auction(row)

    async def due_auctions(self, at_ms: int) -> list[Auction]:
        rows = await self._db.fetchall(
            f"SELECT {_AUCTION_COLUMNS} FROM auctions WHERE status = 'running' AND ends_at_ms <= ?",
            (at_ms,),
        )
        return [_auction(row) for row in rows]

    async def close_auction(
        self, seq: int, at_ms: int, make_order: Callable[[Auction, Listing], Order]
    ) -> Closing | None:
        async with self._db.transaction(await self._db.scope_of("auctions", "seq", seq)) as conn:
            row = await _one(
                conn,
                f"SELECT {_AUCTION_COLUMNS} FROM auctions "
                "WHERE seq = ? AND status = 'running' AND ends_at_ms <= ?",
                (seq, at_ms),
            )
            if row is None:  # closed by another process, or a bid extended it
                return None
            auction = _auction(row)
            listing = await _listing_in(conn, auction.listing_id)
            order = None
            # Never a second sale of the item (a run started on it after it sold closes
            # unsold; start_auction refuses such a run).
            if auction.high_bidder is not None and listing.status == "active":
                order = make_order(auction, listing)
                order = await insert_order(conn, order)
                await conn.execute(
                    "UPDATE listings SET remaining = 0, status = 'sold_out' WHERE id = ?",
                    (listing.id,),
                )
                listing = await _listing_in(conn, listing.id)
            status = "unsold" if order is None else "sold"
            await conn.execute(
                "UPDATE auctions SET status = ?, order_id = ? WHERE seq = ?",
                (status, None if order is None else order.id, seq),
            )
            closed = replace(auction, status=status, order_id=None if order is None else order.id)
            return Closing(closed, listing, order)

    # -- giveaways -----------------------------------------------------------------------

    async def insert_giveaway(self, giveaway: Giveaway) -> bool:
        try:
            await self._db.execute(
                "INSERT INTO giveaways (id, stream_id, title, status, ends_at_ms, eligibility, "
                "seed, commitment, created_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)",
                (
                    giveaway.id,
                    giveaway.stream_id,
                    giveaway.title,
                    giveaway.ends_at_ms,
                    giveaway.eligibility,
                    giveaway.seed,
                    giveaway.commitment,
                    datetime.now(UTC).isoformat(),
                ),
            )
        except IntegrityError:  # giveaways_one_open
            return False
        return True

    async def get_giveaway(self, giveaway_id: str) -> Giveaway | None:
        row = await self._db.fetchone(f"{_GIVEAWAY_SELECT} WHERE g.id = ?", (giveaway_id,))
        return None if row is None else _giveaway(row)

    async def open_giveaway(self, stream_id: str) -> Giveaway | None:
        row = await self._db.fetchone(
            f"{_GIVEAWAY_SELECT} WHERE g.stream_id = ? AND g.status = 'open'", (stream_id,)
        )
        return None if row is None else _giveaway(row)

    async def enter_giveaway(
        self, giveaway_id: str, username: str, at_ms: int, buyers_only: bool
    ) -> tuple[Giveaway, bool]:
        scope = await self._db.scope_of("giveaways", "id", giveaway_id)
        async with self._db.transaction(scope) as conn:
            row = await _one(conn, f"{_GIVEAWAY_SELECT} WHERE g.id = ?", (giveaway_id,))
            assert row is not None
            giveaway = _giveaway(row)
            if giveaway.status != "open" or at_ms >= giveaway.ends_at_ms:
                raise conflict("giveaway_closed", "this giveaway is closed")
            if buyers_only and not await _scalar(
                conn,
                "SELECT COUNT(*) FROM orders WHERE stream_id = ? AND buyer = ? "
                "AND giveaway_id IS NULL",
                (giveaway.stream_id, username),
            ):
                raise forbidden("only buyers in this stream may enter", "not_eligible")
            added = (
                await conn.execute(
                    "INSERT INTO giveaway_entrants (giveaway_id, username) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (giveaway_id, username),
                )
                == 1
            )
            row = await _one(conn, f"{_GIVEAWAY_SELECT} WHERE g.id = ?", (giveaway_id,))
            assert row is not None
            return _giveaway(row), added

    async def entrants(self, giveaway_id: str) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT username FROM giveaway_entrants WHERE giveaway_id = ?", (giveaway_id,)
        )
        return [row["username"] for row in rows]

    async def due_giveaways(self, at_ms: int) -> list[Giveaway]:
        rows = await self._db.fetchall(
            f"{_GIVEAWAY_SELECT} WHERE g.status = 'open' AND g.ends_at_ms <= ?", (at_ms,)
        )
        return [_giveaway(row) for row in rows]

    async def finish_giveaway(
        self, giveaway_id: str, at_ms: int, winner: str | None, order: Order | None
    ) -> Giveaway | None:
        scope = await self._db.scope_of("giveaways", "id", giveaway_id)
        async with self._db.transaction(scope) as conn:
            drawn = await conn.execute(
                "UPDATE giveaways SET status = 'drawn', winner = ?, order_id = ? "
                "WHERE id = ? AND status = 'open' AND ends_at_ms <= ?",
                (winner, None if order is None else order.id, giveaway_id, at_ms),
            )
            if drawn != 1:
                return None
            if order is not None:
                await insert_order(conn, order)
            row = await _one(conn, f"{_GIVEAWAY_SELECT} WHERE g.id = ?", (giveaway_id,))
            assert row is not None
            return _giveaway(row)

    # -- the selling clock ---------------------------------------------------------------

    async def next_deadline_ms(self) -> int | None:
        """The earliest pending deadline: an auction's end, a draw, a flash sale's end."""
        row = await self._db.fetchone(
            "SELECT MIN(t) FROM ("
            "SELECT MIN(ends_at_ms) AS t FROM auctions WHERE status = 'running' "
            "UNION ALL SELECT MIN(ends_at_ms) FROM giveaways WHERE status = 'open' "
            "UNION ALL SELECT MIN(flash_ends_at_ms) FROM listings "
            "WHERE flash_ends_at_ms IS NOT NULL) AS deadlines",
        )
        return None if row is None or row[0] is None else int(row[0])
