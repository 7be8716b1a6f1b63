"""Live auctions: one judge per auction, server time only, proxy bids, anti-sniping.

Every bid is judged by `judge_bid` inside one exclusive storage transaction (SQLite
BEGIN IMMEDIATE, which also serialises processes sharing the file), so a bid reaching
any process is ordered with every other bid exactly once. The closing is claimed by
one guarded UPDATE, so only one process writes the winner's order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from server.domain.commerce import AUCTION_SECONDS, CommerceService, Listing, Order
from server.domain.errors import conflict, invalid_field, not_found
from server.domain.streams import Stream, StreamService, require_role, same_user
from server.domain.times import ends_at, now_ms, utc_now
from server.domain.validation import int_field, money_field
from server.events import (
    AuctionEnded,
    AuctionOutbid,
    AuctionStarted,
    AuctionUpdated,
    EventBus,
    ListingUpdated,
    OrderPlaced,
)

AuctionStatus = Literal["running", "sold", "unsold"]


@dataclass(frozen=True)
class Auction:
    """One run of an auction listing (an unsold listing may run again)."""

    seq: int  # storage id of this run
    listing_id: str
    stream_id: str
    status: AuctionStatus
    start_cents: int
    increment_cents: int
    high_bid_cents: int | None
    high_bidder: str | None
    high_max_cents: int | None  # the leader's proxy maximum: never leaves the server
    ends_at_ms: int
    sudden_death: bool
    bid_count: int
    order_id: str | None = None

    @property
    def min_next_cents(self) -> int:
        if self.high_bid_cents is None:
            return self.start_cents
        return self.high_bid_cents + self.increment_cents

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `auction` object."""
        return {
            "listing_id": self.listing_id,
            "stream_id": self.stream_id,
            "status": self.status,
            "high_bid_cents": self.high_bid_cents,
            "high_bidder": self.high_bidder,
            "min_next_cents": self.min_next_cents,
            **ends_at(self.ends_at_ms),
            "sudden_death": self.sudden_death,
            "bid_count": self.bid_count,
        }


@dataclass(frozen=True)
class BidOutcome:
    """An accepted bid: the auction after it, and who lost (or never took) the lead."""

    auction: Auction
    outbid: str | None
    bidder: str
    amount_cents: int
    max_cents: int
    at_ms: int


def judge_bid(
    auction: Auction | None,
    bidder: str,
    amount_cents: int,
    max_cents: int,
    at_ms: int,
    snipe_ms: int,
) -> BidOutcome:
    """Apply one bid at server time `at_ms`, or raise the protocol's refusal.

    A bid counts once; a proxy's automatic answer to it counts once more. Between
    two proxies the higher maximum leads at the lower maximum + one increment
    (capped at the higher maximum); an equal maximum stays with the earlier bidder.
    """
    if auction is None or auction.status != "running" or at_ms >= auction.ends_at_ms:
        raise conflict("auction_not_running", "no auction is running for this item")
    if amount_cents < auction.min_next_cents:
        raise conflict("bid_too_low", f"the next bid is at least {auction.min_next_cents} cents")
    leader, leader_max = auction.high_bidder, auction.high_max_cents or 0
    step = auction.increment_cents
    outbid: str | None = None
    if leader is None:
        state = (bidder, amount_cents, max_cents, 1)
    elif same_user(leader, bidder):  # the leader raises their own bid or maximum
        state = (leader, amount_cents, max(leader_max, max_cents), 1)
    elif max_cents > leader_max:
        price = max(amount_cents, min(leader_max + step, max_cents))
        state, outbid = (bidder, price, max_cents, 1), leader
    else:  # the leader's proxy answers at once
        state, outbid = (leader, min(leader_max, max_cents + step), leader_max, 2), bidder
    high_bidder, high_bid, high_max, counted = state
    deadline = auction.ends_at_ms
    if not auction.sudden_death and deadline - at_ms <= snipe_ms:
        deadline = at_ms + snipe_ms
    after = replace(
        auction,
        high_bidder=high_bidder,
        high_bid_cents=high_bid,
        high_max_cents=high_max,
        bid_count=auction.bid_count + counted,
        ends_at_ms=deadline,
    )
    return BidOutcome(after, outbid, bidder, amount_cents, max_cents, at_ms)


@dataclass(frozen=True)
class Closing:
    """A closed auction: the listing afterwards and the winner's order, if any."""

    auction: Auction
    listing: Listing
    order: Order | None


class AuctionStore(Protocol):
    async def start_auction(self, auction: Auction) -> Auction | None:
        """Insert a running auction; None when the stream already runs one."""
        ...

    async def bid(
        self, listing_id: str, judge: Callable[[Auction | None], BidOutcome]
    ) -> BidOutcome:
        """Judge and record one bid on the listing's latest auction in one transaction."""
        ...

    async def latest_auction(self, listing_id: str) -> Auction | None: ...

    async def running_auction(self, stream_id: str) -> Auction | None: ...

    async def due_auctions(self, at_ms: int) -> list[Auction]:
        """Running auctions whose `ends_at_ms` has passed."""
        ...

    async def close_auction(
        self, seq: int, at_ms: int, make_order: Callable[[Auction, Listing], Order]
    ) -> Closing | None:
        """Claim and close a due auction (None if another process did, or a bid extended it)."""
        ...


def _winner_order(stream: Stream) -> Callable[[Auction, Listing], Order]:
    def make(auction: Auction, listing: Listing) -> Order:
        assert auction.high_bidder is not None and auction.high_bid_cents is not None
        return Order(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            listing_id=listing.id,
            buyer=auction.high_bidder,
            seller=stream.host,
            quantity=1,
            unit_price_cents=auction.high_bid_cents,
            total_cents=auction.high_bid_cents,
            currency=listing.currency,
            consignor=listing.consignor,
            created_at=utc_now(),
        )

    return make


class AuctionService:
    """Starting, bidding and closing; publishes the auction events."""

    def __init__(
        self,
        store: AuctionStore,
        streams: StreamService,
        commerce: CommerceService,
        events: EventBus,
        snipe_seconds: float,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._streams = streams
        self._commerce = commerce
        self._events = events
        self._snipe_ms = int(snipe_seconds * 1000)
        self.wake = wake  # tells the selling clock a deadline changed

    async def start(
        self, listing_id: str, user: str, seconds: object = None, sudden_death: object = None
    ) -> Auction:
        """Start the listing's auction (host or cohost, stream live); `seconds` and
        `sudden_death` override the listing's for this run."""
        listing = await self._commerce.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        require_role(stream, user, "host", "cohost")
        duration = listing.auction_seconds
        if seconds is not None:
            duration = int_field(
                "seconds", seconds, low=AUCTION_SECONDS[0], high=AUCTION_SECONDS[1]
            )
        sudden = listing.sudden_death
        if sudden_death is not None:
            if not isinstance(sudden_death, bool):
                raise invalid_field("sudden_death", "must be true or false")
            sudden = sudden_death
        if stream.status != "live":
            raise conflict("stream_not_live", "auctions run while the stream is live")
        if listing.format != "auction":
            raise conflict("not_an_auction", "this item is sold buy-now")
        if listing.status != "active":
            raise conflict("auction_done", "this item's auction is over")
        auction = await self._store.start_auction(
            Auction(
                seq=0,
                listing_id=listing.id,
                stream_id=stream.id,
                status="running",
                start_cents=listing.price_cents,
                increment_cents=listing.increment_cents,
                high_bid_cents=None,
                high_bidder=None,
                high_max_cents=None,
                ends_at_ms=now_ms() + duration * 1000,
                sudden_death=sudden,
                bid_count=0,
            )
        )
        if auction is None:
            raise conflict("auction_running", "this stream already runs an auction")
        self.wake()
        await self._events.publish(AuctionStarted(auction))
        return auction

    async def bid(
        self, listing_id: str, user: str, amount_cents: object, max_cents: object = None
    ) -> Auction:
        """One bid (signed-in users other than host and cohost); 409 `bid_too_low`,
        `auction_not_running`; 400 `invalid_field`."""
        listing = await self._commerce.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        require_role(stream, user, "viewer")
        amount = money_field("amount_cents", amount_cents, low=1)
        ceiling = amount if max_cents is None else money_field("max_cents", max_cents, low=amount)
        outcome = await self._store.bid(
            listing.id,
            lambda auction: judge_bid(auction, user, amount, ceiling, now_ms(), self._snipe_ms),
        )
        self.wake()
        await self._events.publish(AuctionUpdated(outcome.auction))
        if outcome.outbid is not None:
            await self._events.publish(AuctionOutbid(outcome.auction, outcome.outbid))
        return outcome.auction

    async def get(self, listing_id: str) -> Auction:
        """The listing's latest auction; 404 `auction_not_found` before any."""
        listing = await self._commerce.get(listing_id)
        auction = await self._store.latest_auction(listing.id)
        if auction is None:
            raise not_found("this item has not been auctioned", "auction_not_found")
        return auction

    async def running(self, stream_id: str) -> Auction | None:
        return await self._store.running_auction(stream_id)

    async def close_due(self, at_ms: int) -> None:
        """Close every auction over by `at_ms` that this process manages to claim."""
        for auction in await self._store.due_auctions(at_ms):
            stream = await self._streams.get(auction.stream_id)
            closing = await self._store.close_auction(auction.seq, at_ms, _winner_order(stream))
            if closing is None:
                continue
            if closing.order is not None:
                await self._events.publish(ListingUpdated(closing.listing))
                await self._events.publish(OrderPlaced(closing.order))
            await self._events.publish(AuctionEnded(closing.auction, closing.order))
