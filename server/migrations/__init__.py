"""Versioned SQLite migrations: `NNNN_name.sql` files applied once each, in name order.

Each file runs in one exclusive transaction together with its row in
`schema_migrations`, so two processes opening the same file apply it once.
Add a change as a new file; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from importlib import resources

import aiosqlite


def migration_files() -> list[tuple[str, str]]:
    """(name, SQL) of every migration shipped with the package, in order."""
    folder = resources.files(__package__)
    files = [f for f in folder.iterdir() if f.name.endswith(".sql")]
    return [
        (f.name.removesuffix(".sql"), f.read_text("utf-8"))
        for f in sorted(files, key=lambda f: f.name)
    ]


def statements(script: str) -> list[str]:
    """Split a script into complete SQL statements (semicolons inside strings are safe)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                out.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in pending.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return out


async def apply_migrations(conn: aiosqlite.Connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied: list[str] = []
    for name, script in migration_files():
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (name,)
            ) as cursor:
                done = await cursor.fetchone() is not None
            if not done:
                for statement in statements(script):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, datetime.now(UTC).isoformat()),
                )
                applied.append(name)
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
    return applied
