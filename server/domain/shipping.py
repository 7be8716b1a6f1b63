"""Shipping: bundles of orders (shipments), labels, and the documents the host sends.

Every order belongs to the host, but a cohost's (consignor's) items ship from the
consignor: a shipment groups one buyer's orders in one stream from one sender (the
host, or one consignor) and never mixes senders. The host may split a bundle until
its label exists. Every label's `from` is the host's return address, whoever ships,
so returns always reach the host.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from server.domain.errors import conflict, invalid_field, not_found
from server.domain.profile import Address
from server.domain.streams import Stream, StreamService, require_role, same_user
from server.domain.times import format_time, utc_now

SKIP_BUYER_ADDRESS = "buyer_address_missing"
SPLIT_MAX_ORDERS = 1000


def new_tracking_number() -> str:
    """An unguessable tracking number, Code128-friendly (letters and digits)."""
    return f"CS{secrets.randbelow(10**16):016d}"


@dataclass(frozen=True)
class Label:
    """A shipping label for one shipment; addresses as they were when it was made."""

    id: str
    shipment_id: str
    stream_id: str
    buyer: str
    tracking: str
    from_address: Address
    to_address: Address
    consignor: str | None
    created_at: datetime
    sent_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `label` object (plus stream_id, buyer, created_at, sent_at)."""
        return {
            "id": self.id,
            "shipment_id": self.shipment_id,
            "stream_id": self.stream_id,
            "buyer": self.buyer,
            "tracking": self.tracking,
            "from": self.from_address.to_dict(),
            "to": self.to_address.to_dict(),
            "consignor": self.consignor,
            "created_at": format_time(self.created_at),
            "sent_at": format_time(self.sent_at),
        }


@dataclass(frozen=True)
class Shipment:
    """One buyer's orders in one stream that ship together from one sender."""

    id: str
    stream_id: str
    buyer: str
    order_ids: tuple[str, ...]
    consignor: str | None
    label: Label | None

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `shipment` object."""
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "buyer": self.buyer,
            "order_ids": list(self.order_ids),
            "consignor": self.consignor,
            "label": None if self.label is None else self.label.to_dict(),
        }


@dataclass(frozen=True)
class LabelLine:
    """One order printed on a label."""

    order_id: str
    title: str
    quantity: int


@dataclass(frozen=True)
class PrintedLabel:
    """What a label document shows: the label and the orders in its parcel."""

    label: Label
    lines: tuple[LabelLine, ...]


SplitOutcome = Literal["ok", "not_found", "label_exists", "bad_orders"]


class ShippingStore(Protocol):
    """What shipping needs from storage. Every call first files the stream's new orders
    into shipments (one per buyer and sender, the oldest unlabelled one)."""

    async def shipments(self, stream_id: str) -> list[Shipment]: ...

    async def shipment_stream(self, shipment_id: str) -> str | None:
        """The stream a shipment belongs to, None when unknown."""
        ...

    async def split(
        self, shipment_id: str, order_ids: list[str], new_id: str
    ) -> tuple[SplitOutcome, list[Shipment]]:
        """Move `order_ids` (a strict subset of the shipment's) to a new shipment, in one
        transaction; ("ok", [old, new]) or the refusal and []."""
        ...

    async def create_labels(
        self, stream_id: str, sender: Address, now: datetime
    ) -> tuple[list[Label], list[str]]:
        """Labels for every unlabelled shipment whose buyer has an address; returns the
        new labels and the ids of the shipments skipped for lack of one."""
        ...

    async def labels(self, stream_id: str, consignor: str | None) -> list[PrintedLabel]:
        """The stream's labels (only that consignor's when given) with their lines."""
        ...

    async def mark_sent(self, label_ids: list[str], at: datetime) -> None: ...

    async def order_rows(
        self, *, stream_id: str | None = None, buyer: str | None = None
    ) -> list[dict[str, Any]]:
        """One stream's (or one buyer's) orders, oldest first, with their item title,
        stream title, discount, shipment id and label (`{"id", "tracking", "sent_at"}`)."""
        ...


class AddressBook(Protocol):
    async def address(self, user: str) -> Address | None: ...

    async def email(self, user: str) -> str | None: ...


class UserFinder(Protocol):
    async def find(self, username: str) -> str | None: ...


class Mailer(Protocol):
    async def send(
        self, to: str, subject: str, text: str, attachments: list[tuple[str, str, bytes]]
    ) -> None:
        """Deliver or raise 502 `mail_failed`."""
        ...


class Documents(Protocol):
    def pdf(self, labels: list[PrintedLabel], title: str) -> bytes: ...

    def csv(self, labels: list[PrintedLabel]) -> str: ...


class ShippingService:
    """The host's side of fulfilment: bundles, labels, documents, mailing a consignor."""

    def __init__(
        self,
        store: ShippingStore,
        streams: StreamService,
        addresses: AddressBook,
        accounts: UserFinder,
        documents: Documents,
        mailer: Mailer,
    ) -> None:
        self._store = store
        self._streams = streams
        self._addresses = addresses
        self._accounts = accounts
        self._documents = documents
        self._mailer = mailer

    async def _hosted(self, stream_id: str, user: str) -> Stream:
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return stream

    async def shipments(self, stream_id: str, user: str) -> list[Shipment]:
        """The stream's shipments, oldest first (host only)."""
        await self._hosted(stream_id, user)
        return await self._store.shipments(stream_id)

    async def split(self, shipment_id: str, user: str, order_ids: object) -> list[Shipment]:
        """Take `order_ids` out of a bundle into a new shipment: [old, new] (host only).

        404 `shipment_not_found`; 409 `label_exists`; 400 `invalid_field` unless the ids
        are some (not all) of the shipment's orders.
        """
        stream_id = await self._store.shipment_stream(shipment_id)
        if stream_id is None:
            raise not_found(f"no shipment {shipment_id!r}", "shipment_not_found")
        await self._hosted(stream_id, user)
        if (
            not isinstance(order_ids, list)
            or not 1 <= len(order_ids) <= SPLIT_MAX_ORDERS
            or not all(isinstance(order_id, str) for order_id in order_ids)
        ):
            raise invalid_field("order_ids", "must be a non-empty list of order ids")
        outcome, shipments = await self._store.split(
            shipment_id, list(dict.fromkeys(order_ids)), secrets.token_urlsafe(9)
        )
        if outcome == "label_exists":
            raise conflict("label_exists", "the shipment already has a label; it cannot split")
        if outcome == "bad_orders":
            raise invalid_field(
                "order_ids", "must be some, not all, of the orders in this shipment"
            )
        if outcome == "not_found":
            raise not_found(f"no shipment {shipment_id!r}", "shipment_not_found")
        return shipments

    async def overview(
        self, stream_id: str, user: str
    ) -> tuple[list[Shipment], list[dict[str, Any]]]:
        """The host's orders page: shipments and orders with their shipping state."""
        await self._hosted(stream_id, user)
        shipments = await self._store.shipments(stream_id)
        return shipments, await self._store.order_rows(stream_id=stream_id)

    async def my_orders(self, user: str) -> list[dict[str, Any]]:
        """A buyer's orders across streams, oldest first, with their shipping state."""
        return await self._store.order_rows(buyer=user)

    async def create_labels(self, stream_id: str, user: str) -> tuple[list[Label], list[str]]:
        """Make the missing labels (host only): (new labels, skipped shipment ids).

        409 `address_missing` while the host has no return address.
        """
        stream = await self._hosted(stream_id, user)
        sender = await self._addresses.address(stream.host)
        if sender is None:
            raise conflict("address_missing", "add your return address before making labels")
        return await self._store.create_labels(stream_id, sender, utc_now())

    async def _consignor(self, value: object) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise invalid_field("consignor", "must be a username")
        found = await self._accounts.find(value)
        if found is None:
            raise invalid_field("consignor", f"no user {value!r}")
        return found

    async def _printed(
        self, stream_id: str, user: str, consignor: object
    ) -> tuple[Stream, str | None, list[PrintedLabel]]:
        """(stream, consignor's canonical name or None, their labels or all) for the host."""
        stream = await self._hosted(stream_id, user)
        name = await self._consignor(consignor)
        return stream, name, await self._store.labels(stream_id, name)

    async def labels_pdf(self, stream_id: str, user: str, consignor: object = None) -> bytes:
        """One 4x6 in page per label (host only); rendered off the event loop."""
        stream, _, printed = await self._printed(stream_id, user, consignor)
        return await asyncio.to_thread(self._documents.pdf, printed, stream.title)

    async def labels_csv(self, stream_id: str, user: str, consignor: object = None) -> str:
        """One row per label (host only)."""
        _, _, printed = await self._printed(stream_id, user, consignor)
        return self._documents.csv(printed)

    async def send_labels(self, stream_id: str, user: str, consignor: object) -> str:
        """Email a consignor their labels (PDF and CSV attached); returns the address.

        400 `invalid_field` (no such consignor), 409 `email_missing`, 409 `no_labels`,
        502 `mail_failed` (and then no label is marked sent).
        """
        stream, name, printed = await self._printed(stream_id, user, consignor)
        if name is None:
            raise invalid_field("consignor", "name the consignor to send labels to")
        if same_user(name, stream.host):
            raise invalid_field("consignor", "the host's own items have no consignor")
        email = await self._addresses.email(name)
        if email is None:
            raise conflict("email_missing", f"@{name} has no email address yet")
        if not printed:
            raise conflict("no_labels", f"no labels for @{name}'s items yet; create labels first")
        pdf = await asyncio.to_thread(self._documents.pdf, printed, stream.title)
        csv_text = self._documents.csv(printed)
        # A refusal raises 502 `mail_failed` here, before anything is marked sent.
        await self._mailer.send(
            email,
            f"Shipping labels for {stream.title}",
            _cover_letter(stream, name, len(printed)),
            [
                (f"labels-{stream.id}-{name}.pdf", "application/pdf", pdf),
                (f"labels-{stream.id}-{name}.csv", "text/csv", csv_text.encode("utf-8")),
            ],
        )
        await self._store.mark_sent([p.label.id for p in printed], utc_now())
        return email


def _cover_letter(stream: Stream, consignor: str, count: int) -> str:
    noun = "label" if count == 1 else "labels"
    return (
        f"Hello @{consignor},\n\n"
        f'@{stream.host} sold your items in the show "{stream.title}".\n'
        f"Attached: {count} shipping {noun} (PDF, one 4x6 in page each) and the same list "
        f"as CSV.\n\n"
        f"Ship each parcel with its label so tracking works. Every label carries "
        f"@{stream.host}'s return address: returned parcels go to the host.\n"
    )
