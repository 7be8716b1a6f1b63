"""A stream's media lives on one process, its home: WHIP/WHEP elsewhere get 307 there.

The first WHIP or WHEP request for a stream claims its home (in Redis when several
processes share the work); RFC 9725 clients follow the redirect. Clients drop the
Authorization header when a redirect changes origin, so the redirect carries a
short-lived grant for that user and stream instead, signed with the shared secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict

from server.auth import bearer_user
from server.domain.events import Event, EventBus, StreamStatusChanged
from server.domain.streams import Stream, StreamService
from server.errors import ApiError, Handler
from server.keys import AUTH, MEDIA, STREAMS
from server.stores import HomeRegistry

MEDIA_PATH = re.compile(r"^/(whip|whep)/([^/]+)(?:/([^/]+))?$")
# Where a viewer served here by relay finds its stream's home (see signaling/relay.py).
MEDIA_HOME = web.RequestKey("media_home", str)
GRANT_TTL_SECONDS = 60


class RedirectGrants:
    """`<payload>.<hmac>` grants naming a user and a stream; useless as bearer tokens."""

    def __init__(self, secret: str) -> None:
        # A key of its own: a grant can never pass for a bearer token, nor the reverse.
        self._key = hashlib.sha256(b"costream media redirect\0" + secret.encode()).digest()

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self, user: str, stream_id: str) -> str:
        claims = {"u": user, "s": stream_id, "e": int(time.time()) + GRANT_TTL_SECONDS}
        raw = json.dumps(claims, separators=(",", ":")).encode()
        payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        return f"{payload}.{self._sign(payload)}"

    def verify(self, grant: str, stream_id: str) -> str | None:
        """The user of a genuine, unexpired grant for `stream_id`; None otherwise."""
        payload, _, signature = grant.partition(".")
        if not payload.isascii() or not signature.isascii():
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            user, stream, expires = claims["u"], claims["s"], claims["e"]
        except (ValueError, KeyError, TypeError):
            return None
        if stream != stream_id or not isinstance(user, str) or not isinstance(expires, int):
            return None
        return user if time.time() < expires else None


class StreamHomes:
    """Claims homes for this process (`url`) and frees them when a stream ends."""

    def __init__(self, registry: HomeRegistry, url: str, secret: str, events: EventBus) -> None:
        self._registry = registry
        self.url = url.rstrip("/")
        self.grants = RedirectGrants(secret)
        events.subscribe(self._on_event)

    async def elsewhere(self, stream_id: str) -> str | None:
        """The home's base URL when it is another process, else None (serve here)."""
        home = await self._registry.claim_home(stream_id, self.url)
        return None if home == self.url else home

    async def current(self, stream_id: str) -> str | None:
        """The stream's home now (maybe this process), without claiming it."""
        return await self._registry.home_of(stream_id)

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, StreamStatusChanged) and event.stream.status == "ended":
            await self._registry.release_home(event.stream.id)


def _with_grant(request: web.Request, homes: StreamHomes, stream_id: str) -> web.Request:
    """The request as if the grant's user had sent their bearer token."""
    grant = request.query.get("grant")
    if grant is None or "Authorization" in request.headers:
        return request
    user = homes.grants.verify(grant, stream_id)
    if user is None:
        raise ApiError(401, "invalid_token", "the redirect grant is invalid or expired")
    headers = CIMultiDict(request.headers)
    headers["Authorization"] = f"Bearer {request.app[AUTH].issue(user)}"
    return request.clone(headers=headers)


Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def _served_here(request: web.Request, stream: Stream, match: re.Match[str]) -> bool:
    """Viewers play on any process (relayed); a session lives where it was opened.

    Publishers, and the host and cohost playing their mix-minus, go to the home.
    """
    protocol, session_id = match.group(1), match.group(3)
    if session_id is not None:
        return request.app[MEDIA].session(session_id) is not None
    return protocol == "whep" and StreamService.role_of(stream, bearer_user(request)) == "viewer"


def home_middleware(homes: StreamHomes) -> Middleware:
    """Redirect media requests for streams homed on another process (307 keeps the body)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = MEDIA_PATH.match(request.path)
        if match is None:
            return await handler(request)
        stream = await request.app[STREAMS].get(match.group(2))  # 404 before claiming
        if stream.status != "ended":
            home = await homes.elsewhere(stream.id)
            if home is not None and _served_here(request, stream, match):
                request[MEDIA_HOME] = home
            elif home is not None:
                user = bearer_user(request)
                query = (
                    f"?{urlencode({'grant': homes.grants.issue(user, stream.id)})}" if user else ""
                )
                raise web.HTTPTemporaryRedirect(home + request.path + query)
        return await handler(_with_grant(request, homes, stream.id))

    return middleware
