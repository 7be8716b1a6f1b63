"""Show lifecycle fixtures: users on a real server, pictures, a local SMTP server, Redis."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from PIL import Image

from tests.helpers.api import Api
from tests.helpers.cluster import free_port
from tests.helpers.server import RunningServer, add_user
from tests.realtime.conftest import redis_server  # noqa: F401  (one Redis per session)


def picture(fmt: str, size: tuple[int, int] = (320, 180), color=(200, 40, 90)) -> bytes:
    """A small picture in `fmt` (JPEG, PNG, WEBP) with metadata a cover must lose."""
    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    extra: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        exif = Image.Exif()
        exif[0x010E] = "secret description"  # ImageDescription
        exif[0x8298] = "Copyright Someone"
        extra["exif"] = exif.tobytes()
    image.save(out, fmt, **extra)
    return out.getvalue()


@dataclass
class Users:
    """Signed-in users of one server: `tokens[name]`, and REST calls as them."""

    server: RunningServer
    api: Api
    tokens: dict[str, str] = field(default_factory=dict)

    async def add(self, *names: str) -> None:
        for name in names:
            self.tokens[name] = await add_user(self.server, name)

    async def call(
        self, method: str, path: str, user: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        token = self.tokens[user] if user else None
        return await self.api.request(method, path, token=token, **kwargs)

    async def ok(self, method: str, path: str, user: str | None = None, **kwargs: Any) -> Any:
        status, body = await self.call(method, path, user, **kwargs)
        assert status == 200, f"{method} {path} as {user}: {status} {body}"
        return body

    async def fails(
        self, method: str, path: str, user: str | None, status: int, code: str, **kwargs: Any
    ) -> None:
        got, body = await self.call(method, path, user, **kwargs)
        assert (got, body["error"]["code"]) == (status, code), f"{method} {path}: {got} {body}"

    async def show(self, host: str = "hostess", **fields: Any) -> dict[str, Any]:
        return await self.api.create_stream(self.tokens[host], **fields)


@pytest.fixture
async def users(server: RunningServer, api: Api) -> Users:
    people = Users(server, api)
    await people.add("hostess", "bob", "carol", "dave")
    return people


class Inbox:
    """aiosmtpd handler: keeps every message delivered to it (from the SMTP thread)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.changed = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd API)
        message = message_from_bytes(envelope.content)
        message["X-Rcpt"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        # aiosmtpd runs its own loop on a thread: wake the test's loop safely.
        self.loop.call_soon_threadsafe(self.changed.set)
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 10) -> list[Message]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.messages


@pytest.fixture
async def smtp() -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server on 127.0.0.1: (inbox, port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    yield inbox, port
    await asyncio.to_thread(controller.stop)
