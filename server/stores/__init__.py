"""Realtime state (seat claims, invites, presence, mutes, rate limits, stream homes):
in memory for one process, in Redis for several. `open_live_store` picks by settings."""

from __future__ import annotations

from typing import Protocol

from server.config import Settings
from server.domain.chat import MuteStore, RateLimiter
from server.domain.cohost import SeatStore
from server.domain.presence import PresenceStore


class HomeRegistry(Protocol):
    """Which process serves a stream's media."""

    async def claim_home(self, stream_id: str, url: str) -> str:
        """Make `url` the stream's home unless it has one; returns the home."""
        ...

    async def home_of(self, stream_id: str) -> str | None:
        """The stream's home now, without claiming it (None: it has none)."""
        ...

    async def release_home(self, stream_id: str) -> None: ...


class LiveStore(SeatStore, PresenceStore, MuteStore, RateLimiter, HomeRegistry, Protocol):
    """Everything realtime that must hold across processes, with a start and a stop."""

    shared: bool  # True when other processes see the same state

    async def open(self) -> None: ...

    async def close(self) -> None: ...


def open_live_store(settings: Settings) -> LiveStore:
    """Redis when `redis_url` is set, else process memory (built unopened)."""
    if settings.redis_url:
        from server.stores.redis_live import RedisLiveStore

        return RedisLiveStore(
            settings.redis_url, settings.redis_timeout_seconds, settings.live_ttl_seconds
        )
    from server.stores.memory_live import MemoryLiveStore

    return MemoryLiveStore()
