"""A private PostgreSQL cluster for the test session, and fresh databases on it.

Tests run in their own network namespace (loopback only), so a server running on the
host is out of reach: the session starts its own with Debian's binaries
(/usr/lib/postgresql/*/bin), as user postgres when run as root (initdb refuses root),
in a temporary folder, on a free port of 127.0.0.1, with durability off for speed.
COSTREAM_TEST_PG_URL (an admin URL such as postgresql://postgres@127.0.0.1:5432/postgres)
uses a running server instead.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tests.helpers.cluster import free_port, stop, wait_until

ENV_URL = "COSTREAM_TEST_PG_URL"
# Throwaway data: no fsync, no full-page writes, enough connections for two-process tests.
FAST_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "shared_buffers=32MB",
)


def postgres_bin() -> Path:
    """The newest installed Debian PostgreSQL's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    if not found:
        raise RuntimeError("PostgreSQL is not installed (make system-deps installs it)")
    return Path(found[-1]).parent


def _major(path: str) -> int:
    return int(Path(path).parts[-3])


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def psql(url: str, sql: str) -> str:
    """Run one statement on the database at `url`; returns psql's unaligned output."""
    result = subprocess.run(
        [str(postgres_bin() / "psql"), url, "-XAtqc", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql {sql!r}: {result.stderr.strip()}")
    return result.stdout


@dataclass
class Postgres:
    """A PostgreSQL server reachable at `admin_url` (superuser, database `postgres`)."""

    admin_url: str
    process: subprocess.Popen[bytes] | None = None
    folder: Path | None = None

    def psql(self, sql: str) -> str:
        """Run one statement as the superuser; returns psql's unaligned output."""
        return psql(self.admin_url, sql)

    def url_of(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def create_database(self) -> str:
        """A fresh, empty database (costream_test_<random>); returns its URL."""
        name = f"costream_test_{secrets.token_hex(6)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url_of(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop a private cluster (immediate: the data is thrown away) and delete it."""
        if self.process is not None and self.folder is not None:
            subprocess.run(
                [
                    *_as_postgres(),
                    str(postgres_bin() / "pg_ctl"),
                    "stop",
                    "-D",
                    str(self.folder / "data"),
                    "-m",
                    "immediate",
                ],
                capture_output=True,
                timeout=30,
            )
            stop(self.process)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> Postgres:
    """COSTREAM_TEST_PG_URL's server, else a private cluster started now."""
    if os.environ.get(ENV_URL):
        return Postgres(os.environ[ENV_URL])
    folder = Path(tempfile.mkdtemp(prefix="costream-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    bin_dir = postgres_bin()
    subprocess.run(
        [
            *_as_postgres(),
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    settings = [arg for setting in FAST_SETTINGS for arg in ("-c", setting)]
    process = subprocess.Popen(
        [
            *_as_postgres(),
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(sockets),
            *settings,
        ],
        stdout=(folder / "postgres.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    server = Postgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", process, folder)

    def ready() -> bool:
        answer = subprocess.run(
            [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            timeout=10,
        )
        return answer.returncode == 0

    try:
        wait_until(ready, "postgres", process, 60)
    except BaseException:
        server.stop()
        raise
    return server


async def insert_accounts(database_url: str, names: list[str]) -> None:
    """Accounts written straight into a migrated database (argon2 hashing is slow)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.executemany(
            "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)",
            [(name, "!unusable", datetime.now(UTC).isoformat()) for name in names],
        )
    finally:
        await conn.close()
