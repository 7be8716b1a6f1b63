"""Two SQL engines behind one small interface: SQLite (aiosqlite) and PostgreSQL (asyncpg).

Stores write one SQL text for both: `?` placeholders (rewritten to `$1, $2, ...` for
PostgreSQL by `numbered_placeholders`), `ON CONFLICT ... DO NOTHING/UPDATE` rather than
`INSERT OR ...`, times computed in Python and passed as parameters, and `RETURNING`
for generated keys. What each engine guarantees:

- `execute` returns the number of rows changed; `fetchone` / `fetchall` return rows
  read by column name (`row["id"]`) or position (`row[0]`).
- A constraint that refuses a write raises `IntegrityError` (either engine).
- `transaction(scope)` is exclusive within its scope, across every process sharing
  the database, so a rule judged inside one cannot be broken by another. A scope names
  the rows its rules read and write (`stream_scope(id)`: one stream's listings, stock,
  codes, orders, auctions, giveaways, ledger and shipments); None is the whole database
  and excludes every other write transaction. SQLite has one write lock for the file
  (`BEGIN IMMEDIATE`): every scope is the whole database there. PostgreSQL takes
  transaction advisory locks first: a whole-database write holds WRITE_LOCK_KEY
  exclusively; a scoped write holds it shared, plus its scope's own key, so writes of
  two streams run side by side while a whole-database write still excludes them all.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, Protocol

import aiosqlite

# pg_advisory_xact_lock key of the whole database ("costream" in ASCII): exclusive for
# a whole-database write, shared for a scoped one.
WRITE_LOCK_KEY = 0x636F73747265616D
# A scope's key is the pair (SCOPE_LOCK_CLASS, 32-bit hash of the scope): PostgreSQL
# keeps two-int4 keys apart from bigint ones, so none collides with WRITE_LOCK_KEY.
# Two scopes sharing a hash only wait for each other (never a broken rule).
SCOPE_LOCK_CLASS = 0x636F7374  # "cost"


def stream_scope(stream_id: str) -> str:
    """The scope of writes whose rules stay within one stream's rows."""
    return f"stream:{stream_id}"


def user_scope(username: str) -> str:
    """The scope of writes to one account (usernames compare case-insensitively)."""
    return f"user:{username.casefold()}"


def scope_lock_id(scope: str) -> int:
    """The second int4 of `scope`'s advisory lock key (stable across processes)."""
    digest = hashlib.blake2b(scope.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class IntegrityError(Exception):
    """A UNIQUE, CHECK or NOT NULL constraint refused a write (nothing was written)."""


class Row(Protocol):
    """A result row: by column name or position (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str) -> Any: ...

    def keys(self) -> Any: ...


class Sql(Protocol):
    """Where statements run: a database, or one of its open transactions."""

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None: ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]: ...


class Engine(Sql, Protocol):
    """A database connection (or pool) with a start, a stop and exclusive transactions."""

    dialect: str  # "sqlite" or "postgresql"

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def transaction(self, scope: str | None = None) -> Any:
        """An async context manager yielding a Sql: exclusive within `scope` (None:
        the whole database)."""
        ...


def numbered_placeholders(sql: str) -> str:
    """`?` -> `$1, $2, ...` outside string literals, quoted names and comments."""
    out: list[str] = []
    count = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = end
        elif ch == "?":
            count += 1
            out.append(f"${count}")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- SQLite ---------------------------------------------------------------------------------


class _SqliteConn:
    """Statements on one aiosqlite connection (the caller holds the database lock)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        try:
            cursor = await self._conn.execute(sql, tuple(params))
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        try:
            await self._conn.executemany(sql, [tuple(row) for row in rows])
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        try:
            async with self._conn.execute(sql, tuple(params)) as cursor:
                row: sqlite3.Row | None = await cursor.fetchone()
                return row
        except sqlite3.IntegrityError as error:  # INSERT ... RETURNING
            raise IntegrityError(str(error)) from error

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())


WAL_ATTEMPTS = 100  # of WAL_RETRY_SECONDS each: another process's migrations end first
WAL_RETRY_SECONDS = 0.1


async def _switch_to_wal(raw: aiosqlite.Connection) -> None:
    """PRAGMA journal_mode=WAL, retried while another process writes.

    SQLite answers "database is locked" at once, without its busy wait, when another
    connection holds a write transaction (processes starting together on one new
    file: the first one is applying migrations)."""
    for attempt in range(WAL_ATTEMPTS):
        try:
            await raw.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_ATTEMPTS - 1:
                raise
        await asyncio.sleep(WAL_RETRY_SECONDS)


class SqliteEngine:
    """One aiosqlite connection in WAL mode, shared by every coroutine of the process."""

    dialect = "sqlite"

    def __init__(self, path: Any) -> None:
        self.path = path
        self._conn: _SqliteConn | None = None
        self._raw: aiosqlite.Connection | None = None
        # Serialise statements so a transaction never interleaves with another coroutine's.
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        # isolation_level=None: autocommit; transactions are explicit (BEGIN IMMEDIATE).
        raw = await aiosqlite.connect(self.path, isolation_level=None)
        raw.row_factory = sqlite3.Row
        try:
            await raw.execute("PRAGMA busy_timeout=5000")
            await _switch_to_wal(raw)
        except BaseException:
            await raw.close()  # its thread would otherwise keep the process alive
            raise
        self._raw, self._conn = raw, _SqliteConn(raw)

    async def close(self) -> None:
        async with self._lock:
            if self._raw is not None:
                await self._raw.close()
                self._raw = self._conn = None

    @property
    def _open(self) -> _SqliteConn:
        if self._conn is None:
            raise RuntimeError("the database is not open")
        return self._conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._lock:
            return await self._open.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        async with self._lock:
            await self._open.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        async with self._lock:
            return await self._open.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return await self._open.fetchall(sql, params)

    @asynccontextmanager
    async def transaction(self, scope: str | None = None) -> AsyncIterator[_SqliteConn]:
        """An exclusive write transaction (also across processes sharing the file):
        SQLite writes one transaction at a time, whatever its scope."""
        async with self._lock:
            conn = self._open
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")


# -- PostgreSQL -----------------------------------------------------------------------------


class ScopeLocks:
    """One asyncio.Lock per scope in use (None: the whole database), dropped when free."""

    def __init__(self) -> None:
        self._locks: dict[str | None, asyncio.Lock] = {}
        self._users: defaultdict[str | None, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, scope: str | None) -> AsyncIterator[None]:
        lock = self._locks.setdefault(scope, asyncio.Lock())
        self._users[scope] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[scope] -= 1
            if not self._users[scope]:
                del self._users[scope], self._locks[scope]


def _pg_params(params: Iterable[Any]) -> list[Any]:
    # Booleans live in integer columns on both engines.
    return [int(p) if isinstance(p, bool) else p for p in params]


def _rowcount(status: str) -> int:
    """Rows changed from a command status ("UPDATE 3", "INSERT 0 1", "SELECT 2")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _decimal_to_number(text: str) -> int | float:
    # SUM over BIGINT columns is NUMERIC in PostgreSQL: whole numbers come back as int.
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


class _PgConn:
    """Statements on one asyncpg connection (a transaction's, or one borrowed per call)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.failed = False  # a statement failed: the transaction can only roll back

    async def _run(self, method: str, sql: str, *args: Any) -> Any:
        import asyncpg

        try:
            return await getattr(self._conn, method)(numbered_placeholders(sql), *args)
        except asyncpg.IntegrityConstraintViolationError as error:
            self.failed = True
            raise IntegrityError(str(error)) from error
        except asyncpg.PostgresError:
            self.failed = True
            raise

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        return _rowcount(await self._run("execute", sql, *_pg_params(params)))

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self._run("executemany", sql, [_pg_params(row) for row in rows])

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return await self._run("fetchrow", sql, *_pg_params(params))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return list(await self._run("fetch", sql, *_pg_params(params)))


class PostgresEngine:
    """An asyncpg pool on `url` (postgresql://user@host:port/database)."""

    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None
        # This process's write transactions of one scope queue here, not on pooled
        # connections blocked on its advisory lock; and at most half the pool writes
        # at once, so the rest stays free for reads.
        self._scopes = ScopeLocks()
        self._writers = asyncio.Semaphore(max(1, pool_size // 2))

    async def open(self) -> None:
        import asyncpg

        async def setup(conn: Any) -> None:
            await conn.set_type_codec(
                "numeric",
                encoder=str,
                decoder=_decimal_to_number,
                schema="pg_catalog",
                format="text",
            )

        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=self.pool_size, init=setup
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("the database is not open")
        return self._pool

    async def _once(self, method: str, sql: str, params: Iterable[Any]) -> Any:
        async with self.pool.acquire() as conn:
            return await getattr(_PgConn(conn), method)(sql, params)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        count: int = await self._once("execute", sql, params)
        return count

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self._once("executemany", sql, rows)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return await self._once("fetchone", sql, params)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        rows: list[Any] = await self._once("fetchall", sql, params)
        return rows

    @asynccontextmanager
    async def transaction(self, scope: str | None = None) -> AsyncIterator[_PgConn]:
        """A write transaction exclusive within `scope` across every process (None:
        the whole database; the advisory locks are released at COMMIT or ROLLBACK).
        A statement that failed inside (e.g. a caught IntegrityError) leaves only
        ROLLBACK possible."""
        async with self._scopes.hold(scope), self._writers, self.pool.acquire() as raw:
            conn = _PgConn(raw)
            await raw.execute("BEGIN")
            try:
                if scope is None:
                    await raw.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
                else:
                    # No deadlock whatever the order: a whole-database write never
                    # waits for a scope's key, and a scoped write takes one scope.
                    await raw.execute(
                        "SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock($2, $3)",
                        WRITE_LOCK_KEY,
                        SCOPE_LOCK_CLASS,
                        scope_lock_id(scope),
                    )
                yield conn
            except BaseException:
                await raw.execute("ROLLBACK")
                raise
            await raw.execute("ROLLBACK" if conn.failed else "COMMIT")


def open_engine(database_url: str | None, sqlite_path: Any) -> SqliteEngine | PostgresEngine:
    """PostgreSQL when `database_url` is set, else the SQLite file (both built unopened)."""
    if database_url:
        return PostgresEngine(database_url)
    return SqliteEngine(sqlite_path)
