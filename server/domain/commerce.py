"""Live commerce: the host's listings, presenting them on air, and buying with exact stock.

Orders, money and the duty to ship always stay with the host (the seller); a
`consignor` only marks an item that belongs to someone else (the cohost) but is
sold through the host's listing. Stock is taken by one guarded UPDATE inside the
transaction that records the order, so no concurrency can oversell.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from server.domain.buyers_line import BuyersLine
from server.domain.codes import DiscountCode, code_text
from server.domain.errors import bad_request, conflict, invalid_field, not_found
from server.domain.events import (
    EventBus,
    ListingCreated,
    ListingPresented,
    ListingUpdated,
    OrderPlaced,
)
from server.domain.streams import Stream, StreamService, require_role, same_user
from server.domain.times import ends_at, format_time, now_ms, utc_now
from server.domain.validation import int_field, money_field, order_total, text_field

ListingStatus = Literal["active", "sold_out", "closed"]
ListingFormat = Literal["buy_now", "auction"]
FORMATS: tuple[str, ...] = ("buy_now", "auction")
SKU_RE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
INCREMENT_DEFAULT = 100
AUCTION_SECONDS_DEFAULT = 30
AUCTION_SECONDS = (5, 300)
FLASH_SECONDS = (5, 3600)
# A "was" price needs a real sale of the same sku at that price within this window.
COMPARE_AT_WINDOW = timedelta(days=30)

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
QUANTITY_MAX = 100_000
# One REST page of listings at most (and by default: LISTINGS_PAGE_DEFAULT).
LISTINGS_PAGE_MAX = 200
LISTINGS_PAGE_DEFAULT = 100
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True)
class Listing:
    """An item the host offers in one stream."""

    id: str
    stream_id: str
    title: str
    description: str
    price_cents: int
    currency: str
    quantity: int
    remaining: int
    consignor: str | None
    status: ListingStatus
    compare_at_cents: int | None
    created_at: datetime
    format: ListingFormat = "buy_now"
    sku: str | None = None
    per_buyer_limit: int | None = None
    daily_cap: int | None = None
    increment_cents: int = INCREMENT_DEFAULT
    auction_seconds: int = AUCTION_SECONDS_DEFAULT
    sudden_death: bool = False
    flash_price_cents: int | None = None
    flash_ends_at_ms: int | None = None
    # Bumped whenever the stock grows (a restock); within one epoch it only goes down.
    stock_epoch: int = 0

    def flash_price_at(self, at_ms: int) -> int | None:
        """The flash price while the flash sale runs, else None."""
        if self.flash_ends_at_ms is not None and at_ms < self.flash_ends_at_ms:
            return self.flash_price_cents
        return None

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `listing` object (plus the `compare_at_cents` extension)."""
        flash = None
        if self.flash_price_cents is not None and self.flash_ends_at_ms is not None:
            flash = {"price_cents": self.flash_price_cents, **ends_at(self.flash_ends_at_ms)}
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "title": self.title,
            "description": self.description,
            "price_cents": self.price_cents,
            "currency": self.currency,
            "quantity": self.quantity,
            "remaining": self.remaining,
            "consignor": self.consignor,
            "status": self.status,
            "compare_at_cents": self.compare_at_cents,
            "format": self.format,
            "sku": self.sku,
            "per_buyer_limit": self.per_buyer_limit,
            "daily_cap": self.daily_cap,
            "increment_cents": self.increment_cents,
            "auction_seconds": self.auction_seconds,
            "sudden_death": self.sudden_death,
            "flash": flash,
        }


@dataclass(frozen=True)
class Order:
    """One purchase; the seller is always the stream's host."""

    id: str
    stream_id: str
    listing_id: str | None  # None: a giveaway's prize
    buyer: str
    seller: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    currency: str
    consignor: str | None
    created_at: datetime
    discount_code: str | None = None
    discount_cents: int = 0
    giveaway_id: str | None = None
    # Stamped by storage when the order is recorded (server.stores.sql_sharers).
    referrer: str | None = None
    commission_percent: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `order` object."""
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "listing_id": self.listing_id,
            "buyer": self.buyer,
            "seller": self.seller,
            "quantity": self.quantity,
            "unit_price_cents": self.unit_price_cents,
            "total_cents": self.total_cents,
            "currency": self.currency,
            "consignor": self.consignor,
            "created_at": format_time(self.created_at),
            "discount_code": self.discount_code,
            "discount_cents": self.discount_cents,
            "giveaway_id": self.giveaway_id,
            "referrer": self.referrer,
        }


class CommerceStore(Protocol):
    """What commerce needs from storage."""

    async def insert_listing(self, listing: Listing) -> None: ...

    async def get_listing(self, listing_id: str) -> Listing | None: ...

    async def listing_on_stream(self, listing_id: str) -> tuple[Listing, Stream] | None:
        """The listing and its stream as stored (without live fields), in one wait."""
        ...

    async def stream_listings(self, stream_id: str) -> list[Listing]:
        """A stream's listings, oldest first."""
        ...

    async def stream_orders(self, stream_id: str) -> list[Order]:
        """A stream's orders, oldest first."""
        ...


class ListingPages(Protocol):
    """Listings page by page (bounded answers however many a stream has)."""

    async def seq_of(self, stream_id: str, listing_id: str) -> int | None: ...

    async def page(
        self, stream_id: str, after_seq: int, limit: int
    ) -> tuple[list[Listing], bool]: ...

    async def newest(self, stream_id: str, limit: int) -> tuple[list[Listing], bool]: ...


class SalesStore(Protocol):
    """The v2 selling rules that must be judged inside one storage transaction."""

    async def sell(
        self, listing_id: str, buyer: str, code: str | None, judge: SaleJudge, dry_run: bool = False
    ) -> tuple[Listing, Order]:
        """Read the SaleFacts, let `judge` price (or refuse) the order, then take the
        stock, count the code and record the order, all in one transaction (with
        `dry_run`, only judge: a quote)."""
        ...

    async def compare_at_backed(
        self, seller: str, sku: str, compare_at_cents: int, since: datetime
    ) -> bool: ...

    async def take_stage(self, stream_id: str, listing_id: str, at_ms: int, min_ms: int) -> bool:
        """Put the listing on stage unless another went on less than `min_ms` ago."""
        ...

    async def set_flash(self, listing_id: str, price_cents: int, ends_at_ms: int) -> Listing: ...

    async def set_quantity(self, listing_id: str, quantity: int) -> Listing:
        """Make `quantity` the listing's total, keeping what was sold (400
        `invalid_field` below that); a rise restocks it (`remaining` and
        `stock_epoch` up, `sold_out` active again)."""
        ...

    async def end_due_flashes(self, at_ms: int) -> list[Listing]:
        """Clear every flash sale over by `at_ms` (each claimed by one process only)."""
        ...


class UserFinder(Protocol):
    async def find(self, username: str) -> str | None:
        """The canonical spelling of an existing username, else None."""
        ...


@dataclass(frozen=True)
class SaleFacts:
    """What one purchase is judged on, read inside the buying transaction."""

    listing: Listing
    stream_status: str
    seller: str
    bought_by_buyer: int  # units of this listing the buyer already bought (0: no limit)
    sold_today: int  # units of this listing sold this UTC day (0: no daily cap)
    code: DiscountCode | None  # the code named on the buy, if the stream has it
    code_used_by_buyer: int  # the buyer's orders that used that code


SaleJudge = Callable[[SaleFacts], "Order"]


def judge_sale(facts: SaleFacts, buyer: str, count: int, code: str | None, at_ms: int) -> Order:
    """The order a purchase makes, or the protocol's refusal (raised)."""
    listing = facts.listing
    if code is not None:
        if facts.code is None:
            raise bad_request(f"no discount code {code!r} in this stream", "invalid_code")
        if facts.stream_status != "live":
            raise conflict("code_inactive", "codes work only while the stream is live")
    if facts.stream_status != "live":
        raise conflict("stream_not_live", "buying opens when the stream is live")
    if listing.format != "buy_now":
        raise conflict("not_buy_now", "this item is sold by auction: bid on it")
    if listing.status == "closed":
        raise conflict("listing_closed", "the listing is closed")
    if listing.remaining < count:
        left = (
            "the item is sold out" if listing.remaining == 0 else f"only {listing.remaining} left"
        )
        raise conflict("sold_out", left)
    if (
        listing.per_buyer_limit is not None
        and facts.bought_by_buyer + count > listing.per_buyer_limit
    ):
        raise conflict("buyer_limit_reached", f"at most {listing.per_buyer_limit} per buyer")
    if listing.daily_cap is not None and facts.sold_today + count > listing.daily_cap:
        raise conflict("daily_cap_reached", "today's allowance of this item is sold")
    flash = listing.flash_price_at(at_ms)
    unit = listing.price_cents if flash is None else flash
    # No order may carry more money than any single amount may (MONEY_MAX_CENTS).
    subtotal = order_total("quantity", unit, count)
    discount = 0
    if facts.code is not None:
        if not facts.code.applies_to(listing.id):
            raise bad_request("the code does not apply to this item", "code_not_applicable")
        if facts.code.uses >= facts.code.max_uses:
            raise conflict("code_exhausted", "the code has been used up")
        if facts.code_used_by_buyer >= facts.code.per_buyer:
            raise conflict("code_limit_reached", "you have used this code already")
        discount = facts.code.discount_cents(subtotal)
    return Order(
        id=secrets.token_urlsafe(9),
        stream_id=listing.stream_id,
        listing_id=listing.id,
        buyer=buyer,
        seller=facts.seller,
        quantity=count,
        unit_price_cents=unit,
        total_cents=max(0, subtotal - discount),
        currency=listing.currency,
        consignor=listing.consignor,
        created_at=utc_now(),
        discount_code=None if facts.code is None else facts.code.code,
        discount_cents=discount,
    )


def _currency(value: object) -> str:
    if value is None:
        return DEFAULT_CURRENCY
    if not isinstance(value, str) or not CURRENCY_RE.fullmatch(value):
        raise invalid_field("currency", "must be 3 uppercase letters (ISO 4217, e.g. USD)")
    return value


def _optional_int(field: str, value: object, low: int, high: int) -> int | None:
    return None if value is None else int_field(field, value, low=low, high=high)


def _bool(field: str, value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_field(field, "must be true or false")
    return value


def _sku(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not SKU_RE.fullmatch(value):
        raise invalid_field("sku", "must be 1-40 characters of A-Z a-z 0-9 . _ -")
    return value


class CommerceService:
    """Listing, presenting, flash sales and buying; publishes listing and order events."""

    def __init__(
        self,
        store: CommerceStore,
        sales: SalesStore,
        streams: StreamService,
        accounts: UserFinder,
        events: EventBus,
        min_present_seconds: float = 3.0,
        pages: ListingPages | None = None,
        auction_min_seconds: int = AUCTION_SECONDS[0],
    ) -> None:
        self._store = store
        self._sales = sales
        self._pages = pages
        self._streams = streams
        self._accounts = accounts
        self._events = events
        self._min_present_ms = int(min_present_seconds * 1000)
        # Stock seen by this process (listing id -> (stock_epoch, the least `remaining`
        # seen in it)) and its buyers in line per listing (see `_refuse_if_short`).
        self._stock_at_most: dict[str, tuple[int, int]] = {}
        # The last listing read refused for its stock, and its copy with that stock.
        self._stock_views: dict[str, tuple[Listing, Listing]] = {}
        self._lines: defaultdict[str, BuyersLine] = defaultdict(BuyersLine)
        self.auction_seconds = (auction_min_seconds, AUCTION_SECONDS[1])

    async def get(self, listing_id: str) -> Listing:
        """The listing, or 404 `listing_not_found`."""
        listing = await self._store.get_listing(listing_id)
        if listing is None:
            raise not_found(f"no listing {listing_id!r}", "listing_not_found")
        return listing

    async def create_listing(self, stream_id: str, user: str, body: dict[str, Any]) -> Listing:
        """A new active listing (host only); 400 `invalid_field` / `compare_at_unbacked`,
        409 `stream_ended`."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        price = money_field("price_cents", body.get("price_cents"))
        form = body.get("format", "buy_now")
        if form not in FORMATS:
            raise invalid_field("format", "must be 'buy_now' or 'auction'")
        if form == "auction":
            count = int_field("quantity", body.get("quantity", 1), low=1, high=1)
        else:
            count = int_field("quantity", body.get("quantity"), low=1, high=QUANTITY_MAX)
        sku = _sku(body.get("sku"))
        compare_at = None
        if body.get("compare_at_cents") is not None:
            compare_at = money_field("compare_at_cents", body["compare_at_cents"], low=price)
        owner = None
        consignor = body.get("consignor")
        if consignor is not None:
            if not isinstance(consignor, str):
                raise invalid_field("consignor", "must be a username or null")
            owner = await self._accounts.find(consignor)
            if owner is None:
                raise invalid_field("consignor", f"no user {consignor!r}")
            if same_user(owner, stream.host):
                # The host's own items need no consignor: it would only mislabel shipments.
                raise invalid_field("consignor", "must be someone other than the host")
        description = body.get("description")
        listing = Listing(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            title=text_field("title", body.get("title"), min_len=1, max_len=TITLE_MAX),
            description=text_field(
                "description",
                "" if description is None else description,
                min_len=0,
                max_len=DESCRIPTION_MAX,
                multiline=True,
            ),
            price_cents=price,
            currency=_currency(body.get("currency")),
            quantity=count,
            remaining=count,
            consignor=owner,
            status="active",
            compare_at_cents=compare_at,
            created_at=utc_now(),
            format=form,
            sku=sku,
            per_buyer_limit=_optional_int(
                "per_buyer_limit", body.get("per_buyer_limit"), 1, QUANTITY_MAX
            ),
            daily_cap=_optional_int("daily_cap", body.get("daily_cap"), 1, QUANTITY_MAX),
            increment_cents=money_field(
                "increment_cents", body.get("increment_cents", INCREMENT_DEFAULT), low=1
            ),
            auction_seconds=int_field(
                "auction_seconds",
                body.get("auction_seconds", AUCTION_SECONDS_DEFAULT),
                low=self.auction_seconds[0],
                high=self.auction_seconds[1],
            ),
            sudden_death=_bool("sudden_death", body.get("sudden_death")),
        )
        if compare_at is not None and (
            sku is None
            or not await self._sales.compare_at_backed(
                stream.host, sku, compare_at, utc_now() - COMPARE_AT_WINDOW
            )
        ):
            raise bad_request(
                "a compare-at price needs a sale of the same sku at that price in the last 30 days",
                "compare_at_unbacked",
            )
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        await self._store.insert_listing(listing)
        await self._events.publish(ListingCreated(listing))
        return listing

    async def listings(self, stream_id: str) -> list[Listing]:
        """Every listing of the stream, oldest first (anyone; 404 for an unknown stream)."""
        await self._streams.get(stream_id)
        return await self._store.stream_listings(stream_id)

    async def _on_air(self, listing_id: str, user: str) -> tuple[Listing, Stream]:
        """The listing and its stream, for the host or seated cohost of a stream not ended."""
        listing = await self.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        require_role(stream, user, "host", "cohost")
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        return listing, stream

    async def present(self, listing_id: str, user: str) -> Listing:
        """Put the listing on air (host or seated cohost); everyone in the stream hears it.
        Another item went on less than `min_present_seconds` ago: 409 `present_too_soon`."""
        listing, stream = await self._on_air(listing_id, user)
        if not await self._sales.take_stage(stream.id, listing.id, now_ms(), self._min_present_ms):
            raise conflict("present_too_soon", "keep the current item on stage a little longer")
        await self._events.publish(ListingPresented(listing))
        return listing

    async def flash(
        self, listing_id: str, user: str, price_cents: object, seconds: object
    ) -> Listing:
        """Start a flash sale on a buy-now listing (host or cohost, stream live)."""
        listing, stream = await self._on_air(listing_id, user)
        price = money_field("price_cents", price_cents)
        duration = int_field("seconds", seconds, low=FLASH_SECONDS[0], high=FLASH_SECONDS[1])
        if price >= listing.price_cents:
            raise invalid_field("price_cents", "a flash price must be below the listing's price")
        if stream.status != "live":
            raise conflict("stream_not_live", "flash sales run while the stream is live")
        if listing.format != "buy_now":
            raise conflict("not_buy_now", "flash sales are for buy-now items")
        if listing.status != "active":
            code = "sold_out" if listing.status == "sold_out" else "listing_closed"
            raise conflict(code, f"the listing is {listing.status.replace('_', ' ')}")
        updated = await self._sales.set_flash(listing.id, price, now_ms() + duration * 1000)
        await self._events.publish(ListingUpdated(updated))
        return updated

    async def update_listing(self, listing_id: str, user: str, body: dict[str, Any]) -> Listing:
        """Change a listing (host only, stream not ended): `quantity`, the new total
        (at least what was sold; an auction's stays 1). Raising it restocks."""
        listing = await self.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        require_role(stream, user, "host")
        high = 1 if listing.format == "auction" else QUANTITY_MAX
        count = int_field("quantity", body.get("quantity"), low=1, high=high)
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        updated = await self._sales.set_quantity(listing.id, count)
        self._stock_left(updated)
        await self._events.publish(ListingUpdated(updated))
        return updated

    async def end_due_flashes(self, at_ms: int) -> None:
        """Announce every flash sale that is over (called by the selling clock)."""
        for listing in await self._sales.end_due_flashes(at_ms):
            await self._events.publish(ListingUpdated(listing))

    async def buy(
        self,
        listing_id: str,
        user: str,
        quantity: object = None,
        discount_code: object = None,
        quote: bool = False,
    ) -> Order:
        """Buy `quantity` (default 1) of an active buy-now listing of a live stream.

        403 for the host and cohost; 400 `invalid_field`, `invalid_code`,
        `code_not_applicable`; 409 `stream_not_live`, `listing_closed`, `sold_out`,
        `buyer_limit_reached`, `daily_cap_reached`, `code_inactive`, `code_exhausted`,
        `code_limit_reached`. A refusal changes nothing. With `quote`, the order it
        would make now (price, discount, total) and nothing else.
        """
        found = await self._store.listing_on_stream(listing_id)
        if found is None:
            raise not_found(f"no listing {listing_id!r}", "listing_not_found")
        listing, stream = found
        require_role(stream, user, "viewer")
        count = (
            1 if quantity is None else int_field("quantity", quantity, low=1, high=listing.quantity)
        )
        code = None if discount_code in (None, "") else code_text("discount_code", discount_code)
        # This process's buyers of it, one at a time; the buyers ahead may have taken
        # what was left: no transaction to learn it.
        line = self._lines[listing.id]
        await line.turn(lambda: self._refuse_if_short(listing, stream, user, count, code))
        try:
            sold, order = await self._sales.sell(
                listing.id,
                user,
                code,
                lambda facts: judge_sale(facts, user, count, code, now_ms()),
                dry_run=quote,
            )
        except BaseException:
            line.done(sold_out=False)
            raise
        line.done(sold_out=self._stock_left(sold) == 0)
        if quote:
            return order
        await self._events.publish(ListingUpdated(sold))
        await self._events.publish(OrderPlaced(order))
        return order

    def _refuse_if_short(
        self, listing: Listing, stream: Stream, user: str, count: int, code: str | None
    ) -> None:
        """Refuse a buy the stock seen here cannot serve, without a write transaction:
        a rush's losers need not queue for the database behind its winners. The judge
        gives the refusal, in its own order (a code's refusals come first: with a code
        the database judges)."""
        left = self._stock_left(listing)
        if code is None and left < count:
            facts = SaleFacts(
                self._with_stock(listing, left), stream.status, stream.host, 0, 0, None, 0
            )
            judge_sale(facts, user, count, None, now_ms())

    def _with_stock(self, listing: Listing, left: int) -> Listing:
        """`listing` with `left` as its stock. A rush's losers share one read listing
        (the batched read), so they share its copy too: dataclasses.replace costs more
        than the rest of a refusal."""
        if listing.remaining == left:
            return listing
        made = self._stock_views.get(listing.id)
        if made is None or made[0] is not listing or made[1].remaining != left:
            made = (listing, replace(listing, remaining=left))
            self._stock_views[listing.id] = made
        return made[1]

    def _stock_left(self, listing: Listing) -> int:
        """The least stock this process knows `listing` may have, `listing` included.

        Within one `stock_epoch` stock only goes down, so the least `remaining` seen in
        the newest epoch is an upper bound of it everywhere; a restock starts a new
        epoch, which replaces what was seen before (whatever order the reads, sales
        and events arrive in). Every buy reads the listing, so a restock made by
        another process is seen here by the next buy, with or without Redis."""
        seen = self._stock_at_most.get(listing.id)
        if seen is None or listing.stock_epoch > seen[0]:
            seen = (listing.stock_epoch, listing.remaining)
        elif listing.stock_epoch == seen[0]:
            seen = (seen[0], min(seen[1], listing.remaining))
        self._stock_at_most[listing.id] = seen
        return seen[1]

    async def orders(self, stream_id: str, user: str) -> list[Order]:
        """The stream's orders, oldest first (host only)."""
        stream: Stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return await self._store.stream_orders(stream_id)

    async def listings_page(
        self, stream_id: str, after: object, limit: object
    ) -> tuple[list[Listing], bool]:
        """Up to `limit` (1-LISTINGS_PAGE_MAX) listings after the listing `after` (None:
        from the first), oldest first, and whether more follow."""
        assert self._pages is not None
        await self._streams.get(stream_id)
        count = int_field("limit", limit, low=1, high=LISTINGS_PAGE_MAX)
        after_seq = 0
        if after is not None:
            if not isinstance(after, str) or not 1 <= len(after) <= 64:
                raise invalid_field("after", "must be a listing id")
            found = await self._pages.seq_of(stream_id, after)
            if found is None:
                raise invalid_field("after", f"no listing {after!r} in this stream")
            after_seq = found
        return await self._pages.page(stream_id, after_seq, count)

    async def newest_listings(self, stream_id: str, limit: int) -> tuple[list[Listing], bool]:
        """The newest `limit` listings, oldest first, and whether older ones exist."""
        assert self._pages is not None
        return await self._pages.newest(stream_id, limit)
