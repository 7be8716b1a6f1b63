"""Live auctions: one judge per auction, server time only, proxy bids, anti-sniping.

A running auction is judged in memory by one process, its judge: the stream's home
when several processes share Redis (a bid reaching another process is forwarded
there), else the only process. Accepted bids are written behind in batches (group
commit: one transaction holds every bid accepted while the previous one was being
written) and a bid is acknowledged only once its batch is committed, so an
acknowledged bid survives a restart. Each batch is fenced: its UPDATE requires the
`bid_count` the judge last wrote and a running auction, so a second judge (a moved
home, a closing elsewhere) can never interleave bids; the loser forgets its view,
refuses the unwritten bids and reloads from the database. The closing is claimed by
one guarded UPDATE, so only one process writes the winner's order.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from server.domain.commerce import CommerceService, Listing, Order
from server.domain.errors import ApiError, conflict, invalid_field, not_found
from server.domain.events import (
    AuctionEnded,
    AuctionOutbid,
    AuctionStarted,
    AuctionUpdated,
    CohostChanged,
    Event,
    EventBus,
    ListingUpdated,
    OrderPlaced,
)
from server.domain.streams import Stream, StreamService, require_role, same_user
from server.domain.times import ends_at, now_ms, utc_now
from server.domain.validation import int_field, money_field

log = logging.getLogger(__name__)

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
        """Insert a running auction; None when the stream already runs one; 409
        `auction_done` when the listing is no longer active."""
        ...

    async def record_bids(self, after: Auction, written_count: int, bids: list[BidOutcome]) -> bool:
        """Write a batch of accepted bids and the auction after them in one transaction,
        only if the auction still runs with `written_count` bids; False (nothing
        written) otherwise."""
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


# The stream's judging process elsewhere (its base URL), or None when it is this one.
JudgeLocator = Callable[[str], Awaitable[str | None]]
# Sends a bid (listing id, user, amount, max) to the judge at a base URL: its `auction`.
BidForwarder = Callable[[str, str, str, int, int | None], Awaitable[dict[str, Any]]]


async def judge_here(_stream_id: str) -> str | None:
    """A single process judges every auction itself."""
    return None


async def no_forwarding(
    url: str, listing_id: str, user: str, amount: int, ceiling: int | None
) -> dict[str, Any]:
    raise RuntimeError("this process has no other judge to forward bids to")


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


Pending = tuple[BidOutcome, "asyncio.Future[None]"]


@dataclass
class _Judge:
    """This process's view of one running auction: the truth while it judges it."""

    auction: Auction  # after every bid judged, written or not
    stream: Stream | None  # roles of bidders; None after a cohost change: read again
    written: Auction  # as last committed, like its row (`bid_count`: the batch fence)
    pending: list[Pending] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None
    # Committed but not yet published: the latest state, and who was outbid since.
    news: Auction | None = None
    outbid: dict[str, None] = field(default_factory=dict)
    herald: asyncio.Task[None] | None = None


def _batch_refusal(auction: Auction | None, seq: int) -> ApiError:
    """Why a batch the database refused was not recorded."""
    if auction is None or auction.seq != seq or auction.status != "running":
        return conflict("auction_not_running", "no auction is running for this item")
    return ApiError(503, "backend_unavailable", "the bid could not be recorded; bid again")


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
        judge_elsewhere: JudgeLocator = judge_here,
        forward: BidForwarder = no_forwarding,
    ) -> None:
        """`judge_elsewhere` and `forward`: where a stream's judge runs and how a bid
        gets there, when processes share Redis (one process: always here)."""
        self._store = store
        self._streams = streams
        self._commerce = commerce
        self._events = events
        self._snipe_ms = int(snipe_seconds * 1000)
        self._wake = wake  # tells the selling clock a deadline changed
        self._judge_elsewhere = judge_elsewhere
        self._forward = forward
        self._judges: dict[str, _Judge] = {}  # listing id -> the auction judged here
        events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        """A cohost change (here or relayed from another process) changes who may bid."""
        if isinstance(event, CohostChanged):
            for judge in self._judges.values():
                if judge.auction.stream_id == event.stream_id:
                    judge.stream = None

    def judged_here(self, listing_id: str) -> bool:
        """Whether this process judges the listing's running auction (it has loaded it):
        a bid on it waits at most for a group commit, never for another process."""
        return listing_id in self._judges

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
                "seconds",
                seconds,
                low=self._commerce.auction_seconds[0],
                high=self._commerce.auction_seconds[1],
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
        self._judges.pop(listing.id, None)  # a view of an earlier run is over
        self._wake()
        await self._events.publish(AuctionStarted(auction))
        return auction

    async def bid(
        self,
        listing_id: str,
        user: str,
        amount_cents: object,
        max_cents: object = None,
        forwarded: bool = False,
    ) -> dict[str, Any]:
        """One bid (signed-in users other than host and cohost): the protocol's
        `auction` once the bid is recorded; 409 `bid_too_low`, `auction_not_running`;
        400 `invalid_field`. `forwarded`: another process sent it here to be judged."""
        amount = money_field("amount_cents", amount_cents, low=1)
        ceiling = amount if max_cents is None else money_field("max_cents", max_cents, low=amount)
        judge = self._judges.get(listing_id)
        if judge is None:
            listing = await self._commerce.get(listing_id)
            home = None if forwarded else await self._judge_elsewhere(listing.stream_id)
            if home is not None:
                stream = await self._streams.stored(listing.stream_id)
                require_role(stream, user, "viewer")
                proxy = None if max_cents is None else ceiling
                return await self._forward(home, listing.id, user, amount, proxy)
            judge = await self._judge_of(listing.id)
        try:
            outcome = await self._judge_bid(judge, user, amount, ceiling)
        except ApiError as refusal:
            if refusal.code != "auction_not_running" or judge.pending:
                raise
            # Perhaps a view of an auction that ended: read the database once more.
            self._judges.pop(listing_id, None)
            outcome = await self._judge_bid(await self._judge_of(listing_id), user, amount, ceiling)
        return outcome.auction.to_dict()

    async def _judge_of(self, listing_id: str) -> _Judge:
        """The judge of the listing's running auction, loaded from the database."""
        auction = await self._store.latest_auction(listing_id)
        if auction is None or auction.status != "running":
            raise conflict("auction_not_running", "no auction is running for this item")
        judge = self._judges.get(listing_id)  # loaded by a bid while we were reading
        if judge is None or judge.auction.seq != auction.seq:
            judge = _Judge(auction, None, auction)
            self._judges[listing_id] = judge
        return judge

    async def _judge_bid(self, judge: _Judge, user: str, amount: int, ceiling: int) -> BidOutcome:
        """Judge in memory, then wait for the bid's batch to be committed."""
        if judge.stream is None:
            judge.stream = await self._streams.stored(judge.auction.stream_id)
        require_role(judge.stream, user, "viewer")
        outcome = judge_bid(judge.auction, user, amount, ceiling, now_ms(), self._snipe_ms)
        judge.auction = outcome.auction
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        judge.pending.append((outcome, done))
        if judge.writer is None:
            judge.writer = asyncio.create_task(self._write_behind(judge))
        await done
        return outcome

    async def _write_behind(self, judge: _Judge) -> None:
        """Commit pending bids batch after batch; acknowledge them; publish the news."""
        try:
            while judge.pending:
                batch, judge.pending = judge.pending, []
                after = batch[-1][0].auction
                bids = [outcome for outcome, _ in batch]
                try:
                    recorded = await self._store.record_bids(after, judge.written.bid_count, bids)
                except Exception:
                    log.exception("recording %d bids on auction %s failed", len(bids), after.seq)
                    recorded = False
                if not recorded:
                    await self._forget(judge, batch)
                    return
                judge.written = after
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
                self._wake()
                self._announce(judge, after, bids)
        finally:
            judge.writer = None

    def _announce(self, judge: _Judge, after: Auction, bids: list[BidOutcome]) -> None:
        """Queue a committed batch's news; the herald publishes it without holding up
        the next batch, merging batches that pile up while it sends."""
        judge.news = after
        for outcome in bids:
            if outcome.outbid is not None:
                judge.outbid[outcome.outbid] = None
        if judge.herald is None:
            judge.herald = asyncio.create_task(self._herald(judge))

    async def _herald(self, judge: _Judge) -> None:
        try:
            while judge.news is not None:
                after, judge.news = judge.news, None
                outbid, judge.outbid = judge.outbid, {}
                await self._publish_news(after, outbid)
        finally:
            judge.herald = None

    async def _forget(self, judge: _Judge, batch: list[Pending]) -> None:
        """A batch was not written: drop this view and refuse every bid judged on it."""
        if self._judges.get(judge.auction.listing_id) is judge:
            del self._judges[judge.auction.listing_id]
        try:
            refusal = _batch_refusal(
                await self._store.latest_auction(judge.auction.listing_id), judge.auction.seq
            )
        except Exception:
            refusal = _batch_refusal(judge.auction, judge.auction.seq)
        refused, judge.pending = batch + judge.pending, []  # with bids judged meanwhile
        for _, done in refused:
            if not done.done():
                done.set_exception(refusal)

    async def _publish_news(self, after: Auction, outbid: dict[str, None]) -> None:
        """One `auction:updated` with the latest state, one `auction:outbid` to each
        bidder left behind since the last one (unless they lead again)."""
        await self._events.publish(AuctionUpdated(after))
        leader = after.high_bidder
        behind = tuple(u for u in outbid if leader is None or not same_user(u, leader))
        if behind:
            await self._events.publish(AuctionOutbid(after, behind))

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
        """Close every auction over by `at_ms` that this process judges."""
        for due in await self._store.due_auctions(at_ms):
            if await self._judge_elsewhere(due.stream_id) is not None:
                continue  # its judge closes it
            judge = self._judges.get(due.listing_id)
            if judge is not None and judge.auction.seq == due.seq:
                if judge.writer is not None:
                    await asyncio.shield(judge.writer)  # bids judged before the end count
                if judge.herald is not None:
                    await asyncio.shield(judge.herald)  # their news goes out before the end
                if judge.auction.ends_at_ms > at_ms:
                    continue  # extended by a bid: the clock wakes again at the new end
            stream = await self._streams.get(due.stream_id)
            closing = await self._store.close_auction(due.seq, at_ms, _winner_order(stream))
            if closing is None:
                continue
            if self._judges.get(due.listing_id) is judge and judge is not None:
                del self._judges[due.listing_id]
            if closing.order is not None:
                await self._events.publish(ListingUpdated(closing.listing))
                await self._events.publish(OrderPlaced(closing.order))
            await self._events.publish(AuctionEnded(closing.auction, closing.order))
