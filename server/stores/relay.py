"""Seat, lifecycle and stage changes and token revocations made on one process, replayed
on the others (Redis pub/sub).

Token revocations keep every process's copy of them current (server.domain.sessions).
Otherwise only media needs this: a stream's media lives on its home process, but the host may
remove the cohost, end the stream or present an item (the lower third drawn into the
composite) through another process. Socket.IO emits cross processes by themselves
(AsyncRedisManager), so the relay feeds a separate bus that only media follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.domain.events import (
    CohostChanged,
    Event,
    EventBus,
    ListingPresented,
    ListingUpdated,
    StreamStatusChanged,
    TokensRevoked,
)
from server.stores.event_codec import decode_event, encode_event

log = logging.getLogger(__name__)

CHANNEL = "costream:events"
RESUBSCRIBE_SECONDS = 1.0
# Messages waiting to be published: the event's publisher (a purchase, a present)
# never waits for Redis; past this many (Redis gone for long) new ones are dropped.
OUTBOX_SIZE = 1000
# What media on other processes follows: the seat, the stream's status (an ended stream
# tears its peers down) and the item on stage (its lower third follows every sale).
# Each travels whole, so the other side reads nothing from the database.
RELAYED: tuple[type, ...] = (
    CohostChanged,
    StreamStatusChanged,
    ListingPresented,
    ListingUpdated,
    TokensRevoked,
)


class EventRelay(Protocol):
    """Carries this process's seat and lifecycle events to the other processes."""

    async def start(self, local: EventBus, remote: EventBus) -> None:
        """Forward `local` events; replay the other processes' on `remote`."""
        ...

    async def stop(self) -> None: ...


class LocalEventRelay:
    """One process: nothing to relay."""

    async def start(self, local: EventBus, remote: EventBus) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisEventRelay:
    """Publishes local seat, status and listing events; replays others' on `remote`."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout
        self._redis: Redis | None = None
        self._origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[dict] = asyncio.Queue(OUTBOX_SIZE)

    async def _forward(self, event: Event) -> None:
        """Queue the message for `event` (if relayed), in order, without waiting for Redis."""
        if not isinstance(event, RELAYED):
            return
        data = encode_event(event)
        try:
            self._outbox.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("cannot relay %s (outbox full: Redis too slow or gone)", data["type"])

    async def _send_forever(self) -> None:
        assert self._redis is not None
        while True:
            data = await self._outbox.get()
            try:
                await self._redis.publish(CHANNEL, json.dumps({"origin": self._origin, **data}))
            except (RedisError, OSError) as error:
                # Other processes miss this change; their media catches up on the next one.
                log.warning("cannot relay %s (Redis unavailable: %s)", data["type"], error)

    async def start(self, local: EventBus, remote: EventBus) -> None:
        """Subscribe, then listen in the background (resubscribing after a Redis outage)."""
        self._remote = remote
        self._redis = Redis.from_url(
            self._url,
            decode_responses=True,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
        )
        local.subscribe(self._forward)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        self._task = asyncio.create_task(self._listen_forever(pubsub))
        self._sender = asyncio.create_task(self._send_forever())

    async def _listen_forever(self, pubsub) -> None:
        assert self._redis is not None
        while True:
            try:
                await self._listen(pubsub)
            except (RedisError, OSError) as error:
                log.warning("event relay lost Redis (%s); resubscribing", error)
            await asyncio.sleep(RESUBSCRIBE_SECONDS)
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            with contextlib.suppress(RedisError, OSError):
                await pubsub.subscribe(CHANNEL)

    async def _listen(self, pubsub) -> None:
        try:
            async for message in pubsub.listen():
                try:
                    await self._replay(json.loads(message["data"]))
                except Exception:
                    log.exception("cannot replay %r", message)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def _replay(self, data: dict) -> None:
        if data.pop("origin", None) == self._origin:
            return
        await self._remote.publish(decode_event(data, RELAYED))

    async def stop(self) -> None:
        for task in (self._task, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._sender = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
