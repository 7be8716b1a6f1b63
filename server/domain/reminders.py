"""Reminders at go-live: a `reminder` event on every connection of every subscriber,
and an e-mail to those who left one. All of it runs in the background: the host's
start never waits for it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from server.domain.events import Event, EventBus, RemindersDue, StreamStatusChanged
from server.domain.times import utc_now

if TYPE_CHECKING:
    from server.domain.streams import Stream
    from server.stores.sql_lifecycle import LifecycleStore

log = logging.getLogger(__name__)

# Users per RemindersDue event: one emit per batch of rooms.
BATCH = 500


class Mailer(Protocol):
    """Sends one plain-text e-mail; raises on failure."""

    async def send(
        self, to: str, subject: str, text: str, attachments: list[tuple[str, str, bytes]]
    ) -> None: ...


class ReminderService:
    """Follows go-live; the first process to claim a stream's reminders sends them."""

    def __init__(
        self,
        store: LifecycleStore,
        events: EventBus,
        mailer: Mailer | None,
        watch_url: str,
        mail_concurrency: int = 4,
    ) -> None:
        self._store = store
        self._events = events
        self._mailer = mailer
        self._watch_url = watch_url.rstrip("/")
        self._mail_slots = asyncio.Semaphore(mail_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def follow(self, events: EventBus) -> None:
        events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, StreamStatusChanged) and event.stream.status == "live":
            self._spawn(self._remind(event.stream))

    def _spawn(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remind(self, stream: Stream) -> None:
        try:
            if not await self._store.claim_reminders(stream.id, stream.started_at or utc_now()):
                return  # sent at the first go-live (or by another process)
            subscribers = await self._store.reminder_subscribers(stream.id)
            names = [name for name, _ in subscribers]
            for first in range(0, len(names), BATCH):
                batch = tuple(names[first : first + BATCH])
                await self._events.publish(RemindersDue(stream, batch))
            if self._mailer is not None:
                for _, email in subscribers:
                    if email:
                        await self._mail_slots.acquire()
                        self._spawn(self._mail(stream, email))
        except Exception:
            log.exception("reminders for stream %s failed", stream.id)

    async def _mail(self, stream: Stream, email: str) -> None:
        try:
            assert self._mailer is not None
            url = f"{self._watch_url}/watch/{stream.id}"
            await self._mailer.send(
                email,
                f"Live now: {stream.title}",
                f"{stream.host} is live now: {stream.title}\n\nWatch: {url}\n",
                [],
            )
        except Exception:
            log.exception("reminder e-mail for stream %s failed", stream.id)
        finally:
            self._mail_slots.release()

    async def drain(self) -> None:
        """Wait for reminders being sent (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
