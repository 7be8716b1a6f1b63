"""Who is on air: a dropped cohost keeps the seat for a grace window, then loses it.

The media engine reports when a seat's pictures stop or start arriving
(SeatMediaChanged, published on the stream's home process). A cohost who comes
back within `grace` seconds (the page republishes by itself) keeps the seat;
otherwise the seat is freed (CohostChanged to null) and the host is told
(CohostDropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.domain.streams import StreamService
from server.events import (
    CohostChanged,
    CohostDropped,
    Event,
    EventBus,
    SeatMediaChanged,
    StreamStatusChanged,
)

log = logging.getLogger(__name__)


class StageWatch:
    """Grace timers of dropped cohosts, one per stream."""

    def __init__(self, streams: StreamService, events: EventBus, grace: float) -> None:
        self._streams = streams
        self._events = events
        self._grace = grace
        self._timers: dict[str, asyncio.Task[None]] = {}
        events.subscribe(self._on_event)

    async def seat_media(self, stream_id: str, seat: str, on_air: bool) -> None:
        """The media engine's report; published with who holds the seat now."""
        stream = await self._streams.get(stream_id)
        username = stream.host if seat == "host" else stream.cohost
        await self._events.publish(SeatMediaChanged(stream_id, seat, username, stream.host, on_air))

    def dropping(self, stream_id: str) -> bool:
        """Whether the stream's cohost is inside a grace window."""
        return stream_id in self._timers

    async def _on_event(self, event: Event) -> None:
        match event:
            case SeatMediaChanged(seat="cohost", username=str(username), on_air=False):
                if event.stream_id not in self._timers:
                    self._timers[event.stream_id] = asyncio.create_task(
                        self._expire(event.stream_id, username)
                    )
            case SeatMediaChanged(seat="cohost", on_air=True) | CohostChanged():
                self._cancel(event.stream_id)
            case StreamStatusChanged(stream=stream) if stream.status == "ended":
                self._cancel(stream.id)

    async def _expire(self, stream_id: str, username: str) -> None:
        await asyncio.sleep(self._grace)
        self._timers.pop(stream_id, None)  # done waiting: no longer cancellable
        try:
            stream = await self._streams.get(stream_id)
            if await self._streams.free_seat(stream_id, username) is not None:
                await self._events.publish(CohostDropped(stream_id, username, stream.host))
        except Exception:
            log.exception("freeing the seat of dropped cohost %s failed", username)

    def _cancel(self, stream_id: str) -> None:
        timer = self._timers.pop(stream_id, None)
        if timer is not None:
            timer.cancel()

    async def close(self) -> None:
        timers = list(self._timers.values())
        self._timers.clear()
        for timer in timers:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
