"""Bids travel to their auction's judge: the stream's home when processes share Redis.

A process that is not the home of a stream forwards a bid on one of its auctions to
the home's `POST /api/listings/{id}/bids`, as the bidder (a token signed with the
shared secret) and marked as forwarded (a header only processes knowing the secret can
compute), so the home judges it itself instead of forwarding it again. The home's
answer, an `auction` or the protocol's error, is passed back unchanged.

A judge that does not answer (a hung or unreachable process) costs one bid the
timeout; the bids after it to that judge are refused at once (503
`backend_unavailable`) for as long again, instead of each waiting it out: a viewer
bidding twice, or a connection's lane of queued bids, hears within a moment, and the
stream's home moves to a live process once its lease runs out.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import aiohttp
from aiohttp import web

from server.domain.errors import ApiError
from server.domain.sessions import SessionService
from signaling.home import StreamHomes

FORWARDED = "X-Costream-Judge"


class JudgeRouting:
    """Locates a stream's judge and forwards bids to it."""

    def __init__(
        self, homes: StreamHomes, sessions: SessionService, secret: str, timeout: float = 5.0
    ) -> None:
        self._homes = homes
        self._timeout = timeout
        self._silent_until: dict[str, float] = {}  # judge URL -> monotonic time
        self._sessions = sessions  # tokens of the user's current generation
        self._mark = hashlib.sha256(b"costream forwarded bid\0" + secret.encode()).hexdigest()
        self._http: aiohttp.ClientSession | None = None

    async def locate(self, stream_id: str) -> str | None:
        """The judge's base URL when it is another process, else None."""
        return await self._homes.elsewhere(stream_id)

    def forwarded(self, request: web.Request) -> bool:
        """Whether another process sent this bid here to be judged."""
        return hmac.compare_digest(request.headers.get(FORWARDED, ""), self._mark)

    async def forward(
        self, url: str, listing_id: str, user: str, amount: int, ceiling: int | None
    ) -> dict[str, Any]:
        """The judge's `auction` after the bid, or its refusal raised here."""
        if time.monotonic() < self._silent_until.get(url, 0.0):
            raise ApiError(
                503,
                "backend_unavailable",
                "the auction's judge did not answer a moment ago; bid again shortly",
            )
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        body: dict[str, Any] = {"amount_cents": amount}
        if ceiling is not None:
            body["max_cents"] = ceiling
        token = await self._sessions.issue(user)
        headers = {"Authorization": f"Bearer {token}", FORWARDED: self._mark}
        try:
            async with self._http.post(
                f"{url}/api/listings/{listing_id}/bids", json=body, headers=headers
            ) as response:
                answer = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._silent_until[url] = time.monotonic() + self._timeout
            raise ApiError(
                503, "backend_unavailable", "the auction's judge is unreachable; bid again"
            ) from exc
        self._silent_until.pop(url, None)
        if response.status != 201:
            error = answer["error"]
            raise ApiError(response.status, error["code"], error["message"])
        return answer["auction"]

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
