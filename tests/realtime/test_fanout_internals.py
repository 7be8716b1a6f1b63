"""signaling/fanout.py writes room emits as prepared websocket frames, relying on
python-engineio's and aiohttp's internals: these tests fail loudly when they change."""

from __future__ import annotations

import inspect
import json

import aiohttp
import engineio.async_drivers.aiohttp
import engineio.async_server
import engineio.async_socket
import socketio
from aiohttp._websocket.writer import WebSocketWriter

from server.counters import PREPARED_WRITES
from signaling.fanout import (
    PlainWebSocketResponse,
    PromptSocket,
    use_prompt_sockets,
)
from tests.helpers.room import Room


def test_the_internals_fanout_relies_on_are_there() -> None:
    use_prompt_sockets()
    # engineio: the socket class looked up per connection, its queue, flags and writer.
    assert engineio.async_socket.AsyncSocket is PromptSocket
    assert "AsyncSocket(" in inspect.getsource(engineio.async_server.AsyncServer)
    for name in ("_websocket_handler", "poll", "send"):
        assert callable(getattr(PromptSocket, name))
    socket_source = inspect.getsource(engineio.base_socket.BaseSocket)
    for field in ("self.queue", "self.upgraded", "self.upgrading", "self.closed"):
        assert field in socket_source
    assert callable(socketio.AsyncServer._send_eio_packet)
    # The aiohttp driver builds its WebSocketResponse by this module-level name.
    assert engineio.async_drivers.aiohttp.WebSocketResponse is PlainWebSocketResponse
    assert "self._sock = WebSocketResponse(" in inspect.getsource(
        engineio.async_drivers.aiohttp.WebSocket
    )
    # aiohttp's writer: the fields write_prepared reads.
    writer_source = inspect.getsource(WebSocketWriter)
    for field in ("self.transport", "self.protocol", "self.compress", "self._closing"):
        assert field in writer_source
    assert callable(socketio.AsyncManager.get_participants)


async def test_room_emits_are_written_as_prepared_frames_in_order(room: Room) -> None:
    # A client offering permessage-deflate gets none: prepared frames stay valid.
    before = PREPARED_WRITES._value.get()
    async with aiohttp.ClientSession() as http:
        url = room.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        async with http.ws_connect(url, compress=15) as ws:
            assert ws.compress == 0
            assert (await ws.receive_str()).startswith("0")
            await ws.send_str("40")
            assert (await ws.receive_str()).startswith("40")
            await ws.send_str("421" + json.dumps(["join", {"stream_id": room.stream_id}]))
            assert (await ws.receive_str()).startswith("431")
            bob = await room.client("bob")
            for i in range(5):
                await bob.ok("chat:send", {"text": f"message {i}"})
            texts = []
            while len(texts) < 5:
                data = await ws.receive_str()
                if data.startswith('42["chat:message"'):
                    texts.append(json.loads(data[2:])[1]["text"])
    assert texts == [f"message {i}" for i in range(5)]
    assert PREPARED_WRITES._value.get() - before >= 5
