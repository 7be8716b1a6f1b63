"""The in-process event bus: the domain publishes, media and realtime subscribe."""

from __future__ import annotations

import logging

from server.domain.events import Event, Handler

log = logging.getLogger(__name__)


class InProcessEventBus:
    """Calls every subscriber in order; one failing subscriber never stops the others."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> None:
        """Add `handler`; it receives every event and filters by type itself."""
        self._handlers.append(handler)

    async def publish(self, event: Event) -> None:
        """Deliver `event` to every subscriber, logging (not raising) their failures."""
        for handler in list(self._handlers):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler %r failed on %r", handler, event)
