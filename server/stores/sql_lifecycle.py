"""Storage of the show lifecycle: details, cover, pin, chat settings, discovery,
reminders, moderators and the analytics recorded while a show runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from server.domain.streams import Stream
from server.sql import stream_scope
from server.store import STREAM_SELECT, Database, stream_from_row


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class LifecycleStore:
    """Every lifecycle query; one instance per Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- stream fields -------------------------------------------------------------------

    async def update_details(self, stream_id: str, fields: dict[str, Any]) -> bool:
        """Change title/description/kind/scheduled_at while not live or ended."""
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [_iso(v) if isinstance(v, datetime) else v for v in fields.values()]
        changed = await self.db.execute(
            f"UPDATE streams SET {columns} WHERE id = ? AND status IN ('scheduled', 'rehearsal')",
            (*values, stream_id),
        )
        return changed == 1

    async def set_cover(self, stream_id: str, cover: str) -> str | None:
        """Store the new cover file name; returns the previous one."""
        async with self.db.transaction(stream_scope(stream_id)) as conn:
            row = await conn.fetchone("SELECT cover FROM streams WHERE id = ?", (stream_id,))
            await conn.execute("UPDATE streams SET cover = ? WHERE id = ?", (cover, stream_id))
            return None if row is None else row["cover"]

    async def set_pinned(self, stream_id: str, pinned: dict[str, Any] | None) -> None:
        await self.db.execute(
            "UPDATE streams SET pinned = ? WHERE id = ?",
            (None if pinned is None else json.dumps(pinned), stream_id),
        )

    async def set_chat_settings(
        self, stream_id: str, slow_mode_seconds: int, blocked_words: tuple[str, ...]
    ) -> None:
        await self.db.execute(
            "UPDATE streams SET slow_mode_seconds = ?, blocked_words = ? WHERE id = ?",
            (slow_mode_seconds, json.dumps(list(blocked_words)), stream_id),
        )

    async def set_raided(self, stream_id: str, to_stream_id: str) -> None:
        await self.db.execute(
            "UPDATE streams SET raided_to = ? WHERE id = ?", (to_stream_id, stream_id)
        )

    async def claim_reminders(self, stream_id: str, at: datetime) -> bool:
        """True once per stream: whoever claims first sends the reminders."""
        changed = await self.db.execute(
            "UPDATE streams SET reminders_sent_at = ? WHERE id = ? AND reminders_sent_at IS NULL",
            (_iso(at), stream_id),
        )
        return changed == 1

    # -- discovery -----------------------------------------------------------------------

    async def streams_with_status(self, status: str, limit: int) -> list[Stream]:
        """Live shows newest first; scheduled ones soonest first (unscheduled last)."""
        order = (
            "started_at DESC"
            if status == "live"
            else "scheduled_at IS NULL, scheduled_at, created_at"
        )
        rows = await self.db.fetchall(
            f"{STREAM_SELECT} WHERE status = ? ORDER BY {order} LIMIT ?", (status, limit)
        )
        return [stream_from_row(row) for row in rows]

    # -- reminders -----------------------------------------------------------------------

    async def add_reminder(
        self, stream_id: str, username: str, email: str | None, at: datetime
    ) -> int:
        """Sign up (again: the email is updated); returns the stream's count."""
        async with self.db.transaction(stream_scope(stream_id)) as conn:
            await conn.execute(
                "INSERT INTO reminders (stream_id, username, email, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (stream_id, username) DO UPDATE SET "
                "email = COALESCE(excluded.email, reminders.email)",
                (stream_id, username, email, _iso(at)),
            )
            return await self._reminder_count(conn, stream_id)

    async def remove_reminder(self, stream_id: str, username: str) -> int:
        async with self.db.transaction(stream_scope(stream_id)) as conn:
            await conn.execute(
                "DELETE FROM reminders WHERE stream_id = ? AND username = ?",
                (stream_id, username),
            )
            return await self._reminder_count(conn, stream_id)

    @staticmethod
    async def _reminder_count(conn: Any, stream_id: str) -> int:
        row = await conn.fetchone(
            "SELECT COUNT(*) FROM reminders WHERE stream_id = ?", (stream_id,)
        )
        return int(row[0])

    async def has_reminder(self, stream_id: str, username: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM reminders WHERE stream_id = ? AND username = ?",
            (stream_id, username),
        )
        return row is not None

    async def reminder_subscribers(self, stream_id: str) -> list[tuple[str, str | None]]:
        """(username, email or None) of everyone signed up: the address given at sign-up,
        else the account's own."""
        rows = await self.db.fetchall(
            "SELECT reminders.username AS username, "
            "COALESCE(reminders.email, users.email) AS email FROM reminders "
            "LEFT JOIN users ON users.username = reminders.username "
            "WHERE reminders.stream_id = ? ORDER BY reminders.created_at",
            (stream_id,),
        )
        return [(row["username"], row["email"]) for row in rows]

    # -- moderators ----------------------------------------------------------------------

    async def add_moderator(self, stream_id: str, username: str) -> None:
        await self.db.execute(
            "INSERT INTO stream_moderators (stream_id, username) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (stream_id, username),
        )

    async def remove_moderator(self, stream_id: str, username: str) -> None:
        await self.db.execute(
            "DELETE FROM stream_moderators WHERE stream_id = ? AND username = ?",
            (stream_id, username),
        )

    async def moderators(self, stream_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT username FROM stream_moderators WHERE stream_id = ? ORDER BY lower(username)",
            (stream_id,),
        )
        return [row["username"] for row in rows]

    async def is_moderator(self, stream_id: str, username: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM stream_moderators WHERE stream_id = ? AND username = ?",
            (stream_id, username),
        )
        return row is not None

    # -- analytics, recorded as the show runs ---------------------------------------------

    async def session_joined(
        self, stream_id: str, conn_id: str, username: str | None, role: str, at_ms: int
    ) -> None:
        await self.db.execute(
            "INSERT INTO viewer_sessions (stream_id, conn_id, username, role, joined_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            (stream_id, conn_id, username, role, at_ms),
        )

    async def session_left(self, stream_id: str, conn_id: str, at_ms: int) -> None:
        await self.db.execute(
            "UPDATE viewer_sessions SET left_ms = ? "
            "WHERE stream_id = ? AND conn_id = ? AND left_ms IS NULL",
            (at_ms, stream_id, conn_id),
        )

    async def close_sessions(self, stream_id: str, at_ms: int) -> None:
        """The show ended: every open session ends with it."""
        await self.db.execute(
            "UPDATE viewer_sessions SET left_ms = ? WHERE stream_id = ? AND left_ms IS NULL",
            (at_ms, stream_id),
        )

    async def viewer_sample(self, stream_id: str, ts_ms: int, count: int) -> None:
        await self.db.execute(
            "INSERT INTO viewer_samples (stream_id, ts_ms, count) VALUES (?, ?, ?)",
            (stream_id, ts_ms, count),
        )

    async def chat_counted(self, stream_id: str, username: str, ts_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO chat_counts (stream_id, username, ts_ms) VALUES (?, ?, ?)",
            (stream_id, username, ts_ms),
        )

    async def sessions(self, stream_id: str) -> list[tuple[str | None, str, str, int, int | None]]:
        """(username, conn_id, role, joined_ms, left_ms) of every session."""
        rows = await self.db.fetchall(
            "SELECT username, conn_id, role, joined_ms, left_ms FROM viewer_sessions "
            "WHERE stream_id = ? ORDER BY seq",
            (stream_id,),
        )
        return [
            (row["username"], row["conn_id"], row["role"], row["joined_ms"], row["left_ms"])
            for row in rows
        ]

    async def samples(self, stream_id: str) -> list[tuple[int, int]]:
        rows = await self.db.fetchall(
            "SELECT ts_ms, count FROM viewer_samples WHERE stream_id = ? ORDER BY seq",
            (stream_id,),
        )
        return [(row["ts_ms"], row["count"]) for row in rows]

    async def chat_times(self, stream_id: str) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT ts_ms FROM chat_counts WHERE stream_id = ? ORDER BY seq", (stream_id,)
        )
        return [row["ts_ms"] for row in rows]
