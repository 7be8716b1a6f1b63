"""Password hashing and signed bearer tokens."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import ApiError, unauthorized
from server.keys import AUTH, SETTINGS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

T = TypeVar("T")
# Decoded tokens remembered per process (a few hundred bytes each).
DECODED_TOKENS = 16_384
DECODED_TOKEN_MAX_CHARS = 400  # ours are ~150


class Argon2Passwords:
    """argon2id hashing (salted, parameters inside the hash)."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when `password` matches; never raises on a wrong password or a bad hash."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class HashingPool:
    """A dedicated pool of `size` threads for argon2 (each hash ~64 MiB and a core for
    ~0.3 s), behind a semaphore: a burst of logins queues here instead of taking the
    cores the event loop and the media clocks need."""

    def __init__(self, size: int) -> None:
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="password-hash")
        self._slots = asyncio.Semaphore(size)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    """What a bearer token says: who, until when (epoch s), its id, the user's generation."""

    username: str
    expires: int
    token_id: str
    generation: int


class TokenService:
    """Issues and checks `<payload>.<hmac>` tokens: payload = {"u": user, "e": expiry}."""

    def __init__(
        self, secret: str, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = secret.encode("utf-8")
        self._ttl = ttl_seconds
        self._clock = clock
        # A token is checked on every request and event: its signature and JSON once.
        self._decode = functools.lru_cache(maxsize=DECODED_TOKENS)(self._decode_uncached)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, username: str, generation: int = 0) -> str:
        """A token for `username`, valid for the configured TTL, with its own id (so it
        can be revoked alone) and the user's token generation (so all can be at once)."""
        claims = {
            "u": username,
            "e": int(self._clock()) + self._ttl,
            "j": secrets.token_urlsafe(12),
            "g": generation,
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def claims(self, token: str) -> TokenClaims | None:
        """The claims of a genuine, unexpired token; None otherwise. Revocation is not
        checked here (see server.domain.sessions)."""
        if len(token) <= DECODED_TOKEN_MAX_CHARS:
            claims = self._decode(token)
        else:  # not one we issued: not worth remembering
            claims = self._decode_uncached(token)
        if claims is None or self._clock() >= claims.expires:
            return None
        return claims

    def _decode_uncached(self, token: str) -> TokenClaims | None:
        """The claims of a genuinely signed, well-formed token (expired or not)."""
        payload, sep, signature = token.partition(".")
        if not sep or not payload.isascii() or not signature.isascii():
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            raw = json.loads(_unb64(payload))
            username, expires = raw["u"], raw["e"]
            # Tokens from before revocation existed carry neither: generation 0, no id.
            token_id, generation = raw.get("j", ""), raw.get("g", 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if not isinstance(username, str) or not isinstance(expires, int):
            return None
        if not isinstance(token_id, str) or not isinstance(generation, int):
            return None
        return TokenClaims(username, expires, token_id, generation)

    def verify(self, token: str) -> str | None:
        """The username inside a genuine, unexpired token; None otherwise."""
        claims = self.claims(token)
        return None if claims is None else claims.username

    def now(self) -> float:
        return self._clock()


def client_address(request: web.Request) -> str:
    """The client's address (what per-address limits count by).

    The peer's address, unless the peer is one of the `trusted_proxies`: then the
    nearest X-Forwarded-For hop that is not a trusted proxy (the rightmost ones
    were appended by proxies we trust; anything left of them, a client could forge).
    """
    peer = request.remote or "unknown"
    trusted = _trusted_networks(request.app[SETTINGS].trusted_proxies)
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", ())
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop if _parse_address(hop) is not None else peer
    return peer


@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(text: str, networks: tuple[IPNetwork, ...]) -> bool:
    address = _parse_address(text)
    return address is not None and any(address in network for network in networks)


def bearer_token(request: web.Request) -> str | None:
    """The raw bearer token; None without an Authorization header, 401 if malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "invalid_token", "use Authorization: Bearer <token>")
    return token.strip()


def bearer_user(request: web.Request) -> str | None:
    """The signed-in username; None when anonymous, 401 `invalid_token` when the token is bad."""
    token = bearer_token(request)
    if token is None:
        return None
    username = request.app[AUTH].verify(token)
    if username is None:
        raise ApiError(401, "invalid_token", "the token is invalid or expired")
    return username


def require_user(request: web.Request) -> str:
    """The signed-in username, or 401 `unauthorized` for anonymous requests."""
    username = bearer_user(request)
    if username is None:
        raise unauthorized("this call needs Authorization: Bearer <token>")
    return username
