"""Two SQL engines behind one small interface: SQLite (sqlite3; reads in a thread of
its own, writes on the event loop's thread while the file is free) and PostgreSQL
(asyncpg).

Stores write one SQL text for both: `?` placeholders (rewritten to `$1, $2, ...` for
PostgreSQL by `numbered_placeholders`), `ON CONFLICT ... DO NOTHING/UPDATE` rather than
`INSERT OR ...`, times computed in Python and passed as parameters, and `RETURNING`
for generated keys. What each engine guarantees:

- `execute` returns the number of rows changed; `fetchone` / `fetchall` return rows
  read by column name (`row["id"]`) or position (`row[0]`).
- A constraint that refuses a write raises `IntegrityError` (either engine).
- A text parameter with a NUL character or a lone surrogate matches nothing on
  either engine: both go as U+FFFD (`storable_text`), where the drivers raised.
- `transaction(scope)` is exclusive within its scope, across every process sharing
  the database, so a rule judged inside one cannot be broken by another. A scope names
  the rows its rules read and write (`stream_scope(id)`: one stream's listings, stock,
  codes, orders, auctions, giveaways, ledger and shipments); None is the whole database
  and excludes every other write transaction. SQLite has one write lock for the file
  (`BEGIN IMMEDIATE`): every scope is the whole database there. PostgreSQL takes
  transaction advisory locks first: a whole-database write holds WRITE_LOCK_KEY
  exclusively; a scoped write holds it shared, plus its scope's own key, so writes of
  two streams run side by side while a whole-database write still excludes them all.
- `batch(scope, steps)` runs fixed statements in one such transaction, written whole
  or not at all (a step's `expect` fences it against a writer that got there first).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

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

    async def batch(self, scope: str | None, steps: Sequence[Step]) -> bool:
        """`steps` in one write transaction exclusive within `scope`; False, with
        nothing written, when a step changes other than its `expect` rows."""
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


@dataclass(frozen=True)
class Step:
    """One statement of a `batch`, run once per row of `rows`; with `expect`, the rows
    it must change in all, or the whole batch rolls back (a fence against a writer
    that got there first)."""

    sql: str
    rows: Sequence[Sequence[Any]]
    expect: int | None = None


class _Fenced(Exception):
    """A batch's fence changed another number of rows: roll back, nothing written."""


def _integrity(call: Callable[..., Any]) -> Callable[..., Any]:
    """sqlite3's IntegrityError as ours (raised in the database thread, seen in the loop)."""

    @functools.wraps(call)
    def run(*args: Any) -> Any:
        try:
            return call(*args)
        except sqlite3.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    return run


def storable_text(value: str) -> str:
    """`value` as both engines can take it: NUL (PostgreSQL text cannot hold it) and
    lone surrogates (JSON's "\\ud800" decodes to one; neither driver can encode it)
    become U+FFFD. No stored text has either (user text refuses them), so a lookup by
    an id that had one finds nothing instead of failing with a 500."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _storable(params: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(storable_text(p) if isinstance(p, str) else p for p in params)


# These run in the database thread, on its one sqlite3 connection.
@_integrity
def _execute(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
    return db.execute(sql, _storable(params)).rowcount


@_integrity
def _executemany(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    db.executemany(sql, [_storable(row) for row in rows])


@_integrity
def _fetchone(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(sql, _storable(params)).fetchone()
    return row


@_integrity
def _fetchall(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
    return db.execute(sql, _storable(params)).fetchall()


def _begin_then(db: sqlite3.Connection, call: Callable[..., Any], *args: Any) -> Any:
    db.execute("BEGIN IMMEDIATE")
    return call(db, *args)


def _end(db: sqlite3.Connection, commit: bool) -> None:
    if db.in_transaction:  # not when BEGIN itself failed
        db.execute("COMMIT" if commit else "ROLLBACK")


@_integrity
def _batch(db: sqlite3.Connection, steps: Sequence[Step]) -> bool:
    db.execute("BEGIN IMMEDIATE")
    return _run_begun(db, steps)


@_integrity
def _run_begun(db: sqlite3.Connection, steps: Sequence[Step]) -> bool:
    """`steps` in the transaction just begun, then COMMIT (ROLLBACK: False or raise)."""
    try:
        for step in steps:
            changed = db.executemany(step.sql, step.rows).rowcount
            if step.expect is not None and changed != step.expect:
                raise _Fenced
    except BaseException as error:
        _end(db, commit=False)
        if isinstance(error, _Fenced):
            return False
        raise
    _end(db, commit=True)
    return True


class _SqliteConn:
    """Statements of one write transaction (the caller holds the database lock). Its
    first statement opens the transaction: on the loop's own thread when the file is
    free, and then every statement runs there; else in the database thread, which
    waits for the other process's transaction (see SqliteEngine.transaction)."""

    def __init__(self, engine: SqliteEngine) -> None:
        self._engine = engine
        self.begun = False
        self.here: sqlite3.Connection | None = None  # set: runs on the loop's thread

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        if self.here is not None:
            return call(self.here, *args)
        if self.begun:
            return await self._engine.run(call, *args)
        self.begun = True
        db = self._engine.opened
        if _begin_here(db):
            self.here = db
            return call(db, *args)
        return await self._engine.run(_begin_then, call, *args)

    async def end(self, commit: bool) -> None:
        if self.here is not None:
            _end(self.here, commit)
        elif self.begun:
            await self._engine.run(_end, commit)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        count: int = await self._run(_execute, sql, tuple(params))
        return count

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        await self._run(_executemany, sql, [tuple(row) for row in rows])

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = await self._run(_fetchone, sql, tuple(params))
        return row

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = await self._run(_fetchall, sql, tuple(params))
        return rows


def _begin_here(db: sqlite3.Connection) -> bool:
    """BEGIN IMMEDIATE on the calling thread if no other connection writes (no busy
    wait: that would hold the event loop); False, nothing begun, if one does."""
    try:
        db.execute("PRAGMA busy_timeout=0")
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
        return False
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True


BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's transaction
WAL_ATTEMPTS = 100  # of WAL_RETRY_SECONDS each: another process's migrations end first
WAL_RETRY_SECONDS = 0.1


async def _switch_to_wal(engine: SqliteEngine) -> None:
    """PRAGMA journal_mode=WAL, retried while another process writes.

    SQLite answers "database is locked" at once, without its busy wait, when another
    connection holds a write transaction (processes starting together on one new
    file: the first one is applying migrations)."""
    for attempt in range(WAL_ATTEMPTS):
        try:
            await engine.run(_fetchone, "PRAGMA journal_mode=WAL", ())
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_ATTEMPTS - 1:
                raise
        await asyncio.sleep(WAL_RETRY_SECONDS)


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: autocommit; transactions are explicit (BEGIN IMMEDIATE).
    # check_same_thread=False: `batch` runs on the loop's thread (under the lock).
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


class SqliteEngine:
    """One sqlite3 connection in WAL mode, shared by every coroutine of the process.

    Reads outside a transaction run in the database thread (one trip each). Write
    transactions and batches run on the event loop's own thread whenever no other
    process holds the file's write lock: sqlite3 lets go of the GIL around every
    SQLite step, and while the loop runs Python the database thread waits up to the
    switch interval (5 ms) to take it back, each time, so a write of a few statements
    that costs ~1 ms on the loop took tens of ms through the thread under load
    (bench/group_commit.py, bench/buy.py with a large stock). When another process
    writes, the transaction waits for it in the thread (the loop never waits out a
    busy timeout)."""

    dialect = "sqlite"

    def __init__(self, path: Any) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        # Serialise statements so a transaction never interleaves with another coroutine's.
        self._lock = asyncio.Lock()

    @property
    def opened(self) -> sqlite3.Connection:
        if self._db is None or self._thread is None:
            raise RuntimeError("the database is not open")
        return self._db

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call(connection, *args)` in the database thread."""
        db = self.opened
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, call, db, *args)

    async def open(self) -> None:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        loop = asyncio.get_running_loop()
        try:
            self._db = await loop.run_in_executor(thread, _connect, str(self.path))
            self._thread = thread
            await _switch_to_wal(self)
        except BaseException:
            await self._shut(thread)
            raise

    async def _shut(self, thread: ThreadPoolExecutor) -> None:
        db, self._db, self._thread = self._db, None, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(thread, db.close)
        thread.shutdown(wait=False)

    async def close(self) -> None:
        async with self._lock:
            if self._thread is not None:
                await self._shut(self._thread)

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        async with self._lock:
            count: int = await self.run(_execute, sql, tuple(params))
            return count

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        async with self._lock:
            await self.run(_executemany, sql, [tuple(row) for row in rows])

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        async with self._lock:
            row: sqlite3.Row | None = await self.run(_fetchone, sql, tuple(params))
            return row

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            rows: list[sqlite3.Row] = await self.run(_fetchall, sql, tuple(params))
            return rows

    @asynccontextmanager
    async def transaction(self, scope: str | None = None) -> AsyncIterator[_SqliteConn]:
        """An exclusive write transaction (also across processes sharing the file):
        SQLite writes one transaction at a time, whatever its scope."""
        async with self._lock:
            conn = _SqliteConn(self)
            try:
                yield conn
            except BaseException:
                await conn.end(commit=False)
                raise
            await conn.end(commit=True)

    async def batch(self, scope: str | None, steps: Sequence[Step]) -> bool:
        """`steps` in one write transaction; False (nothing written) when a step
        changes other than its `expect` rows. On the loop's thread when the file is
        free (a group commit of 180 bids: ~1 ms there, 236-1376 ms through the thread
        with the loop busy, bench/group_commit.py), else in the database thread."""
        async with self._lock:
            db = self.opened
            if _begin_here(db):
                return _run_begun(db, steps)
            done: bool = await self.run(_batch, steps)
            return done


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
    return [_pg_param(p) for p in params]


def _pg_param(value: Any) -> Any:
    if isinstance(value, bool):  # booleans live in integer columns on both engines
        return int(value)
    if isinstance(value, str):
        return storable_text(value)
    return value


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

    async def batch(self, scope: str | None, steps: Sequence[Step]) -> bool:
        """`steps` in one write transaction (see Engine.batch)."""
        try:
            async with self.transaction(scope) as conn:
                for step in steps:
                    if step.expect is None:
                        await conn.executemany(step.sql, step.rows)
                        continue
                    changed = 0
                    for row in step.rows:
                        changed += await conn.execute(step.sql, row)
                    if changed != step.expect:
                        raise _Fenced
        except _Fenced:
            return False
        return True


def open_engine(database_url: str | None, sqlite_path: Any) -> SqliteEngine | PostgresEngine:
    """PostgreSQL when `database_url` is set, else the SQLite file (both built unopened)."""
    if database_url:
        return PostgresEngine(database_url)
    return SqliteEngine(sqlite_path)
