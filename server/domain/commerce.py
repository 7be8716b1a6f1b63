"""Live commerce: the host's listings, presenting them on air, and buying with exact stock.

Orders, money and the duty to ship always stay with the host (the seller); a
`consignor` only marks an item that belongs to someone else (the cohost) but is
sold through the host's listing. Stock is taken by one guarded UPDATE inside the
transaction that records the order, so no concurrency can oversell.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from server.domain.errors import conflict, invalid_field, not_found
from server.domain.streams import Stream, StreamService, require_role, same_user
from server.domain.times import format_time, utc_now
from server.domain.validation import int_field, money_field, order_total, text_field
from server.events import EventBus, ListingCreated, ListingPresented, ListingUpdated, OrderPlaced

ListingStatus = Literal["active", "sold_out", "closed"]

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

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `listing` object (plus the `compare_at_cents` extension)."""
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
        }


@dataclass(frozen=True)
class Order:
    """One purchase; the seller is always the stream's host."""

    id: str
    stream_id: str
    listing_id: str
    buyer: str
    seller: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    currency: str
    consignor: str | None
    created_at: datetime

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
        }


class CommerceStore(Protocol):
    """What commerce needs from storage."""

    async def insert_listing(self, listing: Listing) -> None: ...

    async def get_listing(self, listing_id: str) -> Listing | None: ...

    async def stream_listings(self, stream_id: str) -> list[Listing]:
        """A stream's listings, oldest first."""
        ...

    async def sell(self, order: Order) -> Listing | None:
        """Atomically take `order.quantity` from an active listing of a live stream and
        record the order; the listing afterwards, or None when nothing was sold."""
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


class UserFinder(Protocol):
    async def find(self, username: str) -> str | None:
        """The canonical spelling of an existing username, else None."""
        ...


def _currency(value: object) -> str:
    if value is None:
        return DEFAULT_CURRENCY
    if not isinstance(value, str) or not CURRENCY_RE.fullmatch(value):
        raise invalid_field("currency", "must be 3 uppercase letters (ISO 4217, e.g. USD)")
    return value


class CommerceService:
    """Listing, presenting and buying; publishes listing and order events on the bus."""

    def __init__(
        self,
        store: CommerceStore,
        streams: StreamService,
        accounts: UserFinder,
        events: EventBus,
        pages: ListingPages | None = None,
    ) -> None:
        self._store = store
        self._pages = pages
        self._streams = streams
        self._accounts = accounts
        self._events = events

    async def get(self, listing_id: str) -> Listing:
        """The listing, or 404 `listing_not_found`."""
        listing = await self._store.get_listing(listing_id)
        if listing is None:
            raise not_found(f"no listing {listing_id!r}", "listing_not_found")
        return listing

    async def create_listing(
        self,
        stream_id: str,
        user: str,
        title: object,
        price_cents: object,
        quantity: object,
        currency: object = None,
        description: object = None,
        compare_at_cents: object = None,
        consignor: object = None,
    ) -> Listing:
        """A new active listing (host only); 400 `invalid_field`, 409 `stream_ended`."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        price = money_field("price_cents", price_cents)
        compare_at = None
        if compare_at_cents is not None:
            compare_at = money_field("compare_at_cents", compare_at_cents, low=price)
        count = int_field("quantity", quantity, low=1, high=QUANTITY_MAX)
        owner = None
        if consignor is not None:
            if not isinstance(consignor, str):
                raise invalid_field("consignor", "must be a username or null")
            owner = await self._accounts.find(consignor)
            if owner is None:
                raise invalid_field("consignor", f"no user {consignor!r}")
            if same_user(owner, stream.host):
                # The host's own items need no consignor: it would only mislabel shipments.
                raise invalid_field("consignor", "must be someone other than the host")
        listing = Listing(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            title=text_field("title", title, min_len=1, max_len=TITLE_MAX),
            description=text_field(
                "description",
                "" if description is None else description,
                min_len=0,
                max_len=DESCRIPTION_MAX,
                multiline=True,
            ),
            price_cents=price,
            currency=_currency(currency),
            quantity=count,
            remaining=count,
            consignor=owner,
            status="active",
            compare_at_cents=compare_at,
            created_at=utc_now(),
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

    async def present(self, listing_id: str, user: str) -> Listing:
        """Put the listing on air (host or seated cohost); everyone in the stream hears it."""
        listing = await self.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        require_role(stream, user, "host", "cohost")
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        await self._events.publish(ListingPresented(listing))
        return listing

    async def buy(
        self, listing_id: str, user: str, quantity: object = None, discount_code: object = None
    ) -> Order:
        """Buy `quantity` (default 1) of an active listing of a live stream.

        403 for the host and cohost; 400 `invalid_field`; 409 `stream_not_live`,
        `listing_closed` or `sold_out` (also when fewer than `quantity` remain).
        """
        listing = await self.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        require_role(stream, user, "viewer")
        count = (
            1 if quantity is None else int_field("quantity", quantity, low=1, high=listing.quantity)
        )
        if discount_code not in (None, ""):
            if not isinstance(discount_code, str):
                raise invalid_field("discount_code", "must be a string")
            raise invalid_field("discount_code", "unknown discount code")
        order = Order(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            listing_id=listing.id,
            buyer=user,
            seller=stream.host,
            quantity=count,
            unit_price_cents=listing.price_cents,
            total_cents=order_total("quantity", listing.price_cents, count),
            currency=listing.currency,
            consignor=listing.consignor,
            created_at=utc_now(),
        )
        sold = await self._store.sell(order)
        if sold is None:
            raise await self._refusal(listing.id, count)
        await self._events.publish(ListingUpdated(sold))
        await self._events.publish(OrderPlaced(order))
        return order

    async def _refusal(self, listing_id: str, count: int) -> Exception:
        """Why a sale did not happen, judged on the state after the attempt."""
        listing = await self.get(listing_id)
        stream = await self._streams.get(listing.stream_id)
        if stream.status != "live":
            return conflict("stream_not_live", "buying opens when the stream is live")
        if listing.status == "closed":
            return conflict("listing_closed", "the listing is closed")
        if listing.remaining == 0:
            return conflict("sold_out", "the item is sold out")
        return conflict("sold_out", f"only {listing.remaining} left, not {count}")

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
