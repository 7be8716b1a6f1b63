"""Token revocation in the database, so that every process sharing the database agrees."""

from __future__ import annotations

from server.sql import user_scope
from server.store import Database, ReadBatcher

# The scope of the revoked-token list: its writes judge nothing of any stream or account.
REVOCATIONS = "revoked_tokens"


class SqlTokenStore:
    """Per-user token generations and revoked token ids."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._states = ReadBatcher(self._read_states)

    async def generation(self, username: str) -> int | None:
        """The user's current token generation; None when the account does not exist."""
        row = await self._db.fetchone(
            "SELECT token_generation FROM users WHERE username = ?", (username,)
        )
        return None if row is None else int(row["token_generation"])

    async def state(self, username: str, token_id: str) -> tuple[int | None, bool]:
        """(the user's generation or None, whether `token_id` was revoked), read with
        the other checks asked for at the same time (a rush of new users' first
        requests costs one trip to the database)."""
        return await self._states.get((username, token_id))

    async def revocations(self, now: int) -> tuple[dict[str, int], dict[str, int]]:
        """(every bumped generation by lowercase name, every unexpired revoked id's expiry)."""
        users = await self._db.fetchall(
            "SELECT username, token_generation FROM users WHERE token_generation > 0"
        )
        revoked = await self._db.fetchall(
            "SELECT id, expires_at FROM revoked_tokens WHERE expires_at > ?", (now,)
        )
        return (
            {row["username"].lower(): int(row["token_generation"]) for row in users},
            {row["id"]: int(row["expires_at"]) for row in revoked},
        )

    async def revoke(self, token_id: str, expires_at: int, now: int) -> None:
        """Remember a revoked id until its token would have expired anyway."""
        async with self._db.transaction(REVOCATIONS) as conn:
            await conn.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (now,))
            await conn.execute(
                "INSERT INTO revoked_tokens (id, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (token_id, expires_at),
            )

    async def bump_generation(self, username: str) -> None:
        """Revoke every token of the user issued so far."""
        await self._db.execute(
            "UPDATE users SET token_generation = token_generation + 1 WHERE username = ?",
            (username,),
        )

    async def replace_password(self, username: str, password_hash: str) -> int:
        """Store a new password hash and bump the generation (every older token dies);
        returns the new generation."""
        async with self._db.transaction(user_scope(username)) as conn:
            await conn.execute(
                "UPDATE users SET password_hash = ?, token_generation = token_generation + 1 "
                "WHERE username = ?",
                (password_hash, username),
            )
            row = await conn.fetchone(
                "SELECT token_generation FROM users WHERE username = ?", (username,)
            )
        assert row is not None  # the caller checked the account
        return int(row["token_generation"])

    async def _read_states(self, keys: list[tuple[str, str]]) -> list[tuple[int | None, bool]]:
        """Every key's state in two queries, however many keys."""
        names = list(dict.fromkeys(name for name, _ in keys))
        ids = list(dict.fromkeys(token_id for _, token_id in keys))
        users = await self._db.fetchall(
            "SELECT username, token_generation FROM users "
            f"WHERE username IN ({', '.join('?' * len(names))})",
            names,
        )
        revoked = await self._db.fetchall(
            f"SELECT id FROM revoked_tokens WHERE id IN ({', '.join('?' * len(ids))})", ids
        )
        # Usernames compare case-insensitively (COLLATE NOCASE / citext).
        generations = {row["username"].lower(): int(row["token_generation"]) for row in users}
        gone = {row["id"] for row in revoked}
        return [(generations.get(name.lower()), token_id in gone) for name, token_id in keys]
