"""Socket.IO client managers whose room emits cost no task per recipient.

python-socketio's AsyncManager encodes a room emit once but then starts one asyncio
task per recipient. Handing a packet to a connection is only a put on its unbounded
send queue, which never waits, so doing it in a plain loop sends the same bytes in the
same order with far less scheduling work: this is what lets one process fan chat out
to thousands of viewers (bench/chat_fanout.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import engineio.async_socket
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from socketio import packet

from server.counters import DELIVERIES


class DirectFanout(socketio.AsyncManager):
    """AsyncManager with a loop instead of a task per recipient for plain emits."""

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
        wire = [frame.encode() for frame in frames]
        sockets = self.server.eio.sockets
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        # A list first: a send may close a dead connection, which edits the room.
        receivers = list(self.get_participants(namespace, room))
        DELIVERIES.labels(event=event).inc(len(receivers))
        for sid, eio_sid in receivers:
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            for frame, text in zip(frames, wire, strict=True):
                if not (isinstance(socket, PromptSocket) and await socket.write_now(text)):
                    await self.server._send_eio_packet(eio_sid, frame)
        return None


class DirectRedisFanout(socketio.AsyncRedisManager, DirectFanout):
    """Across processes through Redis; each process delivers with DirectFanout.emit
    (the MRO puts it between AsyncPubSubManager and AsyncManager)."""


class PromptSocket(engineio.async_socket.AsyncSocket):
    """An Engine.IO socket that hands packets over without waking a task each time.

    python-engineio queues every packet for a writer task per connection, whose
    `poll()` waits with `asyncio.wait_for` (on Python 3.11 a new task per wake-up):
    the largest cost of fanning chat out to thousands of viewers. Here the wait
    is bounded with `asyncio.timeout` (no task), and while the writer is parked on
    an empty queue a room emit writes the frame to the websocket itself: nothing
    is pending before it, so order holds, and the transport write happens before
    any await.
    """

    _websocket: Any = None  # engineio's websocket wrapper, once upgraded
    _parked = False  # the writer waits in poll() on an empty queue

    async def _websocket_handler(self, ws: Any) -> Any:
        self._websocket = ws
        try:
            return await super()._websocket_handler(ws)
        finally:
            self._websocket = None

    async def write_now(self, text: str) -> bool:
        """Write an encoded packet directly if nothing is queued; False: use send()."""
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
        try:
            await websocket.send(text)
        except Exception:  # a closing connection: let the queue path deal with it
            return False
        return True

    async def poll(self) -> list[eio_packet.Packet]:
        try:
            self._parked = True
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


def use_prompt_sockets() -> None:
    """Make python-engineio create PromptSockets (it looks the class up per connection)."""
    engineio.async_socket.AsyncSocket = PromptSocket
