"""Sharers: referral links that pay a commission on what they sell.

A share link is `<public_url>/watch/<id>?ref=<username>`; the page sends the ref with
`join`. The last valid ref a signed-in viewer joined a stream with makes that sharer the
`referrer` of the viewer's later orders in the stream; the order keeps the percent in
force when it was placed (storage stamps both inside the order's transaction). The
host sets the percent (0-50) until the first attributed order; commissions enter the
ledger at the stream's payout (server.stores.sql_sharers.commission_entries).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from server.domain.accounts import USERNAME_RE
from server.domain.commerce import UserFinder
from server.domain.errors import conflict
from server.domain.streams import Filler, Stream, StreamService, require_role, same_user
from server.domain.times import format_time, utc_now
from server.domain.validation import int_field

COMMISSION_MAX_PERCENT = 50

# What became of the `ref` a join carried.
RefOutcome = Literal[
    "none",  # no ref
    "recorded",  # the viewer's referrer in this stream is now the sharer
    "counted",  # an anonymous join: counted; recorded when they join again signed in
    "invalid",  # not a username
    "unknown_user",
    "self_referral",
    "sharer_is_host",
    "sharer_is_cohost",
    "not_a_viewer",  # the host or cohost joining through a link: counted, never attributed
]


def commission_cents(total_cents: int, percent: int) -> int:
    """The protocol's `floor(total_cents * percent / 100)` in integers."""
    return total_cents * percent // 100


@dataclass(frozen=True)
class AttributedOrder:
    """One order a sharer's link brought, as the sharer sees it."""

    id: str
    stream_id: str
    buyer: str
    total_cents: int
    currency: str
    commission_percent: int
    created_at: datetime
    paid: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "buyer": self.buyer,
            "total_cents": self.total_cents,
            "currency": self.currency,
            "commission_percent": self.commission_percent,
            "commission_cents": commission_cents(self.total_cents, self.commission_percent),
            "created_at": format_time(self.created_at),
            "paid": self.paid,
        }


@dataclass(frozen=True)
class SharerStats:
    """One sharer's results in one stream."""

    stream_id: str
    username: str
    joins: int = 0
    buyers: int = 0
    orders: int = 0
    gmv_cents: int = 0
    commission_cents: int = 0
    paid: bool = False
    attributed: tuple[AttributedOrder, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The protocol's per-stream fields (without the username)."""
        return {
            "stream_id": self.stream_id,
            "joins": self.joins,
            "buyers": self.buyers,
            "orders": self.orders,
            "gmv_cents": self.gmv_cents,
            "commission_cents": self.commission_cents,
            "paid": self.paid,
        }


class SharerStore(Protocol):
    """What sharers need from storage; each write is one transaction."""

    async def percent(self, stream_id: str) -> int:
        """The stream's sharer commission percent (0 when never set)."""
        ...

    async def set_percent(self, stream_id: str, percent: int, at: datetime) -> bool:
        """Set it unless an attributed order exists (then False, nothing changed)."""
        ...

    async def record_join(
        self, stream_id: str, sharer: str, viewer: str | None, at: datetime
    ) -> None:
        """Count a join through the sharer's link; with a viewer, make it their referrer."""
        ...

    async def count_join(self, stream_id: str, sharer: str) -> None:
        """Count a join through the sharer's link without attributing anyone."""
        ...

    async def referrer(self, stream_id: str, viewer: str) -> str | None: ...

    async def stats(
        self, *, stream_id: str | None = None, sharer: str | None = None
    ) -> list[SharerStats]:
        """Per (stream, sharer) results, filtered by stream or by sharer, with the orders."""
        ...


@dataclass(frozen=True)
class JoinReferral:
    """The join ack's view of referral: what became of the ref, and who refers us now."""

    outcome: RefOutcome
    referrer: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.outcome, "referrer": self.referrer}


def commission_filler(store: SharerStore) -> Filler:
    """A StreamService filler: the stream with its `sharer_commission_percent`."""

    async def fill(stream: Stream) -> Stream:
        percent = await store.percent(stream.id)
        return dataclasses.replace(stream, sharer_commission_percent=percent)

    return fill


class SharerService:
    """The commission percent, attribution on join, and the sharers' statistics."""

    def __init__(self, store: SharerStore, streams: StreamService, accounts: UserFinder) -> None:
        self._store = store
        self._streams = streams
        self._accounts = accounts

    async def set_commission(self, stream_id: str, user: str, percent: object) -> Stream:
        """Set the show's sharer commission (host only, 0-50).

        400 `invalid_field`; 409 `commission_locked` once an order has been attributed
        (setting the percent already in force is not a change and is accepted).
        """
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        value = int_field("sharer_commission_percent", percent, low=0, high=COMMISSION_MAX_PERCENT)
        if value != stream.sharer_commission_percent and not await self._store.set_percent(
            stream_id, value, utc_now()
        ):
            raise conflict(
                "commission_locked",
                "the commission cannot change once a sharer's link has brought an order",
            )
        return await self._streams.get(stream_id)

    async def on_join(self, stream: Stream, viewer: str | None, ref: object) -> JoinReferral:
        """Count and record a join's `ref`. Never fails the join: a bad ref is reported
        in the outcome and changes nothing."""
        outcome = await self._take_ref(stream, viewer, ref)
        referrer = None if viewer is None else await self._store.referrer(stream.id, viewer)
        return JoinReferral(outcome, referrer)

    async def _take_ref(self, stream: Stream, viewer: str | None, ref: object) -> RefOutcome:
        if ref is None or ref == "":
            return "none"
        if not isinstance(ref, str) or not USERNAME_RE.fullmatch(ref):
            return "invalid"
        sharer = await self._accounts.find(ref)
        if sharer is None:
            return "unknown_user"
        if same_user(sharer, viewer):
            return "self_referral"
        if same_user(sharer, stream.host):
            return "sharer_is_host"
        if same_user(sharer, stream.cohost):
            return "sharer_is_cohost"
        if viewer is not None and StreamService.role_of(stream, viewer) != "viewer":
            await self._store.count_join(stream.id, sharer)
            return "not_a_viewer"
        await self._store.record_join(stream.id, sharer, viewer, utc_now())
        return "counted" if viewer is None else "recorded"

    async def my_referrals(self, user: str) -> list[SharerStats]:
        """The user's results as a sharer, one entry per stream, newest activity first."""
        return await self._store.stats(sharer=user)

    async def stream_sharers(self, stream_id: str, user: str) -> list[SharerStats]:
        """Every sharer of the stream with their results (host only)."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return await self._store.stats(stream_id=stream_id)
