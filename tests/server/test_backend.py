"""open_backend: the settings choose the database, the realtime state and the bus."""

from __future__ import annotations

from pathlib import Path

from server.backend import open_backend
from server.config import Settings
from server.sql import PostgresEngine, SqliteEngine
from server.stores.memory_live import MemoryLiveStore
from server.stores.redis_live import RedisLiveStore
from server.stores.relay import LocalEventRelay, RedisEventRelay


def test_one_process_defaults(tmp_path: Path) -> None:
    backend = open_backend(Settings(data_dir=tmp_path))
    assert isinstance(backend.db.engine, SqliteEngine)
    assert backend.db.engine.path == tmp_path / "costream.sqlite3"
    assert isinstance(backend.live, MemoryLiveStore)
    assert isinstance(backend.bus, LocalEventRelay)


def test_postgres_and_redis_when_configured(tmp_path: Path) -> None:
    url = "postgresql://costream@127.0.0.1:5432/costream"
    backend = open_backend(
        Settings(data_dir=tmp_path, database_url=url, redis_url="redis://127.0.0.1:6379/0")
    )
    assert isinstance(backend.db.engine, PostgresEngine)
    assert backend.db.engine.url == url
    assert isinstance(backend.live, RedisLiveStore)
    assert isinstance(backend.bus, RedisEventRelay)
