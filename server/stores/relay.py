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
import dataclasses
import json
import logging
import uuid
from datetime import datetime
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.domain.commerce import Listing
from server.domain.streams import StreamService
from server.events import (
    CohostChanged,
    Event,
    EventBus,
    ListingPresented,
    ListingUpdated,
    StreamStatusChanged,
    TokensRevoked,
)

log = logging.getLogger(__name__)

CHANNEL = "costream:events"
RESUBSCRIBE_SECONDS = 1.0
# Messages waiting to be published: the event's publisher (a purchase, a present)
# never waits for Redis; past this many (Redis gone for long) new ones are dropped.
OUTBOX_SIZE = 1000
# A listing travels whole (no database read on the other side): presented, or
# updated (a sale, an edit: the bar of the item on stage follows it).
LISTING_EVENTS: dict[str, type[ListingPresented] | type[ListingUpdated]] = {
    "listing_presented": ListingPresented,
    "listing_updated": ListingUpdated,
}


def listing_json(listing: Listing) -> dict:
    """A listing as JSON-safe fields (the one datetime as ISO 8601)."""
    fields = dataclasses.asdict(listing)
    fields["created_at"] = listing.created_at.isoformat()
    return fields


def listing_from_json(fields: dict) -> Listing:
    return Listing(**{**fields, "created_at": datetime.fromisoformat(fields["created_at"])})


class EventRelay(Protocol):
    """Carries this process's seat and lifecycle events to the other processes."""

    async def start(self, local: EventBus, remote: EventBus, streams: StreamService) -> None:
        """Forward `local` events; replay the other processes' on `remote`."""
        ...

    async def stop(self) -> None: ...


class LocalEventRelay:
    """One process: nothing to relay."""

    async def start(self, local: EventBus, remote: EventBus, streams: StreamService) -> None:
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
        data = self._message(event)
        if data is None:
            return
        try:
            self._outbox.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("cannot relay %s (outbox full: Redis too slow or gone)", data["type"])

    @staticmethod
    def _message(event: Event) -> dict | None:
        """What other processes need of `event`; None when they need nothing."""
        if isinstance(event, CohostChanged):
            return {
                "type": "cohost",
                "stream_id": event.stream_id,
                "cohost": event.cohost,
                "previous": event.previous,
            }
        if isinstance(event, StreamStatusChanged):
            return {"type": "status", "stream_id": event.stream.id}
        if isinstance(event, ListingPresented | ListingUpdated):
            kind = "listing_presented" if isinstance(event, ListingPresented) else "listing_updated"
            return {"type": kind, "listing": listing_json(event.listing)}
        if isinstance(event, TokensRevoked):
            return {"type": "tokens_revoked", "revoked": dataclasses.asdict(event)}
        return None

    async def _send_forever(self) -> None:
        assert self._redis is not None
        while True:
            data = await self._outbox.get()
            try:
                await self._redis.publish(CHANNEL, json.dumps({"origin": self._origin, **data}))
            except (RedisError, OSError) as error:
                # Other processes miss this change; their media catches up on the next one.
                log.warning("cannot relay %s (Redis unavailable: %s)", data["type"], error)

    async def start(self, local: EventBus, remote: EventBus, streams: StreamService) -> None:
        """Subscribe, then listen in the background (resubscribing after a Redis outage)."""
        self._remote, self._streams = remote, streams
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
        if data.get("origin") == self._origin:
            return
        if data["type"] == "cohost":
            await self._remote.publish(
                CohostChanged(data["stream_id"], data["cohost"], data["previous"])
            )
        elif data["type"] == "status":
            await self._remote.publish(
                StreamStatusChanged(await self._streams.get(data["stream_id"]))
            )
        elif data["type"] == "tokens_revoked":
            await self._remote.publish(TokensRevoked(**data["revoked"]))
        elif data["type"] in LISTING_EVENTS:
            await self._remote.publish(
                LISTING_EVENTS[data["type"]](listing_from_json(data["listing"]))
            )

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
