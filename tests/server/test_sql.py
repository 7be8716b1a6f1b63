"""The SQL seam (server.sql): one statement text, the same answers on both engines."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.sql import (
    IntegrityError,
    PostgresEngine,
    SqliteEngine,
    numbered_placeholders,
    open_engine,
)
from server.store import Database
from tests.conftest import BOTH_DATABASES


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ?", "SELECT $1"),
        ("a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"),
        ("x = '?' AND y = ?", "x = '?' AND y = $1"),
        ("x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"),
        ('"odd?name" = ?', '"odd?name" = $1'),
        ("-- why?\nSELECT ?", "-- why?\nSELECT $1"),
        ("LIKE ? ESCAPE '\\' LIMIT ?", "LIKE $1 ESCAPE '\\' LIMIT $2"),
    ],
)
def test_placeholders_are_numbered_outside_literals(sql: str, expected: str) -> None:
    assert numbered_placeholders(sql) == expected


@pytest.fixture
async def db(tmp_path: Path, database_url: str | None) -> AsyncIterator[Database]:
    """An opened Database (schema migrated) on the parametrized engine."""
    database = Database(open_engine(database_url, tmp_path / "db.sqlite3"))
    await database.open()
    yield database
    await database.close()


@BOTH_DATABASES
async def test_engine_follows_the_url(db: Database, database: str) -> None:
    assert db.dialect == database
    kind = PostgresEngine if database == "postgresql" else SqliteEngine
    assert isinstance(db.engine, kind)


@BOTH_DATABASES
async def test_rows_by_name_and_position_and_counts(db: Database) -> None:
    await db.executemany(
        "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
        [(name, "h", "2026-01-01T00:00:00+00:00") for name in ("ann", "bob", "cy")],
    )
    changed = await db.execute("UPDATE users SET email = ? WHERE username != ?", ("x@y.z", "cy"))
    assert changed == 2
    row = await db.fetchone("SELECT COUNT(*) AS n FROM users WHERE email IS NOT NULL")
    assert row is not None and row["n"] == row[0] == 2
    names = [r["username"] for r in await db.fetchall("SELECT username FROM users ORDER BY 1")]
    assert names == ["ann", "bob", "cy"]


@BOTH_DATABASES
async def test_names_compare_case_insensitively(db: Database) -> None:
    assert await db.insert_user("Alice", "h", "2026-01-01T00:00:00+00:00")
    assert not await db.insert_user("ALICE", "h", "2026-01-01T00:00:00+00:00")
    assert await db.get_user("alice") == ("Alice", "h")
    assert await db.search_users("al", 5) == ["Alice"]


@BOTH_DATABASES
async def test_sums_are_whole_numbers(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO ledger_entries (id, username, kind, bucket, amount_cents, stream_id, "
            "created_at) VALUES (?, 'h', 'sale', 'pending', ?, 's', 't')",
            [(f"e{seq}", amount) for seq, amount in enumerate((250, 750))],
        )
    row = await db.fetchone("SELECT SUM(amount_cents) FROM ledger_entries")
    assert row is not None and row[0] == 1000 and isinstance(row[0], int)


@BOTH_DATABASES
async def test_constraint_refusal_is_integrity_error_and_changes_nothing(db: Database) -> None:
    async def insert(conn, seq: int) -> None:
        await conn.execute(
            "INSERT INTO discount_codes (stream_id, code, max_uses, per_buyer, uses, "
            "created_at) VALUES ('s', ?, 1, 1, ?, 't')",
            (f"C{seq}", seq),
        )

    with pytest.raises(IntegrityError):  # uses <= max_uses
        async with db.transaction() as conn:
            await insert(conn, 0)
            await insert(conn, 2)
    assert await db.fetchall("SELECT * FROM discount_codes") == []


@BOTH_DATABASES
async def test_transactions_are_exclusive_across_connections(
    db: Database, database_url: str | None, tmp_path: Path
) -> None:
    """Two engines on one database (as two processes): read-then-write transactions
    never interleave, so no increment is lost."""
    other = Database(open_engine(database_url, tmp_path / "db.sqlite3"))
    await other.open()
    await db.execute(
        "INSERT INTO users (username, password_hash, created_at) VALUES ('n', 'h', 't')"
    )

    async def bump(target: Database) -> None:
        async with target.transaction() as conn:
            row = await conn.fetchone("SELECT token_generation FROM users WHERE username = 'n'")
            await asyncio.sleep(0)  # let the other side try to interleave
            await conn.execute(
                "UPDATE users SET token_generation = ? WHERE username = 'n'", (row[0] + 1,)
            )

    try:
        await asyncio.gather(*(bump(target) for _ in range(20) for target in (db, other)))
    finally:
        await other.close()
    row = await db.fetchone("SELECT token_generation FROM users WHERE username = 'n'")
    assert row is not None and row[0] == 40


async def test_opening_a_new_sqlite_file_waits_for_another_process_lock(tmp_path: Path) -> None:
    # Two processes opening one new file at once: the first is applying migrations (a
    # write transaction) while the second switches the file to WAL, which SQLite
    # refuses at once. It must wait for it, not fail at start-up.
    path = tmp_path / "shared.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE first (id INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO first VALUES (1)")
    asyncio.get_running_loop().call_later(0.3, other.execute, "ROLLBACK")
    engine = SqliteEngine(path)
    try:
        await engine.open()
        assert (await engine.fetchone("PRAGMA journal_mode"))[0] == "wal"
    finally:
        await engine.close()
        other.close()
