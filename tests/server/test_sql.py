"""The SQL seam (server.sql): one statement text, the same answers on both engines."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.domain.commerce import judge_sale
from server.domain.streams import Stream
from server.domain.times import now_ms
from server.sql import (
    BUSY_TIMEOUT_MS,
    IntegrityError,
    PostgresEngine,
    SqliteEngine,
    Step,
    numbered_placeholders,
    open_engine,
    stream_scope,
)
from server.store import Database
from server.stores.sql_selling import SellingStore
from tests.conftest import BOTH_DATABASES
from tests.helpers.listings import a_listing


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


# -- PostgreSQL: write locks scoped to a stream ---------------------------------------------


async def _live_stream_with_listing(db: Database, host: str) -> str:
    """A live stream of `host` with one listing of 5 (its id is the stream's + "-item")."""
    now = datetime.now(UTC)
    stream_id = f"show-of-{host}"
    await db.insert_stream(
        Stream(stream_id, "Show", "", "video", "live", host, None, None, now, None, now)
    )
    await db.insert_listing(
        a_listing(
            id=f"{stream_id}-item",
            stream_id=stream_id,
            title="Mug",
            price_cents=900,
            quantity=5,
            remaining=5,
            created_at=now,
        )
    )
    return stream_id


async def _buy(db: Database, stream_id: str, buyer: str) -> int:
    """One real purchase of the stream's listing; the stock left after it."""
    sold, _order = await SellingStore(db).sell(
        f"{stream_id}-item", buyer, None, lambda facts: judge_sale(facts, buyer, 1, None, now_ms())
    )
    return sold.remaining


async def _whole_database_write(db: Database) -> None:
    """A write transaction of no scope (as migrations and label sending are)."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE streams SET description = 'all of them'")


async def _waiting_on_advisory_locks(db: Database) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
    )
    assert row is not None
    return int(row[0])


async def _blocked(db: Database, write: asyncio.Task, waiting: int = 1) -> bool:
    """Whether `write` waits on an advisory lock in PostgreSQL (seen there, not timed),
    `waiting` being the number of writes that wait once it does."""
    for _ in range(500):  # at most ~10 s
        if write.done():
            return False
        if await _waiting_on_advisory_locks(db) >= waiting:
            return not write.done()
        await asyncio.sleep(0.02)
    raise AssertionError("the write neither finished nor waited on a lock")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_streams_write_lock_blocks_its_writes_only(
    db: Database, database_url: str | None, tmp_path: Path
) -> None:
    """Two processes: while one holds stream A's write transaction, the other's buy in
    host B's stream completes, its buy in A's stream waits in PostgreSQL until A's
    transaction ends, and a whole-database write waits too."""
    other = Database(open_engine(database_url, tmp_path / "unused"))
    await other.open()
    show_a = await _live_stream_with_listing(db, "ann")
    show_b = await _live_stream_with_listing(db, "bob")
    try:
        release = asyncio.Event()
        holding = asyncio.Event()

        async def hold(scope: str | None) -> None:
            async with other.transaction(scope) as conn:
                await conn.execute("UPDATE streams SET title = 'held' WHERE id = ?", (show_a,))
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold(stream_scope(show_a)))
        await holding.wait()
        # Host B's buy is not held up by A's lock: it completes while A's is held.
        assert await asyncio.wait_for(_buy(db, show_b, "cy"), 10) == 4
        same_stream = asyncio.create_task(_buy(db, show_a, "dee"))
        assert await _blocked(db, same_stream)
        whole = asyncio.create_task(_whole_database_write(db))
        assert await _blocked(db, whole, waiting=2)
        release.set()
        await holder
        assert await asyncio.wait_for(same_stream, 10) == 4
        await asyncio.wait_for(whole, 10)

        # A whole-database write holds every stream's writes back.
        release.clear(), holding.clear()
        holder = asyncio.create_task(hold(None))
        await holding.wait()
        other_stream = asyncio.create_task(_buy(db, show_b, "eve"))
        assert await _blocked(db, other_stream)
        release.set()
        await holder
        assert await asyncio.wait_for(other_stream, 10) == 3
    finally:
        release.set()
        await other.close()


@BOTH_DATABASES
async def test_a_batch_is_written_whole_or_not_at_all(db: Database) -> None:
    created = "2026-01-01T00:00:00+00:00"
    insert = "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)"
    users = Step(insert, [(name, "h", created) for name in ("ann", "bob")])
    fence = "UPDATE users SET email = ? WHERE username = ?"

    # A fence that changes no row: the rows written before it are rolled back.
    assert not await db.batch(None, [users, Step(fence, [("x@y.z", "cy")], expect=1)])
    assert await db.fetchall("SELECT username FROM users") == []

    # A fence that changes its row: every step is written.
    assert await db.batch(None, [users, Step(fence, [("x@y.z", "ann")], expect=1)])
    emails = await db.fetchall("SELECT username, email FROM users ORDER BY 1")
    assert [tuple(row) for row in emails] == [("ann", "x@y.z"), ("bob", None)]

    # A refused row refuses the batch, as one statement would.
    with pytest.raises(IntegrityError):
        await db.batch(None, [Step(insert, [("cy", "h", created), ("ANN", "h", created)])])
    assert len(await db.fetchall("SELECT username FROM users")) == 2
    # ... and leaves no transaction open behind it.
    async with db.transaction() as conn:
        assert await conn.execute(fence, ("z@y.x", "bob")) == 1


async def test_a_failed_first_statement_leaves_no_transaction_open(tmp_path: Path) -> None:
    # The first statement of a SQLite transaction opens it in the same trip.
    db = Database(SqliteEngine(tmp_path / "db.sqlite3"))
    await db.open()
    try:
        with pytest.raises(sqlite3.OperationalError):
            async with db.transaction() as conn:
                await conn.execute("UPDATE no_such_table SET x = 1")
        async with db.transaction() as conn:
            await conn.execute("UPDATE streams SET title = title")
        assert await db.fetchall("SELECT id FROM streams") == []
    finally:
        await db.close()


async def _insert_in_transaction(db: Database, sql: str, name: str) -> bool:
    async with db.transaction() as conn:
        await conn.execute(sql, (name,))
    return True


async def _insert_in_batch(db: Database, sql: str, name: str) -> bool:
    return await db.batch(None, [Step(sql, [(name,)])])


@pytest.mark.parametrize("write", [_insert_in_transaction, _insert_in_batch])
async def test_a_write_waits_for_another_writer_off_the_loop(tmp_path: Path, write) -> None:
    # Writes run on the loop's thread only while the file is free; another process's
    # write transaction must not hold the whole event loop until the busy timeout.
    path = tmp_path / "db.sqlite3"
    db = Database(SqliteEngine(path))
    await db.open()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        insert = "INSERT INTO users (username, password_hash, created_at) VALUES (?, 'h', '')"
        writing = asyncio.create_task(write(db, insert, "ann"))
        started = time.monotonic()
        for _ in range(5):  # the loop runs on while the write waits
            await asyncio.sleep(0)
        # Not held for the busy timeout (5 s) that the database thread waits out.
        assert time.monotonic() - started < BUSY_TIMEOUT_MS / 1000 / 5
        assert not writing.done()
        other.execute("COMMIT")
        assert await writing
        assert [row[0] for row in await db.fetchall("SELECT username FROM users")] == ["ann"]
        # The file is free again: the next write runs on the loop's thread.
        assert await write(db, insert, "bob")
        assert len(await db.fetchall("SELECT username FROM users")) == 2
    finally:
        other.close()
        await db.close()
