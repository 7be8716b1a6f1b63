"""Socket.IO client managers whose room emits cost one write per recipient.

python-socketio's AsyncManager encodes a room emit once but then starts one asyncio
task per recipient, and each connection's writer task wakes up to frame and write it.
Here a room emit is encoded once into finished websocket frames (server frames are
unmasked, and permessage-deflate is not negotiated, so every receiver gets the same
bytes), and each idle connection gets them with one `transport.write` (at the loop's
next turn, together with whatever else that turn sends it): no task, no await, no
per-receiver framing. A connection with packets already queued
(or a full transport buffer) takes the ordinary queue, so order holds. This is what
lets one process fan chat out to thousands of viewers (bench/chat_fanout.py).

Relies on python-engineio 4.15 / python-socketio 5.18 (pinned in pyproject.toml) and
aiohttp 3.x internals; tests/realtime/test_fanout_internals.py fails loudly when they
change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import engineio.async_drivers.aiohttp
import engineio.async_socket
import socketio
from aiohttp import WSMsgType
from aiohttp._websocket.helpers import PACK_LEN1, PACK_LEN2, PACK_LEN3
from aiohttp.web import WebSocketResponse
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from socketio import packet

from server.counters import (
    DELIVERIES,
    PREPARED_WRITES,
    SLOW_CLIENTS_DROPPED,
    WEBSOCKET_WRITES,
)

log = logging.getLogger(__name__)


class DirectFanout(socketio.AsyncManager):
    """AsyncManager with a loop instead of a task per recipient for plain emits.

    With `batch_seconds` > 0 emits are coalesced like Nagle's algorithm: an emit
    after a quiet spell is written at once and opens a window of `batch_seconds`;
    emits inside the window are held and each receiver gets them in one write when
    it closes (which opens the next window if anything was held). One system call
    then carries every message of the window (the kernel's per-write cost dominates
    fan-out to thousands); a lone message waits for nothing, a busy room's at most
    the window. Only emits to at least `batch_min_receivers` are held: a small room
    gains little and keeps its latency (a receiver with deliveries already held gets
    later ones, however addressed, behind them: order holds).
    """

    batch_seconds = 0.0
    batch_min_receivers = 1
    _flush_at: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dirty: list[PromptSocket] = []
        # The packets of each held message, for receivers that need the queue path. Per
        # message, not per receiver: a batch holds only references to shared bytes, so
        # fan-out to thousands allocates nothing per receiver (no garbage collections).
        self._held_packets: dict[bytes, list[eio_packet.Packet]] = {}
        self._fallbacks: set[asyncio.Task[None]] = set()

    async def emit(  # type: ignore[override]
        self,
        event: str,
        data: Any,
        namespace: str,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        # ignore_queue only matters to pub/sub managers, which call this after their hop.
        if callback is not None or set(kwargs) - {"ignore_queue"}:
            return await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
        room = to or room
        if namespace not in self.rooms:
            return None
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, p)
            for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        prepared = b"".join(websocket_frame(frame.encode()) for frame in frames)
        sockets = self.server.eio.sockets
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        # A list first: a send may close a dead connection, which edits the room.
        receivers = list(self.get_participants(namespace, room))
        DELIVERIES.labels(event=event).inc(len(receivers))
        written = 0
        window_open = self._flush_at is not None
        large = self.batch_seconds > 0 and len(receivers) >= self.batch_min_receivers
        holding = window_open and large
        if window_open:  # the packets of whatever gets held, for the queue path
            self._held_packets[prepared] = frames
        elif large:  # written now; what follows soon waits for the window
            loop = asyncio.get_running_loop()
            self._flush_at = loop.call_later(self.batch_seconds, self._flush)
        for sid, eio_sid in receivers:
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            if isinstance(socket, PromptSocket):
                if holding or socket.batch:
                    if not socket.batch:
                        self._dirty.append(socket)
                        socket.held_packets = self._held_packets
                    socket.batch.append(prepared)
                    continue
                if socket.write_prepared(prepared):
                    written += 1
                    continue
            for frame in frames:
                await self.server._send_eio_packet(eio_sid, frame)
        PREPARED_WRITES.inc(written)
        return None

    def _flush(self) -> None:
        """Close the window: write every held delivery, one write per receiver (the
        queue if it is busy); a window that held something opens the next."""
        dirty, self._dirty = self._dirty, []
        self._flush_at = (
            asyncio.get_running_loop().call_later(self.batch_seconds, self._flush)
            if dirty
            else None
        )
        packets, self._held_packets = self._held_packets, {}
        written = 0
        for socket in dirty:
            batch, socket.batch = socket.batch, []
            if not batch:  # already written ahead of a packet (PromptSocket.send)
                continue
            if socket.write_prepared(b"".join(batch)):
                written += len(batch)
                continue
            task = asyncio.ensure_future(_queue_all(socket, [packets[p] for p in batch]))
            self._fallbacks.add(task)
            task.add_done_callback(self._fallbacks.discard)
        PREPARED_WRITES.inc(written)


async def _queue_all(socket: PromptSocket, batch: list[list[eio_packet.Packet]]) -> None:
    for frames in batch:
        for frame in frames:
            await socket.send(frame)


def websocket_frame(packet: str | bytes) -> bytes:
    """One finished, unmasked, uncompressed websocket frame carrying `packet`."""
    if isinstance(packet, str):
        payload, first = packet.encode(), 0x80 | WSMsgType.TEXT
    else:
        payload, first = packet, 0x80 | WSMsgType.BINARY
    size = len(payload)
    if size < 126:
        header = PACK_LEN1(first, size)
    elif size < 65536:
        header = PACK_LEN2(first, 126, size)
    else:
        header = PACK_LEN3(first, 127, size)
    return header + payload


class Corks:
    """The sockets with frames corked in this loop turn, written by one callback at the
    next turn. One callback for all: a fan-out to thousands of receivers must not
    schedule one per receiver (that doubled chat's cost per delivery)."""

    def __init__(self) -> None:
        self._sockets: list[PromptSocket] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, socket: PromptSocket) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): nothing carries over
            self._sockets, self._loop = [], loop
        if not self._sockets:
            loop.call_soon(self._write_all)
        self._sockets.append(socket)

    def _write_all(self) -> None:
        sockets, self._sockets = self._sockets, []
        writes = sum(socket.uncork() for socket in sockets)
        if writes:
            WEBSOCKET_WRITES.inc(writes)


CORKS = Corks()


class SilenceWatch:
    """Ends a reader's wait once its connection has been silent for `limit` seconds.

    What `asyncio.timeout` around each wait does, with one timer per `limit` instead
    of one per message (per message it cost ~5 % of a bid's server CPU): the reader
    notes when it last heard something, and the timer, when it fires, either moves to
    the new deadline or cancels the wait (which then raises TimeoutError).
    """

    def __init__(self, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = asyncio.current_task()
        self._limit = limit
        self._heard = self._loop.time()
        self._waiting = False
        self._expired = False
        self._timer = self._loop.call_at(self._heard + limit, self._check)

    async def wait(self, message: Awaitable[Any]) -> Any:
        """`message`'s result, or TimeoutError once the silence lasts `limit`."""
        self._waiting = True
        try:
            result = await message
        except asyncio.CancelledError:
            if self._expired and self._reader is not None:
                self._reader.uncancel()
                raise TimeoutError from None
            raise
        finally:
            self._waiting = False
        self._heard = self._loop.time()
        return result

    def stop(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        deadline = self._heard + self._limit
        if now < deadline:  # heard since the timer was set
            self._timer = self._loop.call_at(deadline, self._check)
        elif not self._waiting or self._reader is None:  # busy with what it heard
            self._timer = self._loop.call_at(now + self._limit, self._check)
        else:
            self._expired = True
            self._reader.cancel()


class DirectRedisFanout(socketio.AsyncRedisManager, DirectFanout):
    """Across processes through Redis; each process delivers with DirectFanout.emit
    (the MRO puts it between AsyncPubSubManager and AsyncManager)."""


# How long closing a session waits for its CLOSE packet to be taken: at once by a
# long-polling client's parked GET, or by its next GET, which a polling client sends
# as soon as the previous one is answered.
CLOSE_PACKET_WAIT = 5.0


# Packets that may wait for one connection before it is dropped (PromptSocket._queue);
# the Engine.IO server's `queue_limit` (setting client_queue_limit) when it has one.
QUEUE_LIMIT = 2000


class PromptSocket(engineio.async_socket.AsyncSocket):
    """An Engine.IO socket that hands packets over without waking a task each time.

    python-engineio queues every packet for a writer task per connection, whose
    `poll()` waits with `asyncio.wait_for` (on Python 3.11 a new task per wake-up):
    the largest cost of fanning chat out to thousands of viewers. Here the wait
    is bounded with `asyncio.timeout` (no task), and while the writer is parked on
    an empty queue, room emits and single packets (acks) go straight to the
    transport as finished frames: nothing is pending before them, so order holds.

    Those frames are corked until the event loop's next turn, like TCP_CORK: what
    one turn sends a connection (a bid's ack, the `auction:outbid` and the
    `auction:updated` of the same group commit) leaves in one write, one system
    call and one TCP segment over loopback, instead of one each.
    """

    _websocket: Any = None  # engineio's websocket wrapper, once upgraded
    _parked = False  # the writer waits in poll() on an empty queue

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Deliveries held by a batching DirectFanout: each message's prepared frames,
        # and the fanout's packets of them (for the queue path).
        self.batch: list[bytes] = []
        self.held_packets: dict[bytes, list[eio_packet.Packet]] = {}
        self._corked: list[bytes] = []  # frames for the transport at the loop's next turn
        self._transport: asyncio.Transport | None = None

    async def send(self, pkt: eio_packet.Packet) -> None:
        """Send `pkt` after any held room deliveries (an ack never overtakes events
        emitted to this client before it): written at once while the writer is parked
        on an empty queue (an ack then costs no wake-up of the writer task), else
        queued like python-engineio does."""
        if self.batch:
            held, self.batch = self.batch, []
            if not self.write_prepared(b"".join(held)):
                for prepared in held:
                    for frame in self.held_packets[prepared]:
                        await self._queue(frame)
        if self._parked:
            if not await self.check_ping_timeout():
                return  # the client is gone: the socket is closing
            if self.write_prepared(websocket_frame(pkt.encode())):
                return
        await self._queue(pkt)

    async def _queue(self, pkt: eio_packet.Packet) -> None:
        """The writer task's way (python-engineio's), behind anything corked; a client
        that lets `queue_limit` packets wait for it is dropped instead."""
        if self.uncork():
            WEBSOCKET_WRITES.inc()
        if self.queue.qsize() >= getattr(self.server, "queue_limit", QUEUE_LIMIT):
            await self._drop_slow_client()
            return
        await super().send(pkt)

    async def _drop_slow_client(self) -> None:
        """Close a connection whose client does not read what it is sent (hostile, or
        hopelessly behind): python-engineio's queue would grow without bound, an ack
        for every event such a client sends. Its TCP connection is aborted (a close
        frame would wait behind the queue); the page reconnects and rejoins."""
        if self.closed or self.closing:
            return
        SLOW_CLIENTS_DROPPED.inc()
        log.info("dropped %s: %d packets waited for it", self.sid, self.queue.qsize())
        transport = self._websocket_transport()
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)
        if transport is not None:
            transport.abort()

    def _websocket_transport(self) -> asyncio.Transport | None:
        writer = self._websocket._sock._writer if self._websocket is not None else None
        return writer.transport if writer is not None else None  # aiohttp's WebSocketWriter

    async def close(
        self, wait: bool = True, abort: bool = False, reason: str | None = None
    ) -> None:
        """python-engineio's, except that waiting for the CLOSE packet to be taken is
        bounded: on long-polling only a GET takes it, and a client that never polls
        again (one that POSTs a packet the server refuses and goes) left the POST's
        handler waiting for ever, a task leaked per request."""
        await super().close(wait=False, abort=abort, reason=reason)
        if wait:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_PACKET_WAIT):
                    await self.queue.join()

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """python-engineio's, except that a body that is not UTF-8 or not a payload
        closes the session with a 400, as a packet it does not know does, where it
        logged a traceback and answered "OK"."""
        try:
            await super().handle_post_request(environ)
        except (UnicodeDecodeError, ValueError) as error:
            raise eio_exceptions.UnknownPacketError() from error

    async def _websocket_handler(self, ws: Any) -> Any:
        self._websocket = ws
        try:
            if self.connected:  # an upgrade from long-polling: python-engineio's way
                return await super()._websocket_handler(ws)
            return await self._serve_websocket(ws)
        finally:
            self._websocket = None

    async def _serve_websocket(self, ws: Any) -> None:
        """python-engineio's handler of a websocket-first connection, except that the
        reader waits for each packet with a SilenceWatch where engineio starts a task
        and an `asyncio.wait_for` per packet (on Python 3.11, three wake-ups)."""
        self.connected = self.upgraded = True
        writer = asyncio.ensure_future(self._write_websocket(ws))
        watch = SilenceWatch(self.server.ping_interval + self.server.ping_timeout)
        while True:
            try:
                data = await watch.wait(ws.wait())
            except (Exception, asyncio.CancelledError):  # closed, silent, cancelled
                break
            if data is None or len(data) > self.server.max_http_buffer_size:
                break
            try:
                await self.receive(eio_packet.Packet(encoded_packet=data))
            except eio_exceptions.UnknownPacketError:
                pass
            except eio_exceptions.SocketIsClosedError:
                break
            except Exception:
                self.server.logger.exception("Unknown receive error")
        watch.stop()
        await self.queue.put(None)  # unlock the writer so that it closes the websocket
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _write_websocket(self, ws: Any) -> None:
        """python-engineio's writer task: what takes the queue."""
        while True:
            try:
                packets = await self.poll()
            except eio_exceptions.QueueEmpty:
                break
            if not packets:
                break
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
        await ws.close()

    def write_prepared(self, frames: bytes) -> bool:
        """Write finished websocket frames if nothing is queued (at the loop's next
        turn, with whatever else this turn sends here); False: use send()."""
        websocket = self._websocket
        if (
            websocket is None
            or not self._parked
            or not self.queue.empty()
            or not self.upgraded
            or self.upgrading
            or self.closed
        ):
            return False
        writer = websocket._sock._writer  # aiohttp's WebSocketWriter
        if writer is None or writer.compress or writer._closing:
            return False
        transport = writer.transport
        if transport.is_closing() or writer.protocol._paused:  # slow reader: the queue waits
            return False
        if not self._corked:
            self._transport = transport
            CORKS.add(self)
        self._corked.append(frames)
        return True

    def uncork(self) -> int:
        """Write what is corked in one write (nothing once the connection is closing);
        returns the number of writes made (0 or 1)."""
        if not self._corked:
            return 0
        frames, self._corked = b"".join(self._corked), []
        transport, self._transport = self._transport, None
        if transport is None or transport.is_closing():
            return 0
        transport.write(frames)
        return 1

    async def poll(self) -> list[eio_packet.Packet]:
        try:
            self._parked = True
            if self._websocket is not None:
                # A websocket's writer. Its pings are written straight, past the queue,
                # so an empty queue says nothing of the client: waiting ping_interval +
                # ping_timeout here closed live connections (every 45 s). The reader
                # watches the client and queues None when it stops.
                first = await self.queue.get()
            else:  # a long-polling GET, which ends with nothing after that long
                async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                    first = await self.queue.get()
            self.queue.task_done()
        except (TimeoutError, asyncio.CancelledError):
            raise eio_exceptions.QueueEmpty() from None
        finally:
            self._parked = False
        if first is None:
            return []
        packets = [first]
        while not self.queue.empty():
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)  # the close marker stays for the next poll
                break
            packets.append(pkt)
        return packets


class PromptServer(socketio.AsyncServer):
    """A Socket.IO server that handles `ordered_events` one at a time per connection,
    in arrival order, without a task each when it can.

    python-socketio starts a task per event (`async_handlers`) so that one client's
    slow handler never holds up its next packets. For an event that is cheap and
    waits only briefly (a bid judged here waits for its group commit), the task costs
    more than the work: when `quick(data)` says so, it runs in the connection's reader.
    Otherwise (a bid forwarded to another process's judge, up to seconds) it goes to
    the connection's lane, one task taking that connection's ordered events in turn,
    so that its other events are not held up behind it. While a lane runs, every
    ordered event of that connection joins it (order holds); a lane holding
    `lane_limit` events makes the reader wait for it to drain (memory stays bounded).
    """

    ordered_events: frozenset[str] = frozenset()
    lane_limit = 16

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Whether an ordered event ([name, *args]) may run in the reader.
        self.quick: Callable[[list[Any]], bool] = lambda data: False
        self._lanes: dict[str, _Lane] = {}  # engine.io sid -> its running lane

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """python-socketio's, except that a packet it cannot parse (a bad type, an
        over-long id, an unexpected attachment) is dropped with a line in the log at
        INFO where it logged a traceback at ERROR for each: a client's garbage is not
        the server's error. Payloads that are not JSON get an answer (JsonPacket)."""
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as error:
            log.info("dropped an unparsable Socket.IO packet from %s: %s", eio_sid, error)

    async def _handle_event(self, eio_sid: str, namespace: str, id: Any, data: Any) -> None:
        if not isinstance(data, list) or not data:
            # No name at all (python-socketio would fail on `data[0]`).
            data = [ClientEventName(None)]
        event = data[0]
        if not _may_be_looked_up(event):
            # python-socketio would call the handler registered under such a name (the
            # server's own connect/disconnect) or fail to look it up (a list): it goes
            # to the catch-all handler as an unknown event instead.
            data = [ClientEventName(event), *data[1:]]
        if not isinstance(event, str) or event not in self.ordered_events:
            return await super()._handle_event(eio_sid, namespace, id, data)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            return None
        lane = self._lanes.get(eio_sid)
        if lane is not None and len(lane.pending) >= self.lane_limit:
            await asyncio.shield(lane.task)  # read no more of this client until it drains
            lane = None
        if lane is None and self.quick(data):
            await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
            return None
        if lane is None:
            lane = self._lanes[eio_sid] = _Lane()
            lane.task = asyncio.ensure_future(self._run_lane(eio_sid, lane))
        lane.pending.append((sid, data, namespace, id))
        return None

    async def _run_lane(self, eio_sid: str, lane: _Lane) -> None:
        try:
            while lane.pending:
                sid, data, namespace, id = lane.pending.popleft()
                try:
                    await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
                except Exception:  # e.g. the ack of a closed connection: the rest still run
                    log.exception("ordered event %r failed", data[0])
        finally:
            if self._lanes.get(eio_sid) is lane:
                del self._lanes[eio_sid]


# Names python-socketio looks up among the server's handlers though a client sent them.
_SERVER_SIDE_NAMES = frozenset({"connect", "disconnect", "*"})


def _may_be_looked_up(event: Any) -> bool:
    """Whether a client's event name may be looked up among the handlers as it is."""
    if isinstance(event, ClientEventName):
        return True
    if isinstance(event, str):
        return event not in _SERVER_SIDE_NAMES
    try:
        hash(event)
    except TypeError:
        return False
    return True


class ClientEventName:
    """A client's event name that must not be looked up as is: matches no handler."""

    __slots__ = ("name",)

    def __init__(self, name: Any) -> None:
        self.name = name

    def __str__(self) -> str:
        return str(self.name)


class _Lane:
    """One connection's ordered events waiting for a task of their own."""

    def __init__(self) -> None:
        self.pending: deque[tuple[str, Any, str, Any]] = deque()
        self.task: asyncio.Future[None]


class PlainWebSocketResponse(WebSocketResponse):
    """No permessage-deflate: a compressed frame would be compressed once per receiver
    (the compressor keeps per-connection state), and chat events are small."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "compress": False})


def use_prompt_sockets() -> None:
    """Make python-engineio create PromptSockets (it looks the class up per connection)
    on uncompressed websockets (its aiohttp driver looks that class up per upgrade)."""
    engineio.async_socket.AsyncSocket = PromptSocket
    engineio.async_drivers.aiohttp.WebSocketResponse = PlainWebSocketResponse
