"""Socket.IO client managers whose room emits cost no task per recipient.

python-socketio's AsyncManager encodes a room emit once but then starts one asyncio
task per recipient. Handing a packet to a connection is only a put on its unbounded
send queue, which never waits, so doing it in a plain loop sends the same bytes in the
same order with far less scheduling work: this is what lets one process fan chat out
to thousands of viewers (bench/chat_fanout.py).
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet


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
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        # A list first: a send may close a dead connection, which edits the room.
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid not in skip:
                for frame in frames:
                    await self.server._send_eio_packet(eio_sid, frame)
        return None


class DirectRedisFanout(socketio.AsyncRedisManager, DirectFanout):
    """Across processes through Redis; each process delivers with DirectFanout.emit
    (the MRO puts it between AsyncPubSubManager and AsyncManager)."""
