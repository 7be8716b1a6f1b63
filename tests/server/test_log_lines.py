"""Log lines logged in one event-loop turn leave in one write (server/logs.py)."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from server.logs import TurnStreamHandler


class Stream(io.StringIO):
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, Stream]]:
    stream = Stream()
    handler = TurnStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.log_lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


async def test_a_turns_lines_leave_together_when_it_ends(logged) -> None:
    logger, stream = logged
    for n in range(3):
        logger.info("line %d", n)
    assert stream.writes == []  # held until the turn ends
    await asyncio.sleep(0)  # the next turn
    assert stream.writes == ["line 0\nline 1\nline 2\n"]
    logger.info("line 3")
    await asyncio.sleep(0)
    assert stream.writes[1:] == ["line 3\n"]


async def test_a_line_from_another_thread_goes_at_once_behind_the_held_ones(logged) -> None:
    logger, stream = logged
    logger.info("on the loop")
    thread = threading.Thread(target=logger.info, args=("from a thread",))
    thread.start()
    thread.join()
    assert stream.getvalue() == "on the loop\nfrom a thread\n"
    await asyncio.sleep(0)
    assert stream.getvalue() == "on the loop\nfrom a thread\n"  # nothing twice


def test_lines_held_by_a_closed_loop_go_out_with_the_next(logged) -> None:
    logger, stream = logged

    async def last_words() -> None:
        logger.info("held when the loop closed")
        asyncio.get_running_loop().stop()  # closes before the next turn

    loop = asyncio.new_event_loop()
    loop.create_task(last_words())
    loop.run_forever()
    loop.close()
    assert stream.writes == []
    logger.info("after")
    assert stream.getvalue() == "held when the loop closed\nafter\n"
