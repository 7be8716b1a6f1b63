"""The backend seam: where the server keeps its state, chosen once from Settings.

`open_backend(settings)` returns a `Backend` (built unopened):

- `db`: the database, SQLite (`database_path`) or PostgreSQL (`database_url`);
- `live`: realtime state (seat claims, invites, presence, mutes, rate limits, homes),
  in process memory or in Redis (`redis_url`);
- `bus`: the cross-process event relay, local (nothing to relay) or Redis pub/sub.

The app factory (server.app) builds every service from these three and opens and
closes them in its start-up and shutdown contexts.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.config import Settings
from server.sql import open_engine
from server.store import Database
from server.stores import LiveStore, open_live_store
from server.stores.relay import EventRelay, LocalEventRelay, RedisEventRelay


@dataclass(frozen=True)
class Backend:
    """The database, the realtime state and the event relay of one process."""

    db: Database
    live: LiveStore
    bus: EventRelay


def open_backend(settings: Settings) -> Backend:
    """SQLite or PostgreSQL, memory or Redis, local or Redis bus (all built unopened)."""
    db = Database(open_engine(settings.database_url, settings.resolved_database_path))
    live = open_live_store(settings)
    bus: EventRelay = LocalEventRelay()
    if settings.redis_url:
        bus = RedisEventRelay(settings.redis_url, settings.redis_timeout_seconds)
    return Backend(db, live, bus)
