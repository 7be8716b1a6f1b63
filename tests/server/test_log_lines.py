"""Log lines logged in one event-loop turn leave in one write (server/logs.py)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from server.logs import AccessLog, JsonFormatter, StreamIdFilter, TextFormatter, TurnStreamHandler


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


@pytest.mark.parametrize("created", [1764600000.0, 1764600000.999, 1764600001.25, 1764600001.5])
def test_cached_time_stamps_read_as_loggings_own(created: float) -> None:
    record = logging.makeLogRecord({"msg": "m", "created": created, "msecs": created % 1 * 1000})
    text = TextFormatter()
    assert text.formatTime(record) == logging.Formatter().formatTime(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + (
        f".{int(created % 1 * 1000):03d}Z"
    )


async def test_an_access_line_is_a_whole_record(logged) -> None:
    # Any attribute a format may name is there, as in logging's own records.
    logger, stream = logged
    handler = logger.handlers[0]
    every = " ".join(f"%({name})s" for name in vars(logging.makeLogRecord({})))
    handler.setFormatter(logging.Formatter(every + " | %(process)d %(message)s%(stream_suffix)s"))
    handler.addFilter(StreamIdFilter())
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/api/streams/{id}", ok)
    runner = web.AppRunner(app, access_log_class=AccessLog, access_log=logger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/api/streams/s1"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
    finally:
        await runner.cleanup()
    line = stream.getvalue().splitlines()[0]
    assert re.fullmatch(
        rf".* \| {os.getpid()} GET /api/streams/s1 200 \d+\.\d ms stream=s1", line
    ), line
