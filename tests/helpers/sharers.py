"""Sharers: a show with a commission, viewers joining through links, buying."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.helpers.after_sale import SoldShow
from tests.helpers.api import Api
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Client, Connect


class Show(SoldShow):
    """A show hosted by `hostess`; every named user has an account and a token."""

    @property
    def stream_path(self) -> str:
        return f"/api/streams/{self.stream_id}"

    async def set_percent(self, percent: int) -> dict[str, Any]:
        body = {"sharer_commission_percent": percent}
        stream = (await self.ok("PATCH", self.stream_path, "hostess", body))["stream"]
        assert stream["sharer_commission_percent"] == percent
        return stream

    async def listing(self, title: str, price_cents: int, quantity: int = 100) -> str:
        body = {"title": title, "price_cents": price_cents, "quantity": quantity}
        listing = await self.ok("POST", self.path("listings"), "hostess", body, status=201)
        self.listings[title] = listing["listing"]["id"]
        return listing["listing"]["id"]

    async def viewer(self, connect: Connect, name: str | None) -> Client:
        """A Socket.IO connection as `name` (None: anonymous)."""
        token = self.tokens[name] if name else None
        return await connect(self.server.url, token, name or "anonymous")

    async def join(self, client: Client, ref: object) -> dict[str, Any]:
        """Join with `ref` (None: no ref at all); the ack's referral part."""
        payload = {"stream_id": self.stream_id}
        if ref is not None:
            payload["ref"] = ref
        ack = await client.ok("join", payload)
        return {"ref": ack["ref"], "referrer": ack["referrer"]}

    async def seat_cohost(self, connect: Connect, name: str) -> None:
        """Seat `name` through the real invite flow."""
        host = await self.viewer(connect, "hostess")
        guest = await self.viewer(connect, name)
        for client in (host, guest):
            await client.ok("join", {"stream_id": self.stream_id})
        invite = (await host.ok("cohost:invite", {"username": name}))["invite"]
        await guest.ok("cohost:respond", {"invite_id": invite["id"], "accept": True})

    async def buy(self, buyer: str, listing_id: str, quantity: int = 1) -> dict[str, Any]:
        path = f"/api/listings/{listing_id}/buy"
        order = (await self.ok("POST", path, buyer, {"quantity": quantity}, status=201))["order"]
        self.orders.append(order)
        return order


async def open_show(server: RunningServer, api: Api, names: Iterable[str]) -> Show:
    """A scheduled show by `hostess` (who must be among `names`)."""
    tokens = {name: await add_user(server, name) for name in names}
    stream = await api.create_stream(tokens["hostess"], title="Shared drop")
    return Show(server, api, stream["id"], tokens)
