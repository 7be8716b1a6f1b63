"""A lean Socket.IO client for benches: Engine.IO v4 / Socket.IO v5 over a websocket
spoken straight on an asyncio protocol (no aiohttp, no task per connection).

It is still the real protocol against the real server: an HTTP/1.1 upgrade checked
against `Sec-WebSocket-Accept`, client frames masked with a random key per
connection, Engine.IO pings answered, every ack matched to its call and decoded. What
it saves is the per-message machinery of a general client, so that bidders on the
same two cores as the server take as little of them as they can (bench/auction.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
TEXT, CLOSE = 0x1, 0x8


class LeanClient(asyncio.Protocol):
    """One Socket.IO connection: `connect`, `call` (returns the ack), `on_event`."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._handshake: asyncio.Future[None] | None = None
        self._key = base64.b64encode(os.urandom(16))
        self._mask = os.urandom(4)
        self._packets: asyncio.Queue[str] = asyncio.Queue()  # until connected
        self._connected = False
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 0
        self.closed: asyncio.Future[None] | None = None
        # Server events (raw `42[...]` packets) go here once connected.
        self.on_event: Callable[[str], None] | None = None

    async def connect(self, token: str | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._handshake = loop.create_future()
        self.closed = loop.create_future()
        await loop.create_connection(lambda: self, self._host, self._port)
        request = (
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {self._host}:{self._port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert self._transport is not None
        self._transport.write(request.encode())
        await asyncio.wait_for(self._handshake, 10)
        opened = await asyncio.wait_for(self._packets.get(), 10)
        assert opened.startswith("0"), opened
        self.send("40" + json.dumps({"token": token} if token else {}))
        connected = await asyncio.wait_for(self._packets.get(), 10)
        assert connected.startswith("40"), connected
        self._connected = True

    def send(self, text: str) -> None:
        """One masked text frame."""
        payload = text.encode()
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | TEXT, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x80 | TEXT, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | TEXT, 0x80 | 127, size)
        key = self._mask * (size // 4 + 1)
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key[:size], "big")).to_bytes(
            size, "big"
        )
        assert self._transport is not None
        self._transport.write(header + self._mask + masked)

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        """Emit `event` with an ack id; the ack's first argument."""
        self._next_ack += 1
        ack_id = self._next_ack
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        self.send(f"42{ack_id}" + json.dumps([event, payload]))
        return await asyncio.wait_for(future, 30)

    async def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
        if self.closed is not None:
            await asyncio.wait_for(asyncio.shield(self.closed), 10)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self._handshake, *self._acks.values()):
            if future is not None and not future.done():
                future.set_exception(ConnectionError("the server closed the connection"))
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._handshake is not None and not self._handshake.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[: end + 4]
            accept = base64.b64encode(hashlib.sha1(self._key + WS_GUID).digest()).decode()
            if not head.startswith("HTTP/1.1 101") or accept not in head:
                self._handshake.set_exception(ConnectionError(f"no websocket: {head!r}"))
                return
            self._handshake.set_result(None)
        self._frames()

    def _frames(self) -> None:
        """Every complete (unmasked, unfragmented) server frame in the buffer."""
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            size, offset = second & 0x7F, start + 2
            if size == 126:
                if len(buffer) - offset < 2:
                    break
                (size,) = struct.unpack_from("!H", buffer, offset)
                offset += 2
            elif size == 127:
                if len(buffer) - offset < 8:
                    break
                (size,) = struct.unpack_from("!Q", buffer, offset)
                offset += 8
            if len(buffer) - offset < size:
                break
            opcode = first & 0x0F
            assert first & 0x80 and not second & 0x80, "fragmented or masked server frame"
            if opcode == TEXT:
                self._packet(buffer[offset : offset + size].decode())
            elif opcode == CLOSE and self._transport is not None:
                self._transport.close()
            start = offset + size
        del buffer[:start]

    def _packet(self, data: str) -> None:
        """One Engine.IO packet: answer pings, resolve acks, pass events on."""
        if data == "2":
            self.send("3")
        elif not self._connected:
            self._packets.put_nowait(data)
        elif data.startswith("43"):
            body = data.index("[")
            future = self._acks.pop(int(data[2:body]), None)
            if future is not None and not future.done():
                future.set_result(json.loads(data[body:])[0])
        elif data.startswith("42") and self.on_event is not None:
            self.on_event(data)
