"""The selling clock: one loop per process that acts on the selling deadlines.

At each deadline it closes due auctions, draws due giveaways and ends flash sales.
Deadlines live in the database (never only in memory), so a restarted process, or
another process sharing the file, picks them up: the loop re-reads the earliest one
at least every MAX_SLEEP seconds, and every action is claimed by a guarded write,
so it happens exactly once whichever process gets there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from server.domain.times import now_ms

log = logging.getLogger(__name__)

# Longest nap: the bound on how late a deadline set by another process is noticed.
MAX_SLEEP = 1.0
# Shortest nap: a deadline that could not be acted on (a failing step) is retried at
# this pace instead of spinning.
MIN_SLEEP = 0.02

Step = Callable[[int], Awaitable[None]]


class SellingClock:
    def __init__(
        self,
        next_deadline_ms: Callable[[], Awaitable[int | None]],
        steps: Sequence[Step],
        woken: asyncio.Event | None = None,
    ) -> None:
        """`woken`: set by whoever sets or moves a deadline (the services that own the
        steps are built before the clock, so they are given the event, not the clock)."""
        self._next_deadline_ms = next_deadline_ms
        self._steps = tuple(steps)
        self._woken = woken or asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A deadline was set or moved on this process: look again now."""
        self._woken.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="selling-clock")

    async def _run(self) -> None:
        while True:
            self._woken.clear()
            now = now_ms()
            for step in self._steps:
                try:
                    await step(now)
                except Exception:
                    log.exception("selling clock step %r failed", step)
            delay = MAX_SLEEP
            try:
                deadline = await self._next_deadline_ms()
            except Exception:
                log.exception("cannot read the next selling deadline")
                deadline = None
            if deadline is not None:
                delay = min(MAX_SLEEP, max(MIN_SLEEP, (deadline - now_ms()) / 1000))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), delay)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
