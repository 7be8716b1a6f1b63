"""Listings page by page: `join` carries the newest, REST pages the rest."""

from __future__ import annotations

from server.domain.commerce import Listing
from server.store import LISTING_COLUMNS, Database, listing_from_row


class SqlListingPages:
    """Keyset pages of a stream's listings in creation order (by `seq`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def seq_of(self, stream_id: str, listing_id: str) -> int | None:
        """The position of a listing of this stream, None when it is not one."""
        row = await self._db.fetchone(
            "SELECT seq FROM listings WHERE stream_id = ? AND id = ?", (stream_id, listing_id)
        )
        return None if row is None else int(row["seq"])

    async def page(self, stream_id: str, after_seq: int, limit: int) -> tuple[list[Listing], bool]:
        """Up to `limit` listings created after `after_seq`, oldest first; and whether
        more follow."""
        rows = await self._db.fetchall(
            f"SELECT {LISTING_COLUMNS} FROM listings WHERE stream_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (stream_id, after_seq, limit + 1),
        )
        return [listing_from_row(row) for row in rows[:limit]], len(rows) > limit

    async def newest(self, stream_id: str, limit: int) -> tuple[list[Listing], bool]:
        """The newest `limit` listings, oldest first; and whether older ones exist."""
        rows = await self._db.fetchall(
            f"SELECT {LISTING_COLUMNS} FROM listings WHERE stream_id = ? ORDER BY seq DESC LIMIT ?",
            (stream_id, limit + 1),
        )
        return [listing_from_row(row) for row in reversed(rows[:limit])], len(rows) > limit
