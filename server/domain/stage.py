"""Who is on air: a dropped publisher keeps their place for a grace window.

The media engine reports when a seat's pictures stop or start arriving
(SeatMediaChanged, published on the stream's home process). A cohost who comes
back within `grace` seconds (the page republishes by itself) keeps the seat;
otherwise the seat is freed (CohostChanged to null) and the host is told
(CohostDropped). A host whose media stays away for `host_grace` seconds (viewers
see the "host reconnecting" slate meanwhile) has the live show ended for them, as
if they had ended it: a show never runs on a slate forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from server.domain.events import (
    CohostChanged,
    CohostDropped,
    Event,
    EventBus,
    SeatMediaChanged,
    StreamStatusChanged,
)
from server.domain.streams import StreamService

log = logging.getLogger(__name__)


class StageWatch:
    """Grace timers of dropped cohosts, one per stream."""

    def __init__(
        self, streams: StreamService, events: EventBus, grace: float, host_grace: float
    ) -> None:
        self._streams = streams
        self._events = events
        self._grace = grace
        self._host_grace = host_grace
        # Keyed by (stream id, seat).
        self._timers: dict[tuple[str, str], asyncio.Task[None]] = {}
        events.subscribe(self._on_event)

    async def seat_media(self, stream_id: str, seat: str, on_air: bool) -> None:
        """The media engine's report; published with who holds the seat now."""
        stream = await self._streams.get(stream_id)
        username = stream.host if seat == "host" else stream.cohost
        await self._events.publish(SeatMediaChanged(stream_id, seat, username, stream.host, on_air))

    def dropping(self, stream_id: str) -> bool:
        """Whether the stream's cohost is inside a grace window."""
        return (stream_id, "cohost") in self._timers

    async def _on_event(self, event: Event) -> None:
        match event:
            case SeatMediaChanged(seat="cohost", username=str(username), on_air=False):
                expiry = self._expire_cohost(event.stream_id, username)
                self._start(event.stream_id, "cohost", expiry)
            case SeatMediaChanged(seat="host", on_air=False):
                self._start(event.stream_id, "host", self._expire_host(event.stream_id))
            case SeatMediaChanged(on_air=True):
                self._cancel(event.stream_id, event.seat)
            case CohostChanged():
                self._cancel(event.stream_id, "cohost")
            case StreamStatusChanged(stream=stream) if stream.status == "ended":
                self._cancel(stream.id, "cohost")
                self._cancel(stream.id, "host")

    def _start(self, stream_id: str, seat: str, expiry: Coroutine[Any, Any, None]) -> None:
        if (stream_id, seat) in self._timers:
            expiry.close()  # already counting since the first drop
            return
        self._timers[stream_id, seat] = asyncio.create_task(expiry)

    async def _expire_cohost(self, stream_id: str, username: str) -> None:
        await asyncio.sleep(self._grace)
        self._timers.pop((stream_id, "cohost"), None)  # done waiting: no longer cancellable
        try:
            stream = await self._streams.get(stream_id)
            if await self._streams.free_seat(stream_id, username) is not None:
                await self._events.publish(CohostDropped(stream_id, username, stream.host))
        except Exception:
            log.exception("freeing the seat of dropped cohost %s failed", username)

    async def _expire_host(self, stream_id: str) -> None:
        await asyncio.sleep(self._host_grace)
        self._timers.pop((stream_id, "host"), None)
        try:
            stream = await self._streams.get(stream_id)
            if stream.status == "live":  # a rehearsal only the host sees may wait for them
                log.warning("host media gone %.0f s: ending stream %s", self._host_grace, stream_id)
                await self._streams.end(stream_id, stream.host)
        except Exception:
            log.exception("ending stream %s after its host was lost failed", stream_id)

    def _cancel(self, stream_id: str, seat: str) -> None:
        timer = self._timers.pop((stream_id, seat), None)
        if timer is not None:
            timer.cancel()

    async def close(self) -> None:
        timers = list(self._timers.values())
        self._timers.clear()
        for timer in timers:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
