"""Versioned migrations: `NNNN_name.sql` files applied once each, in name order.

SQLite runs the files in this folder; PostgreSQL runs the files of the same names
in `postgresql/` (the same schema in its dialect: CITEXT for the case-insensitive
names, BIGINT and identity keys, plpgsql triggers). Each file runs in one exclusive
transaction together with its row in `schema_migrations`, so two processes opening
the same database apply it once. Add a change as a new file (in both folders);
never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from importlib import resources
from importlib.abc import Traversable

from server.sql import Engine

DIALECT_FOLDERS = {"sqlite": None, "postgresql": "postgresql"}


def migration_files(dialect: str = "sqlite") -> list[tuple[str, str]]:
    """(name, SQL) of every migration shipped for `dialect`, in order."""
    folder: Traversable = resources.files(__package__)
    sub = DIALECT_FOLDERS[dialect]
    if sub is not None:
        folder = folder / sub
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


async def apply_migrations(engine: Engine) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    async with engine.transaction() as conn:  # exclusive: two processes may start at once
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
    applied: list[str] = []
    for name, script in migration_files(engine.dialect):
        async with engine.transaction() as conn:
            if await conn.fetchone("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)):
                continue
            if engine.dialect == "sqlite":
                for statement in statements(script):
                    await conn.execute(statement)
            else:  # PostgreSQL runs a whole script (function bodies included) at once
                await conn.execute(script)
            await conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat()),
            )
            applied.append(name)
    return applied
