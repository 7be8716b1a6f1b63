"""Storage of addresses and email (migration 0004_after_sale)."""

from __future__ import annotations

from server.domain.profile import Address
from server.domain.times import utc_now
from server.store import Database


class SqlProfileStore:
    """Addresses (one per account) and the users table's `email` column."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_address(self, username: str, address: Address) -> None:
        fields = address.to_dict()
        columns = ", ".join(fields)
        await self._db.execute(
            f"INSERT INTO addresses (username, {columns}, updated_at) "
            f"VALUES (?, {', '.join('?' * len(fields))}, ?) "
            f"ON CONFLICT (username) DO UPDATE SET "
            + ", ".join(f"{name} = excluded.{name}" for name in [*fields, "updated_at"]),
            (username, *fields.values(), utc_now().isoformat()),
        )

    async def address(self, username: str) -> Address | None:
        row = await self._db.fetchone("SELECT * FROM addresses WHERE username = ?", (username,))
        return None if row is None else Address.from_dict(dict(row))

    async def save_email(self, username: str, email: str) -> None:
        await self._db.execute("UPDATE users SET email = ? WHERE username = ?", (email, username))

    async def email(self, username: str) -> str | None:
        row = await self._db.fetchone("SELECT email FROM users WHERE username = ?", (username,))
        return None if row is None else row["email"]

    async def hosted_stream_ids(self, username: str, limit: int = 100) -> list[str]:
        """The streams `username` hosts, newest first."""
        rows = await self._db.fetchall(
            "SELECT id FROM streams WHERE host = ? ORDER BY created_at DESC LIMIT ?",
            (username, limit),
        )
        return [row["id"] for row in rows]
