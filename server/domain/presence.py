"""Who is in a stream's live room right now: the viewer count and @-suggestions."""

from __future__ import annotations

import re
from typing import Protocol

from server.domain.errors import ApiError, invalid_field
from server.domain.events import EventBus, PresenceChanged
from server.domain.streams import same_user

SUGGEST_MAX = 10
PREFIX_RE = re.compile(r"^@?([A-Za-z0-9_]{0,30})$")


class PresenceStore(Protocol):
    """Connections joined to each stream; shared by every process when shared."""

    async def add_presence(self, stream_id: str, conn_id: str, username: str | None) -> None: ...

    async def remove_presence(self, stream_id: str, conn_id: str) -> None: ...

    async def presence_count(self, stream_id: str) -> int:
        """Distinct connections in the stream."""
        ...

    async def present_users(self, stream_id: str) -> list[str]:
        """Distinct signed-in usernames in the stream."""
        ...


class UserSearch(Protocol):
    """Registered usernames by prefix (SQLite)."""

    async def search_users(self, prefix: str, limit: int) -> list[str]: ...


class PresenceService:
    """Joins and leaves of connections; publishes PresenceChanged."""

    def __init__(self, store: PresenceStore, users: UserSearch, events: EventBus) -> None:
        self._store = store
        self._users = users
        self._events = events
        # This process's connections, so that a clean shutdown leaves no ghosts behind.
        self._local: dict[str, str] = {}

    async def join(self, stream_id: str, conn_id: str, username: str | None) -> None:
        self._local[conn_id] = stream_id
        await self._store.add_presence(stream_id, conn_id, username)
        await self._events.publish(PresenceChanged(stream_id, conn_id, username, joined=True))

    async def leave(self, conn_id: str) -> None:
        """Forget a connection (no-op when it joined nothing)."""
        stream_id = self._local.pop(conn_id, None)
        if stream_id is not None:
            await self._store.remove_presence(stream_id, conn_id)
            await self._events.publish(PresenceChanged(stream_id, conn_id, joined=False))

    async def count(self, stream_id: str) -> int:
        return await self._store.presence_count(stream_id)

    async def users(self, stream_id: str) -> list[str]:
        """Signed-in usernames connected to the stream now (every process)."""
        return await self._store.present_users(stream_id)

    async def suggest(self, stream_id: str, asker: str, prefix: object) -> list[str]:
        """Usernames starting with `prefix`: people in the stream first, then others."""
        if not isinstance(prefix, str) or (match := PREFIX_RE.fullmatch(prefix)) is None:
            raise invalid_field("prefix", "must be up to 30 characters of letters, digits and _")
        start = match.group(1).lower()
        present = sorted(
            (u for u in await self._store.present_users(stream_id) if u.lower().startswith(start)),
            key=str.lower,
        )
        found = present + (await self._users.search_users(start, SUGGEST_MAX) if start else [])
        users: list[str] = []
        for name in found:
            if not same_user(name, asker) and not any(same_user(name, u) for u in users):
                users.append(name)
        return users[:SUGGEST_MAX]

    async def close(self) -> None:
        """Remove this process's connections from the shared presence."""
        while self._local:
            conn_id, stream_id = self._local.popitem()
            try:
                await self._store.remove_presence(stream_id, conn_id)
            except ApiError:  # shared store unavailable: the entries expire by themselves
                return
