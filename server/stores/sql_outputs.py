"""Storage of the outputs area: per-stream settings, destinations, QR incidents."""

from __future__ import annotations

from dataclasses import dataclass

from server.sql import stream_scope
from server.store import Database


@dataclass(frozen=True)
class Destination:
    """One simulcast target of a stream."""

    id: str
    stream_id: str
    url: str
    created_at: str


class OutputsStore:
    """Rows of `stream_outputs`, `stream_destinations` and `qr_incidents`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, stream_id: str) -> tuple[bool | None, str | None]:
        """(record, layout) of the stream; None where it follows the server's default."""
        row = await self._db.fetchone(
            "SELECT record, layout FROM stream_outputs WHERE stream_id = ?", (stream_id,)
        )
        if row is None:
            return None, None
        return (None if row["record"] is None else bool(row["record"])), row["layout"]

    async def set_record(self, stream_id: str, record: bool) -> None:
        await self._db.execute(
            "INSERT INTO stream_outputs (stream_id, record) VALUES (?, ?) "
            "ON CONFLICT (stream_id) DO UPDATE SET record = excluded.record",
            (stream_id, int(record)),
        )

    async def set_layout(self, stream_id: str, layout: str) -> None:
        await self._db.execute(
            "INSERT INTO stream_outputs (stream_id, layout) VALUES (?, ?) "
            "ON CONFLICT (stream_id) DO UPDATE SET layout = excluded.layout",
            (stream_id, layout),
        )

    async def destinations(self, stream_id: str) -> list[Destination]:
        rows = await self._db.fetchall(
            "SELECT id, stream_id, url, created_at FROM stream_destinations "
            "WHERE stream_id = ? ORDER BY seq",
            (stream_id,),
        )
        return [Destination(r["id"], r["stream_id"], r["url"], r["created_at"]) for r in rows]

    async def add_destination(self, destination: Destination, limit: int) -> bool:
        """Insert unless the stream already has `limit` destinations (atomic)."""
        async with self._db.transaction(stream_scope(destination.stream_id)) as conn:
            (count,) = await conn.fetchone(
                "SELECT COUNT(*) FROM stream_destinations WHERE stream_id = ?",
                (destination.stream_id,),
            )
            if count >= limit:
                return False
            await conn.execute(
                "INSERT INTO stream_destinations (id, stream_id, url, created_at) "
                "VALUES (?, ?, ?, ?)",
                (destination.id, destination.stream_id, destination.url, destination.created_at),
            )
        return True

    async def remove_destination(self, stream_id: str, dest_id: str) -> bool:
        changed = await self._db.execute(
            "DELETE FROM stream_destinations WHERE stream_id = ? AND id = ?", (stream_id, dest_id)
        )
        return changed > 0

    async def add_qr_incident(self, stream_id: str, detected_at: str, payload: str) -> None:
        await self._db.execute(
            "INSERT INTO qr_incidents (stream_id, detected_at, payload) VALUES (?, ?, ?)",
            (stream_id, detected_at, payload),
        )

    async def qr_incidents(self, stream_id: str) -> list[dict[str, str]]:
        rows = await self._db.fetchall(
            "SELECT detected_at, payload FROM qr_incidents WHERE stream_id = ? ORDER BY seq",
            (stream_id,),
        )
        return [{"detected_at": r["detected_at"], "payload": r["payload"]} for r in rows]
