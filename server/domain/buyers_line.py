"""One listing's buyers in one process: one sale at a time, the others waiting in line.

Like an asyncio.Lock, except that a buyer checks, each time it comes to the front,
whether it can still be served (`admit` raises the refusal otherwise), and that a
sale that leaves nothing wakes the whole line at once: a rush's losers are refused
together, not handed the turn one by one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


class BuyersLine:
    """Turns to sell one listing; `turn()` waits for one, `done()` gives it up."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def turn(self, admit: Callable[[], None]) -> None:
        """Wait for the turn; `admit()` (which raises a refusal) runs first and again
        after every wait. Whoever leaves without the turn passes the wake-up on."""
        woken = False
        while True:
            try:
                admit()
            except BaseException:
                self._pass_on()
                raise
            if not self._busy:
                self._busy = True
                return
            waiter = asyncio.get_running_loop().create_future()
            if woken:  # someone new took the turn first: back to the front of the line
                self._waiting.appendleft(waiter)
            else:
                self._waiting.append(waiter)
            try:
                await waiter
                woken = True
            except asyncio.CancelledError:
                if not waiter.cancelled():  # woken, then cancelled: wake another
                    self._pass_on()
                raise

    def done(self, sold_out: bool) -> None:
        """Give up the turn: the next buyer gets it, or, when nothing is left, every
        buyer in line wakes to be refused (or to take the turn if it still may buy)."""
        self._busy = False
        if sold_out:
            waiting, self._waiting = self._waiting, deque()
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)
        else:
            self._pass_on()

    def _pass_on(self) -> None:
        if self._busy:
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
