"""Signed-in sessions: tokens that can be revoked (logout: one; password change: all).

A token is signed and carries its expiry (server.auth.TokenService), its own id and
the user's token generation. It is good while unexpired, not revoked by id, and of
the user's current generation; both facts live in the database, so a revocation holds
on every process at once.
"""

from __future__ import annotations

from typing import Protocol

from server.auth import TokenClaims, TokenService
from server.domain.accounts import AccountService
from server.domain.errors import ApiError


class TokenStore(Protocol):
    async def generation(self, username: str) -> int | None: ...

    async def state(self, username: str, token_id: str) -> tuple[int | None, bool]: ...

    async def revoke(self, token_id: str, expires_at: int, now: int) -> None: ...

    async def bump_generation(self, username: str) -> None: ...

    async def replace_password(self, username: str, password_hash: str) -> int: ...


def invalid_token() -> ApiError:
    return ApiError(401, "invalid_token", "the token is invalid, expired or revoked")


class SessionService:
    """Issue, check and revoke bearer tokens."""

    def __init__(self, tokens: TokenService, store: TokenStore, accounts: AccountService) -> None:
        self._tokens = tokens
        self._store = store
        self._accounts = accounts

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
        generation, revoked = await self._store.state(claims.username, claims.token_id)
        if generation != claims.generation or revoked:
            return None
        return claims

    async def logout(self, token: str) -> None:
        """Revoke this token (401 `invalid_token` if it is not a good one)."""
        claims = await self.check(token)
        if claims is None:
            raise invalid_token()
        if claims.token_id:
            await self._store.revoke(claims.token_id, claims.expires, int(self._tokens.now()))
        else:  # a token from before ids existed can only go with all its siblings
            await self._store.bump_generation(claims.username)

    async def change_password(
        self, username: str, old_password: object, new_password: object
    ) -> str:
        """Set a new password and revoke every token of the user; returns a fresh token."""
        password_hash = await self._accounts.new_password_hash(username, old_password, new_password)
        generation = await self._store.replace_password(username, password_hash)
        return self._tokens.issue(username, generation)
