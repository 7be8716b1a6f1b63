"""The money: an append-only ledger per account, a stream's payout, the host's share.

The host receives all of a stream's revenue (a `sale` entry per order, pending).
Once the stream has ended its payout moves that revenue from pending to available;
only then may the host pass part of it to someone who sat in that stream's cohost
seat, never more in total than the revenue. Balances are sums of entries, entries
are never edited or deleted, so the sum over all accounts is the sum of order totals.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from server.domain.errors import bad_request, conflict, invalid_field
from server.domain.events import CohostChanged, Event, EventBus
from server.domain.streams import StreamService, require_role, same_user
from server.domain.times import format_time, utc_now
from server.domain.validation import money_field

EntryKind = Literal["sale", "payout", "transfer_out", "transfer_in", "commission"]
Bucket = Literal["pending", "available"]
ShareOutcome = Literal["ok", "not_paid_out", "not_a_cohost", "exceeds_revenue"]
PayoutOutcome = Literal["ok", "already_paid", "stream_not_ended"]


@dataclass(frozen=True)
class LedgerEntry:
    """One signed movement on one account."""

    id: str
    username: str
    kind: EntryKind
    bucket: Bucket
    amount_cents: int
    stream_id: str
    order_id: str | None
    transfer_id: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The protocol's ledger entry."""
        return {
            "id": self.id,
            "kind": self.kind,
            "bucket": self.bucket,
            "amount_cents": self.amount_cents,
            "stream_id": self.stream_id,
            "order_id": self.order_id,
            "transfer_id": self.transfer_id,
            "created_at": format_time(self.created_at),
        }


@dataclass(frozen=True)
class Payout:
    """A stream's revenue made available to its host."""

    stream_id: str
    host: str
    revenue_cents: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "host": self.host,
            "revenue_cents": self.revenue_cents,
            "created_at": format_time(self.created_at),
        }


@dataclass(frozen=True)
class Transfer:
    """Part of a stream's revenue passed by its host to a (former) cohost."""

    id: str
    stream_id: str
    from_user: str
    to_user: str
    amount_cents: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "from": self.from_user,
            "to": self.to_user,
            "amount_cents": self.amount_cents,
            "created_at": format_time(self.created_at),
        }


@dataclass(frozen=True)
class StreamMoney:
    """A stream's money as its host sees it on the orders page."""

    revenue_cents: int
    payout: Payout | None
    transfers: tuple[Transfer, ...]
    cohosts: tuple[str, ...]

    @property
    def shareable_cents(self) -> int:
        """What shares may add up to: the revenue paid out (the sales so far before)."""
        return self.revenue_cents if self.payout is None else self.payout.revenue_cents

    @property
    def shared_cents(self) -> int:
        return sum(transfer.amount_cents for transfer in self.transfers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "revenue_cents": self.revenue_cents,
            "payout": None if self.payout is None else self.payout.to_dict(),
            "shared_cents": self.shared_cents,
            "left_to_share_cents": self.shareable_cents - self.shared_cents,
            "transfers": [transfer.to_dict() for transfer in self.transfers],
            "cohosts": list(self.cohosts),
        }


class LedgerStore(Protocol):
    """What the ledger needs from storage; each call is one transaction."""

    async def record_cohost(self, stream_id: str, username: str, at: datetime) -> None:
        """Remember that `username` sat in the stream's cohost seat (once is enough)."""
        ...

    async def payout(
        self, stream_id: str, host: str, at: datetime
    ) -> tuple[PayoutOutcome, Payout | None]:
        """Pay an ended stream's revenue out (two `payout` entries), judged in one
        transaction with the stream's status (a restart cannot slip in between)."""
        ...

    async def share(
        self,
        stream_id: str,
        host: str,
        to_user: str,
        amount_cents: int,
        transfer_id: str,
        at: datetime,
    ) -> tuple[ShareOutcome, Transfer | None]:
        """Check and record a share atomically (so concurrent shares never overspend)."""
        ...

    async def entries(self, username: str) -> list[LedgerEntry]:
        """The account's entries, oldest first."""
        ...

    async def stream_money(self, stream_id: str) -> StreamMoney: ...


class LedgerService:
    """Payouts, shares and balances."""

    def __init__(self, store: LedgerStore, streams: StreamService) -> None:
        self._store = store
        self._streams = streams

    def follow(self, events: EventBus) -> None:
        """Record everyone who takes a cohost seat: they are whom the host may share with."""

        async def on_event(event: Event) -> None:
            if isinstance(event, CohostChanged) and event.cohost is not None:
                await self._store.record_cohost(event.stream_id, event.cohost, utc_now())

        events.subscribe(on_event)

    async def payout(self, stream_id: str, user: str) -> Payout:
        """Make an ended stream's revenue available to its host (host only).

        409 `stream_not_ended`, 409 `already_paid`.
        """
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        if stream.status != "ended":
            raise conflict("stream_not_ended", "payouts happen after the stream ends")
        outcome, payout = await self._store.payout(stream_id, stream.host, utc_now())
        if outcome == "stream_not_ended":  # restarted meanwhile
            raise conflict("stream_not_ended", "payouts happen after the stream ends")
        if payout is None:
            raise conflict("already_paid", "this stream has already been paid out")
        return payout

    async def share(
        self, stream_id: str, user: str, username: object, amount_cents: object
    ) -> Transfer:
        """Pass part of a paid-out stream's revenue to someone who was its cohost.

        400 `invalid_field`, 400 `not_a_cohost`, 409 `not_paid_out`, 409 `exceeds_revenue`.
        """
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        if not isinstance(username, str) or not username:
            raise invalid_field("username", "name the cohost to share with")
        amount = money_field("amount_cents", amount_cents, low=1)
        if same_user(username, stream.host):
            raise _not_a_cohost(username)
        outcome, transfer = await self._store.share(
            stream_id, stream.host, username, amount, secrets.token_urlsafe(9), utc_now()
        )
        if outcome == "not_a_cohost":
            raise _not_a_cohost(username)
        if outcome == "not_paid_out":
            raise conflict("not_paid_out", "share after the stream's payout")
        if outcome == "exceeds_revenue":
            raise conflict(
                "exceeds_revenue", "that is more than the stream's revenue left to share"
            )
        assert transfer is not None
        return transfer

    async def ledger(self, user: str) -> dict[str, Any]:
        """`{"balance_cents", "pending_cents", "available_cents", "entries"}`."""
        entries = await self._store.entries(user)
        pending = sum(e.amount_cents for e in entries if e.bucket == "pending")
        available = sum(e.amount_cents for e in entries if e.bucket == "available")
        return {
            "balance_cents": pending + available,
            "pending_cents": pending,
            "available_cents": available,
            "entries": [entry.to_dict() for entry in entries],
        }

    async def stream_money(self, stream_id: str, user: str) -> StreamMoney:
        """Revenue, payout, shares and former cohosts of a stream (host only)."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return await self._store.stream_money(stream_id)


def _not_a_cohost(username: str) -> Exception:
    return bad_request(f"@{username} was never cohost of this stream", "not_a_cohost")
