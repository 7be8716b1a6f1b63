"""Seat and lifecycle changes made on one process, replayed on the others (Redis pub/sub).

Only media needs this: a stream's media lives on its home process, but the host may
remove the cohost or end the stream through another process. Socket.IO emits cross
processes by themselves (AsyncRedisManager), so the relay feeds a separate bus that
only the media engine follows.
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

from server.domain.streams import StreamService
from server.events import CohostChanged, Event, EventBus, StreamStatusChanged

log = logging.getLogger(__name__)

CHANNEL = "costream:events"
RESUBSCRIBE_SECONDS = 1.0


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
    """Publishes local CohostChanged/StreamStatusChanged; replays others' on `remote`."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout
        self._redis: Redis | None = None
        self._origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None

    async def _forward(self, event: Event) -> None:
        if isinstance(event, CohostChanged):
            data = {
                "type": "cohost",
                "stream_id": event.stream_id,
                "cohost": event.cohost,
                "previous": event.previous,
            }
        elif isinstance(event, StreamStatusChanged):
            data = {"type": "status", "stream_id": event.stream.id}
        else:
            return
        if self._redis is None:
            return
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

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
