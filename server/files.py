"""The data dir is private: 0700, and every file in it (SQLite and its -wal/-shm, the
secret, whatever else lands there) 0600, whatever the caller's umask."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_umask() -> None:
    """Files this process creates from now on are readable by its user only."""
    os.umask(0o077)


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if needed and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.chmod(path, PRIVATE_DIR_MODE)


def private_files(*paths: Path) -> None:
    """Make each existing file 0600 (files an older version created 0644)."""
    for path in paths:
        if path.exists():
            os.chmod(path, PRIVATE_FILE_MODE)


def sqlite_files(database: Path) -> tuple[Path, Path, Path]:
    """The database file and the WAL files SQLite creates next to it."""
    return database, Path(f"{database}-wal"), Path(f"{database}-shm")
