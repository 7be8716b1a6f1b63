"""Log lines as text or JSON (setting `log_format`), each carrying its stream id.

The stream id travels in a context variable: the HTTP middleware sets it for a
request on a stream's URL, the Socket.IO wrapper for an event of a joined
connection, the media relay for a stream's messages. asyncio copies the
context into every task it creates, so the media work a WHIP/WHEP request
starts (the room's clocks, aiortc's and aioice's tasks) logs that stream too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

STREAM_ID: ContextVar[str | None] = ContextVar("stream_id", default=None)
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(stream_suffix)s"
# Fields an access line adds to its JSON object (see AccessLog).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "remote")


def stream_id_of(request: web.BaseRequest) -> str | None:
    """The stream a request's URL names (`{stream_id}`, or `{id}` under /api/streams/)."""
    info = getattr(request, "match_info", None)
    if info is None:
        return None
    if "stream_id" in info:
        return info["stream_id"]
    resource = info.route.resource
    if resource is not None and resource.canonical.startswith("/api/streams/{id}"):
        return info.get("id")
    return None


class StreamIdFilter(logging.Filter):
    """Stamps every record with the stream id of the context it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "stream_id", None) is None:
            record.stream_id = STREAM_ID.get()
        record.stream_suffix = f" stream={record.stream_id}" if record.stream_id else ""
        return True


class SecondStamp:
    """A moment's date and time to the second, formatted once per second: a busy
    server logs hundreds of lines within each."""

    def __init__(self, date_format: str, convert: Callable[[float], time.struct_time]) -> None:
        self._format, self._convert = date_format, convert
        self._second, self._stamp = -1, ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime(self._format, self._convert(second))
            self._second = second
        return self._stamp


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT (logging's own time stamps, local time)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._stamp = SecondStamp(self.default_time_format, self.converter)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return self.default_msec_format % (self._stamp(record.created), record.msecs)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, stream_id."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = SecondStamp("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": f"{self._stamp(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "stream_id": getattr(record, "stream_id", None),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TurnStreamHandler(logging.StreamHandler):
    """A StreamHandler whose lines logged on an event loop's thread leave together, in
    one write, when the loop's turn ends.

    A busy server answers thousands of small requests a second, each with an access
    line, and a write and a flush per line cost a refused buy about a fifth of its CPU
    (docs/benchmarks.md). Lines logged where no loop runs (other threads, start-up,
    exit) or on another loop than the one holding lines are written at once, behind
    the held ones: order holds. What a loop closed on is written at the next line or
    by logging's own flush at exit.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._held: list[str] = []
        self._turn: asyncio.AbstractEventLoop | None = None  # the loop that will flush

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's rule: a bad record never raises into the caller
            self.handleError(record)
            return
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:
            self._held.append(line)
            if self._turn is not None and self._turn.is_closed():
                self._turn = None  # its flush will never run
            if loop is None or (self._turn is not None and self._turn is not loop):
                self._write_held(record)
            elif self._turn is None:
                self._turn = loop
                loop.call_soon(self.flush)

    def flush(self) -> None:
        with self.lock:
            self._turn = None
            self._write_held(None)

    def _write_held(self, record: logging.LogRecord | None) -> None:
        lines, self._held = "".join(self._held), []
        try:
            if lines:
                self.stream.write(lines)
            if hasattr(self.stream, "flush"):
                self.stream.flush()
        except Exception:
            self.handleError(record or logging.makeLogRecord({"msg": lines}))


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Log to stderr in `log_format` ("text" or "json")."""
    handler = TurnStreamHandler()
    handler.addFilter(StreamIdFilter())
    json_lines = log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)


class AccessLog(AbstractAccessLogger):
    """aiohttp's access line with the request's stream id and its parts as fields.

    Its record is made without LogRecord.__init__, whose work (the caller's frame,
    thread and process names) no access line shows: a quarter of the line's cost.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, elapsed: float) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        method, path, status = request.method, request.path, response.status
        duration_ms = round(elapsed * 1000, 1)
        now = time.time()
        record = logging.LogRecord.__new__(logging.LogRecord)
        record.__dict__.update(
            _ACCESS_RECORD,
            name=logger.name,
            args=(method, path, status, duration_ms),
            created=now,
            msecs=(now - int(now)) * 1000,
            relativeCreated=(now - _STARTED) * 1000,
            process=os.getpid(),
            stream_id=stream_id_of(request),
            method=method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            remote=request.remote,
        )
        logger.handle(record)


_STARTED = time.time()
# What LogRecord.__init__ would have set that an access line leaves as is.
_ACCESS_RECORD: dict[str, Any] = {
    "msg": "%s %s %s %.1f ms",
    "levelname": logging.getLevelName(logging.INFO),
    "levelno": logging.INFO,
    "pathname": "",
    "filename": "",
    "module": "",
    "lineno": 0,
    "funcName": None,
    "exc_info": None,
    "exc_text": None,
    "stack_info": None,
    "thread": None,
    "threadName": None,
    "processName": None,
}


@web.middleware
async def stream_context(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Log lines of a request on a stream's URL carry its id."""
    stream_id = stream_id_of(request)
    if stream_id is None:
        return await handler(request)
    token = STREAM_ID.set(stream_id)
    try:
        return await handler(request)
    finally:
        STREAM_ID.reset(token)
