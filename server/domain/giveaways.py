"""Giveaways with a committed seed and a draw anyone can recompute.

At creation the server picks a secret 32-byte seed and publishes its SHA-256
(`commitment`); at `ends_at` it draws from the sorted, lowercased entrant names
with SHA-256(seed + names), skips winners no longer in the stream, reveals the seed
and gives the winner a 0-cent order.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from server.domain.commerce import DEFAULT_CURRENCY, Order
from server.domain.errors import conflict, invalid_field, not_found
from server.domain.events import (
    EventBus,
    GiveawayEnded,
    GiveawayStarted,
    GiveawayUpdated,
    OrderPlaced,
)
from server.domain.presence import PresenceService
from server.domain.streams import StreamService, require_role
from server.domain.times import ends_at, now_ms, utc_now
from server.domain.validation import int_field, text_field

GiveawayStatus = Literal["open", "drawn"]
Eligibility = Literal["everyone", "buyers"]
ELIGIBILITIES: tuple[str, ...] = ("everyone", "buyers")
SECONDS = (10, 600)
TITLE_MAX = 120


@dataclass(frozen=True)
class Giveaway:
    id: str
    stream_id: str
    title: str
    status: GiveawayStatus
    ends_at_ms: int
    eligibility: Eligibility
    seed: str  # hex; secret until drawn
    commitment: str
    winner: str | None
    entrant_count: int

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `giveaway` object (the seed only once drawn)."""
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "title": self.title,
            "status": self.status,
            **ends_at(self.ends_at_ms),
            "eligibility": self.eligibility,
            "entrant_count": self.entrant_count,
            "commitment": self.commitment,
            "seed": self.seed if self.status == "drawn" else None,
            "winner": self.winner,
        }


def commitment_of(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def draw(seed_hex: str, entrants: list[str], present: set[str]) -> str | None:
    """The winner among `entrants` (canonical spelling), skipping, in sorted order and
    wrapping, anyone not in `present` (lowercased names); None when nobody qualifies."""
    by_key = {name.lower(): name for name in entrants}
    names = sorted(by_key)
    if not names:
        return None
    digest = hashlib.sha256(bytes.fromhex(seed_hex) + "\n".join(names).encode("utf-8")).digest()
    first = int.from_bytes(digest, "big") % len(names)
    for step in range(len(names)):
        name = names[(first + step) % len(names)]
        if name in present:
            return by_key[name]
    return None


class GiveawayStore(Protocol):
    async def insert_giveaway(self, giveaway: Giveaway) -> bool:
        """False when the stream already has an open giveaway."""
        ...

    async def get_giveaway(self, giveaway_id: str) -> Giveaway | None: ...

    async def open_giveaway(self, stream_id: str) -> Giveaway | None: ...

    async def enter_giveaway(
        self, giveaway_id: str, username: str, at_ms: int, buyers_only: bool
    ) -> tuple[Giveaway, bool]:
        """Add an entrant (once); (giveaway after, newly entered). Raises
        `giveaway_closed` / `not_eligible` without changing anything."""
        ...

    async def entrants(self, giveaway_id: str) -> list[str]: ...

    async def due_giveaways(self, at_ms: int) -> list[Giveaway]: ...

    async def finish_giveaway(
        self, giveaway_id: str, at_ms: int, winner: str | None, order: Order | None
    ) -> Giveaway | None:
        """Mark it drawn and record the prize order, if this process claims it first."""
        ...


class GiveawayService:
    def __init__(
        self,
        store: GiveawayStore,
        streams: StreamService,
        presence: PresenceService,
        events: EventBus,
        wake: Callable[[], None] = lambda: None,
        min_seconds: int = SECONDS[0],
    ) -> None:
        self._store = store
        self._streams = streams
        self._presence = presence
        self._events = events
        self._wake = wake  # tells the selling clock a deadline changed
        self._seconds = (min_seconds, SECONDS[1])

    async def create(self, stream_id: str, user: str, body: dict[str, Any]) -> Giveaway:
        """A new open giveaway (host, stream live); 409 `giveaway_running`."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        title = text_field("title", body.get("title"), min_len=1, max_len=TITLE_MAX)
        seconds = int_field(
            "seconds", body.get("seconds"), low=self._seconds[0], high=self._seconds[1]
        )
        eligibility = body.get("eligibility", "everyone")
        if eligibility not in ELIGIBILITIES:
            raise invalid_field("eligibility", "must be 'everyone' or 'buyers'")
        if stream.status != "live":
            raise conflict("stream_not_live", "giveaways run while the stream is live")
        seed = secrets.token_bytes(32).hex()
        giveaway = Giveaway(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            title=title,
            status="open",
            ends_at_ms=now_ms() + seconds * 1000,
            eligibility=eligibility,
            seed=seed,
            commitment=commitment_of(seed),
            winner=None,
            entrant_count=0,
        )
        if not await self._store.insert_giveaway(giveaway):
            raise conflict("giveaway_running", "this stream already has an open giveaway")
        self._wake()
        await self._events.publish(GiveawayStarted(giveaway))
        return giveaway

    async def get(self, giveaway_id: object) -> Giveaway:
        giveaway = (
            await self._store.get_giveaway(giveaway_id) if isinstance(giveaway_id, str) else None
        )
        if giveaway is None:
            raise not_found(f"no giveaway {giveaway_id!r}", "giveaway_not_found")
        return giveaway

    async def public(self, giveaway_id: str) -> tuple[Giveaway, list[str] | None]:
        """The giveaway and, once drawn, its entrants (what anyone needs to verify it)."""
        giveaway = await self.get(giveaway_id)
        if giveaway.status != "drawn":
            return giveaway, None
        return giveaway, sorted(await self._store.entrants(giveaway.id), key=str.lower)

    async def enter(self, giveaway_id: object, user: str, joined: str | None) -> Giveaway:
        """Enter (signed-in users in the stream except host and cohost)."""
        giveaway = await self.get(giveaway_id)
        stream = await self._streams.get(giveaway.stream_id)
        require_role(stream, user, "viewer")
        if joined != stream.id:
            raise conflict("not_joined", "join the giveaway's stream first")
        after, added = await self._store.enter_giveaway(
            giveaway.id, user, now_ms(), giveaway.eligibility == "buyers"
        )
        if added:
            await self._events.publish(GiveawayUpdated(after))
        return after

    async def open_in(self, stream_id: str) -> Giveaway | None:
        return await self._store.open_giveaway(stream_id)

    async def draw_due(self, at_ms: int) -> None:
        """Draw every giveaway over by `at_ms` that this process claims."""
        for giveaway in await self._store.due_giveaways(at_ms):
            stream = await self._streams.get(giveaway.stream_id)
            present = {name.lower() for name in await self._presence.users(stream.id)}
            winner = draw(giveaway.seed, await self._store.entrants(giveaway.id), present)
            order = None
            if winner is not None:
                order = Order(
                    id=secrets.token_urlsafe(9),
                    stream_id=stream.id,
                    listing_id=None,
                    buyer=winner,
                    seller=stream.host,
                    quantity=1,
                    unit_price_cents=0,
                    total_cents=0,
                    currency=DEFAULT_CURRENCY,
                    consignor=None,
                    created_at=utc_now(),
                    giveaway_id=giveaway.id,
                )
            drawn = await self._store.finish_giveaway(giveaway.id, at_ms, winner, order)
            if drawn is None:
                continue
            if order is not None:
                await self._events.publish(OrderPlaced(order))
            await self._events.publish(GiveawayEnded(drawn))
