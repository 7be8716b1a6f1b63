"""After the sale: a finished co-hosted show with orders, a real local SMTP server, and
reading label PDFs back."""

from __future__ import annotations

import email
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from pypdf import PdfReader

from tests.helpers.api import Api
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Connect

HOST_ADDRESS = {
    "name": "Hostess Returns Desk",
    "line1": "1 Return Road",
    "city": "Lyon",
    "postal_code": "69001",
    "country": "FR",
}
CAROL_ADDRESS = {
    "name": "Carol Buyer",
    "line1": "22 Parcel Street",
    "line2": "Flat 3",
    "city": "Bristol",
    "region": "Avon",
    "postal_code": "BS1 4DJ",
    "country": "GB",
}
DAVE_ADDRESS = {
    "name": "Dave Buyer",
    "line1": "5 Rue des Colis",
    "city": "Paris",
    "postal_code": "75002",
    "country": "FR",
}
# name -> (price_cents, consignor)
ITEMS = {
    "Red sneakers": (5000, None),
    "Denim jacket": (3000, None),
    "Vintage camera": (12000, "bob"),
    "Film roll": (800, "bob"),
}
# buyer -> items bought (one each)
PURCHASES = {
    "carol": ["Red sneakers", "Denim jacket", "Vintage camera", "Film roll"],
    "dave": ["Film roll", "Red sneakers"],
    "eve": ["Denim jacket"],  # eve never gives an address
}


@dataclass
class SoldShow:
    """A live show hosted by `hostess` with `bob` seated as cohost (and consignor of two
    items), and orders by carol, dave and eve. Nobody has an address yet."""

    server: RunningServer
    api: Api
    stream_id: str
    tokens: dict[str, str]
    listings: dict[str, str] = field(default_factory=dict)  # title -> id
    orders: list[dict[str, Any]] = field(default_factory=list)

    async def call(
        self, method: str, path: str, user: str | None, json: Any = None
    ) -> tuple[int, Any]:
        return await self.api.request(
            method, path, token=self.tokens[user] if user else None, json=json
        )

    async def ok(self, method: str, path: str, user: str, json: Any = None, status: int = 200):
        got, body = await self.call(method, path, user, json)
        assert got == status, (method, path, got, body)
        return body

    async def raw(self, path: str, user: str) -> tuple[int, str, bytes]:
        """(status, content type, body bytes) of a GET (for the PDF and CSV)."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        async with self.api.session.get(self.api.base_url + path, headers=headers) as response:
            return response.status, response.content_type, await response.read()

    def path(self, suffix: str) -> str:
        return f"/api/streams/{self.stream_id}/{suffix}"

    def total(self) -> int:
        return sum(order["total_cents"] for order in self.orders)


async def sell_cohosted_show(server: RunningServer, api: Api, connect: Connect) -> SoldShow:
    """Seat bob through the real invite flow, list host and consignor items, sell them."""
    names = ("hostess", "bob", "carol", "dave", "eve")
    tokens = {name: await add_user(server, name) for name in names}
    stream = await api.create_stream(tokens["hostess"], title="Co-hosted drop")
    show = SoldShow(server, api, stream["id"], tokens)
    await api.start(tokens["hostess"], show.stream_id)
    host = await connect(server.url, tokens["hostess"], "hostess")
    bob = await connect(server.url, tokens["bob"], "bob")
    for client in (host, bob):
        await client.ok("join", {"stream_id": show.stream_id})
    invite = (await host.ok("cohost:invite", {"username": "bob"}))["invite"]
    await bob.ok("cohost:respond", {"invite_id": invite["id"], "accept": True})
    for title, (price, consignor) in ITEMS.items():
        body = {"title": title, "price_cents": price, "quantity": 10, "consignor": consignor}
        listing = await show.ok("POST", show.path("listings"), "hostess", body, status=201)
        show.listings[title] = listing["listing"]["id"]
    for buyer, titles in PURCHASES.items():
        for title in titles:
            path = f"/api/listings/{show.listings[title]}/buy"
            show.orders.append((await show.ok("POST", path, buyer, status=201))["order"])
    return show


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of a PDF."""
    reader = PdfReader(io.BytesIO(data))
    return [page.extract_text() or "" for page in reader.pages]


def pdf_page_sizes(data: bytes) -> list[tuple[float, float]]:
    reader = PdfReader(io.BytesIO(data))
    return [(float(page.mediabox.width), float(page.mediabox.height)) for page in reader.pages]


class Inbox:
    """An aiosmtpd handler that keeps every message (or refuses every recipient)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.refuse = False
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return "550 5.7.1 relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd, its own thread) on 127.0.0.1:`port`."""
    inbox = Inbox(port)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """filename -> (content type, bytes)."""
    return {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    }
