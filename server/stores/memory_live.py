"""Realtime state in this process's memory: the single-process default.

Every method runs without awaiting anything, so on one event loop each is atomic.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from server.domain.chat import user_key
from server.domain.cohost import Invite, Outcome


class MemoryLiveStore:
    """Implements server.stores.LiveStore with dicts."""

    shared = False

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._invites: dict[str, tuple[Invite, float]] = {}  # id -> (invite, forget_at)
        self._invite_for: dict[tuple[str, str], str] = {}
        self._seats: dict[str, str] = {}
        self._presence: dict[str, dict[str, str | None]] = defaultdict(dict)
        self._muted: dict[str, set[str]] = defaultdict(set)
        self._hits: dict[str, deque[float]] = {}
        self._homes: dict[str, str] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    # -- invites and the seat ------------------------------------------------------------

    def _forget_old_invites(self) -> None:
        now = self._clock()
        for invite_id in [i for i, (_, forget_at) in self._invites.items() if forget_at <= now]:
            self._remove_invite(invite_id)

    def _remove_invite(self, invite_id: str) -> Invite | None:
        entry = self._invites.pop(invite_id, None)
        if entry is None:
            return None
        invite = entry[0]
        key = (invite.stream_id, user_key(invite.username))
        if self._invite_for.get(key) == invite_id:
            del self._invite_for[key]
        return invite

    async def open_invite(self, invite: Invite, keep_seconds: float) -> bool:
        self._forget_old_invites()
        if invite.stream_id in self._seats:
            return False
        previous = self._invite_for.get((invite.stream_id, user_key(invite.username)))
        if previous is not None:
            self._remove_invite(previous)
        self._invites[invite.id] = (invite, self._clock() + keep_seconds)
        self._invite_for[(invite.stream_id, user_key(invite.username))] = invite.id
        return True

    async def pending_invite(self, stream_id: str, username: str, now: float) -> Invite | None:
        invite_id = self._invite_for.get((stream_id, user_key(username)))
        entry = self._invites.get(invite_id) if invite_id else None
        return entry[0] if entry is not None and entry[0].expires_at > now else None

    async def open_invites(self, stream_id: str, now: float) -> list[Invite]:
        invites = [i for i, _ in self._invites.values() if i.stream_id == stream_id]
        return sorted((i for i in invites if i.expires_at > now), key=lambda i: i.expires_at)

    async def answer_invite(
        self, invite_id: str, username: str, accept: bool, now: float
    ) -> tuple[Outcome, Invite | None]:
        self._forget_old_invites()
        entry = self._invites.get(invite_id)
        if entry is None or user_key(entry[0].username) != user_key(username):
            return "not_found", None
        invite = self._remove_invite(invite_id)
        assert invite is not None
        if invite.expires_at <= now:
            return "expired", invite
        if not accept:
            return "declined", invite
        holder = self._seats.get(invite.stream_id)
        if holder is not None and user_key(holder) != user_key(username):
            return "seat_taken", invite
        self._seats[invite.stream_id] = invite.username
        return "accepted", invite

    async def get_invite(self, invite_id: str) -> Invite | None:
        entry = self._invites.get(invite_id)
        return entry[0] if entry is not None else None

    async def release_seat(self, stream_id: str, username: str | None) -> bool:
        holder = self._seats.get(stream_id)
        if holder is None or (username is not None and user_key(holder) != user_key(username)):
            return False
        del self._seats[stream_id]
        return True

    async def seat_holder(self, stream_id: str) -> str | None:
        return self._seats.get(stream_id)

    # -- presence ------------------------------------------------------------------------

    async def add_presence(self, stream_id: str, conn_id: str, username: str | None) -> None:
        self._presence[stream_id][conn_id] = username

    async def remove_presence(self, stream_id: str, conn_id: str) -> None:
        conns = self._presence.get(stream_id)
        if conns is not None:
            conns.pop(conn_id, None)
            if not conns:
                del self._presence[stream_id]

    async def presence_count(self, stream_id: str) -> int:
        return len(self._presence.get(stream_id, ()))

    async def present_users(self, stream_id: str) -> list[str]:
        users = {user_key(u): u for u in self._presence.get(stream_id, {}).values() if u}
        return list(users.values())

    # -- mutes and rate limits -------------------------------------------------------------

    async def set_muted(self, stream_id: str, username: str, muted: bool) -> None:
        if muted:
            self._muted[stream_id].add(user_key(username))
        else:
            self._muted[stream_id].discard(user_key(username))

    async def is_muted(self, stream_id: str, username: str) -> bool:
        return user_key(username) in self._muted.get(stream_id, ())

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return hits[0] + window - now
        hits.append(now)
        return 0.0

    # -- stream homes ----------------------------------------------------------------------

    async def claim_home(self, stream_id: str, url: str) -> str:
        return self._homes.setdefault(stream_id, url)

    async def home_of(self, stream_id: str) -> str | None:
        return self._homes.get(stream_id)

    async def release_home(self, stream_id: str) -> None:
        self._homes.pop(stream_id, None)
