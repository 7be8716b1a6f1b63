"""The QR code guard: a code seen in a stream's composite becomes an incident and a
warning to the host (seller rules forbid codes on screen), at most one per interval."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from server.domain.events import Event, EventBus, QrCodeShown, StreamStatusChanged
from server.domain.streams import StreamService
from server.domain.times import format_time, utc_now

# One warning (and incident) per stream at most this often while a code stays on screen.
QR_WARNING_INTERVAL = 10.0
PAYLOAD_MAX = 500


class QrIncidentStore(Protocol):
    async def add_qr_incident(self, stream_id: str, detected_at: str, payload: str) -> None: ...


class QrGuard:
    """Hears the media engine's QR sightings; records and announces them."""

    def __init__(self, store: QrIncidentStore, streams: StreamService, events: EventBus) -> None:
        self._store = store
        self._streams = streams
        self._events = events
        self._last_seen: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        """An ended stream (here or, through the relay, on another process) starts afresh."""
        if isinstance(event, StreamStatusChanged) and event.stream.status == "ended":
            self._last_seen.pop(event.stream.id, None)

    def seen(self, stream_id: str, payload: str) -> None:
        """From the media engine (loop thread): at most one incident per interval."""
        now = time.monotonic()
        if now - self._last_seen.get(stream_id, -1e9) < QR_WARNING_INTERVAL:
            return
        self._last_seen[stream_id] = now
        task = asyncio.ensure_future(self._incident(stream_id, payload[:PAYLOAD_MAX]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _incident(self, stream_id: str, payload: str) -> None:
        stream = await self._streams.get(stream_id)
        at = format_time(utc_now()) or ""
        await self._store.add_qr_incident(stream_id, at, payload)
        await self._events.publish(QrCodeShown(stream_id, stream.host, payload, at))
