"""Versioned migrations: applied once each, in order, and recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.migrations import migration_files, statements
from server.sql import open_engine
from server.store import Database
from tests.conftest import BOTH_DATABASES


def test_files_are_numbered_and_unique() -> None:
    names = [name for name, _ in migration_files()]
    assert names[0] == "0001_initial"
    numbers = [name.split("_", 1)[0] for name in names]
    assert all(n.isdigit() and len(n) == 4 for n in numbers)
    assert len(set(numbers)) == len(numbers), "two migrations share a number"


def test_statements_split_on_complete_statements_only() -> None:
    script = "-- note\nCREATE TABLE a (x TEXT DEFAULT ';');\nINSERT INTO a VALUES ('b;c');\n"
    assert statements(script) == [
        "-- note\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "INSERT INTO a VALUES ('b;c');",
    ]
    with pytest.raises(ValueError):
        statements("CREATE TABLE a (x")


def test_both_engines_have_the_same_migrations() -> None:
    assert [name for name, _ in migration_files("postgresql")] == [
        name for name, _ in migration_files("sqlite")
    ]


@BOTH_DATABASES
async def test_open_applies_each_migration_once(
    tmp_path: Path, database: str, database_url: str | None
) -> None:
    path = tmp_path / "db.sqlite3"
    for _ in range(2):  # a second open finds everything applied and changes nothing
        db = Database(open_engine(database_url, path))
        await db.open()
        await db.close()
    db = Database(open_engine(database_url, path))
    await db.open()
    try:
        rows = await db.fetchall("SELECT name FROM schema_migrations ORDER BY name")
    finally:
        await db.close()
    assert [row["name"] for row in rows] == [name for name, _ in migration_files(database)]
