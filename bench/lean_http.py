"""A lean HTTP/1.1 client for benches: one connection on a bare asyncio Protocol.

Still real HTTP against the real server: every request carries Host, its headers and a
Content-Length body, and every answer's status line, headers and body (by its
Content-Length, or up to the server's close) are parsed before the request counts as
answered; requests on one connection go one after another (keep-alive). What it saves
is a general client's per-connection and per-request machinery (aiohttp's connector,
its response objects and tasks), so that buyers sharing the server's two cores take as
little of them as they can (bench/buy.py; bench/lean_client.py does the same for
Socket.IO).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class HttpAnswer:
    """A parsed answer: status, headers (lower-case names) and body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


class LeanHttp(asyncio.Protocol):
    """One HTTP/1.1 connection: `connect`, then `request` (one at a time), `close`."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._authority = f"{self._host}:{self._port}".encode()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._answer: asyncio.Future[HttpAnswer] | None = None
        self._head: tuple[int, dict[str, str]] | None = None  # of the answer being read
        self._length: int | None = None  # its body's, None: up to the close

    async def connect(self) -> None:
        await asyncio.get_running_loop().create_connection(lambda: self, self._host, self._port)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> HttpAnswer:
        """Send one request and wait for its whole answer."""
        assert self._transport is not None and self._answer is None, "one request at a time"
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._authority]
        lines += [f"{name}: {value}".encode() for name, value in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(b"Content-Length: %d" % len(body))
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        try:
            return await asyncio.wait_for(self._answer, 30)
        finally:
            self._answer = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            del self._buffer[: end + 4]
            version, status, _ = (lines[0] + " ").split(" ", 2)
            if not version.startswith("HTTP/1."):
                self._fail(ConnectionError(f"not an HTTP/1.x answer: {lines[0]!r}"))
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", ""):
                self._fail(ConnectionError("chunked answers are not supported"))
                return
            length = headers.get("content-length")
            self._head = int(status), headers
            self._length = None if length is None else int(length)
        if self._length is not None and len(self._buffer) >= self._length:
            self._finish(self._length)

    def eof_received(self) -> bool | None:
        if self._head is not None and self._length is None:  # the body ran to the close
            self._finish(len(self._buffer))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("the server closed the connection"))

    def _finish(self, size: int) -> None:
        assert self._head is not None
        status, headers = self._head
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._head = self._length = None
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(HttpAnswer(status, headers, body))

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        if self._transport is not None:
            self._transport.close()
