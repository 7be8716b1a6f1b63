"""Signed-in sessions: tokens that can be revoked (logout: one; password change: all).

A token is signed and carries its expiry (server.auth.TokenService), its own id and
the user's token generation. It is good while unexpired, not revoked by id, and of
the user's current generation. Both facts live in the database; each process checks
tokens against its own copy of them (`Revocations`), so a check costs no database
read. The copy is kept by the revocations made here (at once), those of the other
processes (`TokensRevoked` over the event relay, as soon as Redis delivers them) and
a reread of the database at least every `sync_seconds` (what the relay lost while
Redis was away); every fact only grows, so the three merge in any order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from server.auth import TokenClaims, TokenService
from server.domain.accounts import AccountService
from server.domain.errors import ApiError
from server.domain.events import Event, EventBus, TokensRevoked

SYNC_SECONDS = 5.0


class TokenStore(Protocol):
    async def generation(self, username: str) -> int | None: ...

    async def state(self, username: str, token_id: str) -> tuple[int | None, bool]: ...

    async def revocations(self, now: int) -> tuple[dict[str, int], dict[str, int]]:
        """(generation of every user whose tokens were ever all revoked, by lowercase
        name; expiry of every token id revoked and not yet expired)."""
        ...

    async def revoke(self, token_id: str, expires_at: int, now: int) -> None: ...

    async def bump_generation(self, username: str) -> None: ...

    async def replace_password(self, username: str, password_hash: str) -> int: ...


def invalid_token() -> ApiError:
    return ApiError(401, "invalid_token", "the token is invalid, expired or revoked")


class Revocations:
    """This process's copy of the revocation facts; it only ever learns more."""

    def __init__(self) -> None:
        self.generations: dict[str, int] = {}  # lowercase name -> highest generation known
        self.revoked: dict[str, int] = {}  # token id -> its expiry (epoch s)
        # Accounts seen to exist (accounts are never deleted): no read for them again.
        self.users: set[str] = set()

    def learn(self, event: TokensRevoked) -> None:
        name = event.username.lower()
        if event.token_id:
            self.revoked[event.token_id] = event.expires_at
        if event.generation is not None:
            self.generations[name] = max(event.generation, self.generations.get(name, 0))
        elif not event.token_id:  # all of them, generation unknown: reread it
            self.users.discard(name)

    def merge(self, generations: dict[str, int], revoked: dict[str, int], now: int) -> None:
        for name, generation in generations.items():
            self.generations[name] = max(generation, self.generations.get(name, 0))
        self.revoked.update(revoked)
        for token_id in [t for t, expires in self.revoked.items() if expires <= now]:
            del self.revoked[token_id]  # an expired token is refused anyway

    def allows(self, claims: TokenClaims) -> bool:
        name = claims.username.lower()
        return (
            name in self.users
            and claims.generation == self.generations.get(name, 0)
            and claims.token_id not in self.revoked
        )


class SessionService:
    """Issue, check and revoke bearer tokens."""

    def __init__(
        self,
        tokens: TokenService,
        store: TokenStore,
        accounts: AccountService,
        events: EventBus,
        sync_seconds: float = SYNC_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._store = store
        self._accounts = accounts
        self._events = events
        self._sync_seconds = sync_seconds
        self._clock = clock
        self._known = Revocations()
        self._synced_at = float("-inf")
        self._syncing: asyncio.Future[None] | None = None

    async def issue(self, username: str) -> str:
        """A new token of the user's current generation."""
        return self._tokens.issue(username, await self._store.generation(username) or 0)

    async def check(self, token: str) -> TokenClaims | None:
        """The claims of a genuine, unexpired, unrevoked token; None otherwise."""
        claims = self._tokens.claims(token)
        return None if claims is None else await self.still_valid(claims)

    async def still_valid(self, claims: TokenClaims) -> TokenClaims | None:
        """`claims` again if its token has neither expired nor been revoked since."""
        if self._tokens.now() >= claims.expires:
            return None
        if self._clock() - self._synced_at >= self._sync_seconds:
            await self._sync()
        name = claims.username.lower()
        if name not in self._known.users or claims.generation > self._known.generations.get(
            name, 0
        ):
            # A user not seen yet, or a token newer than what this process knows (a
            # password changed elsewhere a moment ago): ask the database.
            generation, revoked = await self._store.state(claims.username, claims.token_id)
            if generation is None:
                return None
            self._known.users.add(name)
            revoked_id = claims.token_id if revoked else None
            self._known.learn(TokensRevoked(name, revoked_id, claims.expires, generation))
        return claims if self._known.allows(claims) else None

    async def _sync(self) -> None:
        """Reread every revocation (one read shared by the checks that wait for it)."""
        if self._syncing is None:
            self._syncing = asyncio.ensure_future(self._read_revocations())
        await asyncio.shield(self._syncing)

    async def _read_revocations(self) -> None:
        try:
            started, now = self._clock(), int(self._tokens.now())
            generations, revoked = await self._store.revocations(now)
            self._known.merge(generations, revoked, now)
            self._synced_at = started
        finally:
            self._syncing = None

    async def on_event(self, event: Event) -> None:
        """Learn the revocations of the other processes (from the event relay)."""
        if isinstance(event, TokensRevoked):
            self._known.learn(event)

    async def _revoked(self, event: TokensRevoked) -> None:
        self._known.learn(event)  # here at once; the other processes over the relay
        await self._events.publish(event)

    async def logout(self, token: str) -> None:
        """Revoke this token (401 `invalid_token` if it is not a good one)."""
        claims = await self.check(token)
        if claims is None:
            raise invalid_token()
        if claims.token_id:
            await self._store.revoke(claims.token_id, claims.expires, int(self._tokens.now()))
            await self._revoked(TokensRevoked(claims.username, claims.token_id, claims.expires))
        else:  # a token from before ids existed can only go with all its siblings
            await self._store.bump_generation(claims.username)
            await self._revoked(TokensRevoked(claims.username, None, claims.expires))

    async def change_password(
        self, username: str, old_password: object, new_password: object
    ) -> str:
        """Set a new password and revoke every token of the user; returns a fresh token."""
        password_hash = await self._accounts.new_password_hash(username, old_password, new_password)
        generation = await self._store.replace_password(username, password_hash)
        expires = int(self._tokens.now())
        await self._revoked(TokensRevoked(username, None, expires, generation))
        return self._tokens.issue(username, generation)
