"""A recording python-socketio client for tests and benchmarks.

Every server event is kept in arrival order; tests wait for one with a bounded
timeout instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import socketio


class Client:
    """One Socket.IO connection (websocket transport) that records what it receives."""

    def __init__(self, url: str, token: str | None = None, name: str = "") -> None:
        self.url = url
        self.token = token
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.log: list[tuple[str, Any]] = []
        self._taken: set[int] = set()
        self._changed = asyncio.Condition()
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)

    async def _record(self, event: str, data: Any = None) -> None:
        async with self._changed:
            self.log.append((event, data))
            self._changed.notify_all()

    async def _refused(self, data: Any = None) -> None:
        await self._record("connect_error", data)

    async def connect(self) -> Client:
        auth = {"token": self.token} if self.token else None
        await self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=10)
        return self

    async def call(self, event: str, *args: Any, timeout: float = 10) -> Any:
        """Emit with `args` as the event's arguments and return the acknowledgement."""
        data = args[0] if len(args) == 1 else (args or None)  # a tuple sends several
        return await self.sio.call(event, data, timeout=timeout)

    async def ok(self, event: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Emit and assert a successful acknowledgement."""
        ack = await self.call(event, payload if payload is not None else {})
        assert ack.get("ok") is True, f"{self.name} {event} {payload!r}: {ack!r}"
        return ack

    async def fails(self, event: str, payload: Any, code: str) -> dict[str, Any]:
        """Emit and assert an error acknowledgement with `code`."""
        ack = await self.call(event, payload)
        assert ack.get("ok") is False and ack["error"]["code"] == code, (
            f"{self.name} {event}: expected {code}, got {ack!r}"
        )
        assert isinstance(ack["error"]["message"], str) and ack["error"]["message"]
        return ack

    def _find(self, event: str, match: Match | None) -> int | None:
        for index, (name, data) in enumerate(self.log):
            if index not in self._taken and name == event and (match is None or match(data)):
                return index
        return None

    async def next(self, event: str, match: Match | None = None, timeout: float = 5.0) -> Any:
        """The first not yet taken `event` (matching `match`), waiting up to `timeout` s."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self._find(event, match) is not None)
            index = self._find(event, match)
            assert index is not None
            self._taken.add(index)
            return self.log[index][1]

    def seen(self, event: str) -> list[Any]:
        """Every `event` received so far."""
        return [data for name, data in self.log if name == event]

    async def barrier(self) -> None:
        """A round trip: events emitted to us before it are recorded after it returns."""
        ack = await self.call("test:barrier", {})
        assert ack["error"]["code"] == "unknown_event"

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


Match = Callable[[Any], bool]
# `await connect(url, token=None, name="")`, the `connect` fixture of tests/conftest.py.
Connect = Callable[..., Awaitable[Client]]
