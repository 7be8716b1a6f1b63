"""Serving and draining: SIGTERM stops new sessions, lets in-flight requests finish, exits.

On SIGTERM (or SIGINT) the process:
1. answers every new media session, Socket.IO connection and state-changing call with
   503 `server_draining` and `Retry-After` (reads and session DELETEs still pass),
2. tells its Socket.IO clients (`server:draining`) and waits for in-flight requests
   (a buy being written, say) for at most `drain_seconds`,
3. disconnects its Socket.IO clients (the pages reconnect by themselves), closes media
   and storage through the app's cleanup, and exits: within 10 s with the defaults.
A second signal skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_log import AccessLogger

from server.errors import Handler, error_response
from server.keys import REALTIME, SETTINGS

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
# aiohttp's own wait for handlers still running after the drain (then they are cancelled).
SHUTDOWN_TIMEOUT = 2.0
_CHANGES = frozenset({"POST", "PUT", "PATCH"})


class Drain:
    """The drain state of this process and its count of in-flight requests."""

    def __init__(self) -> None:
        self.draining = False
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def refuses(self, request: web.Request) -> bool:
        """A new session or change while draining: WHIP/WHEP offers, Socket.IO handshakes
        (no `sid` yet), and any POST/PUT/PATCH."""
        if not self.draining:
            return False
        if request.path.startswith("/socket.io/"):
            return "sid" not in request.query
        return request.method in _CHANGES

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.refuses(request):
            response = error_response(
                503, "server_draining", "this server is restarting; try again in a moment"
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if request.path.startswith("/socket.io/"):  # long-lived: not an in-flight request
            return await handler(request)
        self.inflight += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self.inflight -= 1
            if self.inflight == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if `timeout` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False


DRAIN: web.AppKey[Drain] = web.AppKey("drain")


async def drain(app: web.Application) -> None:
    """Steps 1-3 above, up to the app's cleanup (left to the runner)."""
    drain_state, sio = app[DRAIN], app[REALTIME].sio
    drain_state.draining = True
    sids = list(app[REALTIME].conns)
    log.info(
        "draining: %d requests in flight, %d realtime clients", drain_state.inflight, len(sids)
    )
    for sid in sids:
        with contextlib.suppress(Exception):
            await sio.emit("server:draining", {"retry_ms": RETRY_AFTER_SECONDS * 1000}, to=sid)
    if not await drain_state.wait_idle(app[SETTINGS].drain_seconds):
        log.warning("drain: %d requests still in flight, closing anyway", drain_state.inflight)
    await disconnect_realtime(app)


async def disconnect_realtime(app: web.Application) -> None:
    """Close every Socket.IO connection (the pages reconnect by themselves).

    Also an `on_shutdown` hook: a websocket handler otherwise keeps the runner's
    shutdown waiting for its whole timeout.
    """
    sio = app[REALTIME].sio
    for sid in list(app[REALTIME].conns):
        with contextlib.suppress(Exception):
            await sio.disconnect(sid)
    # The engine.io connections under them (a polling one nobody polls included): told
    # to close, never waited on.
    for socket in list(sio.eio.sockets.values()):
        with contextlib.suppress(Exception):
            await socket.close(wait=False)


# Young-generation threshold (CPython's default: 700 allocations). A rush of 1000 fresh
# connections allocates ~120 collections' worth at 700, each walking what the requests
# in flight hold and promoting it to be walked again by the older generations.
GC_YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """Collect once, then move what startup built (modules, routes, the app: ~100k
    objects that live as long as the process) out of the collector's reach, and
    collect the young generation less often. In a 1000-buyer rush of fresh connections
    the collector took 45-110 ms before (one full pass over the whole heap: 40-92 ms),
    ~10 ms after."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


async def serve(
    app: web.Application,
    host: str,
    port: int,
    access_log_class: type[AbstractAccessLogger] = AccessLogger,
) -> None:
    """Run `app` until SIGTERM/SIGINT, then drain and clean up."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        access_log_class=access_log_class,
    )
    await runner.setup()
    tune_collector()
    # A rush opens many connections at once: aiohttp's default backlog (128) drops the
    # rest's SYNs, which the clients resend only after a second.
    site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
    await site.start()
    print(f"======== Running on http://{host}:{port} ========", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()

    def on_signal() -> None:
        (hurry if stop.is_set() else stop).set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    try:
        await stop.wait()
        draining = asyncio.ensure_future(drain(app))
        hurried = asyncio.ensure_future(hurry.wait())
        await asyncio.wait({draining, hurried}, return_when=asyncio.FIRST_COMPLETED)
        draining.cancel()
        hurried.cancel()
    finally:
        await runner.cleanup()
