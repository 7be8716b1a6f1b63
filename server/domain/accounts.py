"""Accounts: registration and login with case-insensitively unique usernames."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from server.domain.errors import ApiError, conflict, invalid_field
from server.domain.times import utc_now

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 128
T = TypeVar("T")


class UserStore(Protocol):
    """What accounts need from storage."""

    async def insert_user(self, username: str, password_hash: str, created_at: str) -> bool:
        """False when the username (case-insensitively) is taken."""
        ...

    async def get_user(self, username: str) -> tuple[str, str] | None:
        """(canonical username, password hash), matched case-insensitively."""
        ...


class Passwords(Protocol):
    """A slow password hash (argon2 in production)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...


def _username(value: object) -> str:
    if not isinstance(value, str) or not USERNAME_RE.fullmatch(value):
        raise invalid_field("username", "3-30 characters of letters, digits and _")
    return value


def _password(value: object, field: str = "password") -> str:
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise invalid_field(field, f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters")
    return value


class BlockingRunner(Protocol):
    """Runs blocking work off the event loop (a bounded pool for password hashing)."""

    async def run(self, work: Callable[..., T], *args: Any) -> T: ...


class _AnyThread:
    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(work, *args)


class AccountService:
    """Register, log in and look up users. Hashing runs off the event loop, on `hashing`
    (the server passes a small dedicated pool, so logins never take every core)."""

    def __init__(
        self, store: UserStore, passwords: Passwords, hashing: BlockingRunner | None = None
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._hashing = hashing or _AnyThread()
        # Checked when the user is unknown so that both failures cost the same time.
        self._dummy_hash = passwords.hash("costream-no-such-user")

    async def register(self, username: object, password: object) -> str:
        """Create the account; returns the username. 400 `invalid_field`, 409 `username_taken`."""
        name, secret = _username(username), _password(password)
        password_hash = await self._hashing.run(self._passwords.hash, secret)
        if not await self._store.insert_user(name, password_hash, utc_now().isoformat()):
            raise conflict("username_taken", f"the username {name!r} is taken")
        return name

    async def login(self, username: object, password: object) -> str:
        """The canonical username for valid credentials, else 401 `invalid_credentials`."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise invalid_field("username", "username and password must be strings")
        user = await self._store.get_user(username) if USERNAME_RE.fullmatch(username) else None
        stored_hash = user[1] if user else self._dummy_hash
        ok = await self._hashing.run(self._passwords.verify, stored_hash, password)
        if user is None or not ok:
            raise ApiError(401, "invalid_credentials", "wrong username or password")
        return user[0]

    async def new_password_hash(
        self, username: str, old_password: object, new_password: object
    ) -> str:
        """The hash of `new_password` once `old_password` is proven right.

        400 `invalid_field` (new_password), 403 `invalid_credentials` (old_password)."""
        secret = _password(new_password, "new_password")
        if not isinstance(old_password, str):
            raise invalid_field("old_password", "must be a string")
        try:
            await self.login(username, old_password)
        except ApiError as error:
            if error.code != "invalid_credentials":
                raise
            raise ApiError(403, "invalid_credentials", "the old password is wrong") from None
        return await self._hashing.run(self._passwords.hash, secret)

    async def find(self, username: str) -> str | None:
        """The canonical spelling of an existing username, else None."""
        if not USERNAME_RE.fullmatch(username):
            return None
        user = await self._store.get_user(username)
        return user[0] if user else None

    async def exists(self, username: str) -> bool:
        """Whether an account with this name exists (case-insensitively)."""
        return await self.find(username) is not None
