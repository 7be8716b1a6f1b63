"""signaling/fanout.py writes room emits as prepared websocket frames, relying on
python-engineio's and aiohttp's internals: these tests fail loudly when they change."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import engineio.async_drivers.aiohttp
import engineio.async_server
import engineio.async_socket
import pytest
import socketio
from aiohttp._websocket.writer import WebSocketWriter

from server.counters import DELIVERIES, PREPARED_WRITES, WEBSOCKET_WRITES
from server.keys import AUCTIONS, REALTIME
from signaling.fanout import (
    PlainWebSocketResponse,
    PromptServer,
    PromptSocket,
    use_prompt_sockets,
)
from signaling.realtime import ORDERED_EVENTS, JsonPacket
from tests.conftest import ServerFactory
from tests.helpers.room import Room
from tests.helpers.server import RunningServer
from tests.helpers.sio import Client
from tests.selling.conftest import new_listing


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
    # engineio's websocket handler, which PromptSocket._serve_websocket mirrors for
    # websocket-first connections (all but its per-packet task and wait_for).
    engineio_socket = PromptSocket.__bases__[0]  # the module's name now points at ours
    handler = inspect.getsource(engineio_socket._websocket_handler)
    for line in (
        "if self.connected:",
        "self.upgraded = True",
        "packets = await self.poll()",
        "await ws.send(pkt.encode())",
        "await ws.close()",
        "wait_task = asyncio.ensure_future(websocket_wait())",
        "self.server.ping_interval + self.server.ping_timeout)",
        "len(data) > self.server.max_http_buffer_size",
        "pkt = packet.Packet(encoded_packet=p)",
        "await self.receive(pkt)",
        "except exceptions.SocketIsClosedError:",
        "await self.queue.put(None)",
        "reason=self.server.reason.TRANSPORT_CLOSE)",
    ):
        assert line in handler, line
    # engineio's send: the ping check it does before queueing (PromptSocket.send too).
    assert "check_ping_timeout()" in inspect.getsource(engineio_socket.send)
    # socketio: the task per event that PromptServer skips for ORDERED_EVENTS, and the
    # coroutine it awaits instead (with these parameters, in this order).
    handle_event = inspect.getsource(socketio.AsyncServer._handle_event)
    assert "if self.async_handlers:" in handle_event
    assert "self._handle_event_internal, self, sid, eio_sid, data" in handle_event
    internal = inspect.signature(socketio.AsyncServer._handle_event_internal)
    assert list(internal.parameters) == [
        "self",
        "server",
        "sid",
        "eio_sid",
        "data",
        "namespace",
        "id",
    ]
    assert "auction:bid" in ORDERED_EVENTS
    # engineio's close (which PromptSocket.close calls with wait=False, then waits for
    # the queue itself, bounded) and the POST handler whose decode errors it maps.
    close = inspect.signature(engineio_socket.close)
    assert list(close.parameters) == ["self", "wait", "abort", "reason"]
    assert "await self.queue.join()" in inspect.getsource(engineio_socket.close)
    post = inspect.getsource(engineio_socket.handle_post_request)
    assert ".decode('utf-8')" in post and "payload.Payload(encoded_payload=body)" in post
    # socketio's packet dispatch, whose parse errors PromptServer drops (ValueError).
    dispatch = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    assert "pkt = self.packet_class(encoded_packet=data)" in dispatch
    assert "raise ValueError('Unknown packet type.')" in dispatch
    # socketio's packet decode reads the ack id before the JSON (JsonPacket.decode).
    decode = inspect.getsource(socketio.packet.Packet.decode)
    assert decode.index("self.id = int(") < decode.index("self.data = self.json.loads(ep)")


async def auction_room(room: Room) -> tuple[str, Client, Client, Client]:
    """A running auction in the room, with the host, bob and carol joined."""
    listing = await new_listing(
        room, format="auction", price_cents=1000, increment_cents=100, auction_seconds=300
    )
    host, bob, carol = [await room.client(name) for name in ("hostess", "bob", "carol")]
    status, _ = await room.api.request(
        "POST", f"/api/listings/{listing['id']}/auction/start", token=room.tokens["hostess"]
    )
    assert status == 200
    for client in (host, bob, carol):
        await client.next("auction:started")
    return listing["id"], host, bob, carol


def delivered() -> float:
    return sum(
        DELIVERIES.labels(event=e)._value.get() for e in ("auction:updated", "auction:outbid")
    )


async def test_what_one_turn_sends_a_connection_leaves_in_one_write(room: Room) -> None:
    listing_id, host, bob, carol = await auction_room(room)
    ack = await bob.ok("auction:bid", {"listing_id": listing_id, "amount_cents": 1000})
    for client in (host, bob, carol):
        await client.next("auction:updated", lambda d: d["auction"]["bid_count"] == 1)
    frames, writes = delivered(), WEBSOCKET_WRITES._value.get()
    # Carol outbids Bob: her ack and the commit's `auction:updated` to her, Bob's
    # `auction:outbid` and `auction:updated`, the host's `auction:updated`: 5 frames
    # in one loop turn, one write per connection.
    ack = await carol.ok("auction:bid", {"listing_id": listing_id, "amount_cents": 1100})
    assert ack["auction"]["high_bidder"] == "carol"
    await bob.next("auction:outbid")
    for client in (host, bob, carol):
        await client.next("auction:updated", lambda d: d["auction"]["bid_count"] == 2)
    frames = delivered() - frames + 1  # + the ack
    writes = WEBSOCKET_WRITES._value.get() - writes
    assert frames >= 5
    assert writes <= frames - 2, (frames, writes)


@asynccontextmanager
async def socketio_by_hand(room: Room, user: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """`user`'s websocket-first Socket.IO connection, spoken packet by packet."""
    async with aiohttp.ClientSession() as http:
        url = room.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        async with http.ws_connect(url) as ws:
            assert (await ws.receive_str()).startswith("0")
            await ws.send_str("40" + json.dumps({"token": room.tokens[user]}))
            assert (await ws.receive_str()).startswith("40")
            yield ws


async def acks_of(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[tuple[int, Any]]:
    """The next `count` acks (single-digit ids), as (id, answer) in arrival order."""
    acks = []
    while len(acks) < count:
        data = await ws.receive_str(timeout=10)
        if data.startswith("43"):
            acks.append((int(data[2]), json.loads(data[3:])[0]))
    return acks


async def test_a_connections_pipelined_bids_are_judged_and_acked_in_order(room: Room) -> None:
    sio = room.server.app[REALTIME].sio
    assert isinstance(sio, PromptServer) and "auction:bid" in sio.ordered_events
    listing_id, *_ = await auction_room(room)
    async with socketio_by_hand(room, "bob") as ws:
        # Three bids sent back to back, before any ack: each raises the one before.
        for ack_id, amount in ((1, 1000), (2, 1100), (3, 1200)):
            bid = ["auction:bid", {"listing_id": listing_id, "amount_cents": amount}]
            await ws.send_str(f"42{ack_id}" + json.dumps(bid))
        acks = await acks_of(ws, 3)
    assert [ack_id for ack_id, _ in acks] == [1, 2, 3]
    assert [(a["ok"], a["auction"]["high_bid_cents"]) for _, a in acks] == [
        (True, 1000),
        (True, 1100),
        (True, 1200),
    ]
    assert [a["auction"]["bid_count"] for _, a in acks] == [1, 2, 3]


async def test_bids_before_the_judge_is_loaded_go_through_a_bounded_lane_in_order(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first bid on an auction this process has not loaded is not quick: it starts
    the connection's lane, later bids join it, and a full lane (limit 2 here) makes the
    reader wait for it to drain; every ack comes, in order, and the lane ends."""
    sio = room.server.app[REALTIME].sio
    monkeypatch.setattr(sio, "lane_limit", 2)
    listing_id, *_ = await auction_room(room)
    assert not room.server.app[AUCTIONS].judged_here(listing_id)
    async with socketio_by_hand(room, "bob") as ws:
        for ack_id in range(1, 7):
            amount = 900 + 100 * ack_id
            bid = ["auction:bid", {"listing_id": listing_id, "amount_cents": amount}]
            await ws.send_str(f"42{ack_id}" + json.dumps(bid))
        acks = await acks_of(ws, 6)
    assert [ack_id for ack_id, _ in acks] == [1, 2, 3, 4, 5, 6]
    assert [a["auction"]["high_bid_cents"] for _, a in acks] == [
        1000,
        1100,
        1200,
        1300,
        1400,
        1500,
    ]
    assert room.server.app[AUCTIONS].judged_here(listing_id)
    assert sio._lanes == {}


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


async def windowed_room(
    server_factory: ServerFactory,
    api_factory: Callable[[RunningServer], Awaitable[Room]],
    min_receivers: int,
) -> tuple[Room, Client, Client]:
    """A room whose emits to `min_receivers` or more coalesce in 1 s windows, with the
    host and bob in it. (Tests ask for server_factory before api_factory: its servers
    then stop after the room's clients have closed.)"""
    room = await api_factory(
        await server_factory(socketio_batch_ms=1000, socketio_batch_min_receivers=min_receivers)
    )
    return room, await room.client("hostess"), await room.client("bob")


async def test_batched_deliveries_are_held_then_written_in_order(
    server_factory: ServerFactory, api_factory: Callable[[RunningServer], Awaitable[Room]]
) -> None:
    room, host, bob = await windowed_room(server_factory, api_factory, min_receivers=1)
    # The joins' own emits may have opened a window: close it by hand (a window that
    # held something opens one more, which holds nothing): now the room is quiet.
    await host.barrier()
    fanout = room.server.app[REALTIME].sio.manager
    for _ in range(2):
        if fanout._flush_at is not None:
            fanout._flush_at.cancel()
            fanout._flush()
    assert fanout._flush_at is None
    before = PREPARED_WRITES._value.get()
    texts = [f"batched {i}" for i in range(3)]
    sent_at = time.monotonic()
    for text in texts:
        await bob.ok("chat:send", {"text": text})
    # The first message after a quiet spell is written at once; the rest wait for the
    # window to close and arrive together, in order.
    await host.next("chat:message", lambda d: d["text"] == texts[0], timeout=5)
    assert time.monotonic() - sent_at < 0.9
    await host.next("chat:message", lambda d: d["text"] == texts[-1], timeout=5)
    assert time.monotonic() - sent_at >= 0.99  # held for the window, not written at once
    await bob.next("chat:message", lambda d: d["text"] == texts[-1], timeout=5)
    for client in (host, bob):
        assert [m["text"] for m in client.seen("chat:message")] == texts
    assert PREPARED_WRITES._value.get() - before >= 6  # straight to the websockets


async def test_a_room_below_the_threshold_is_never_held(
    server_factory: ServerFactory, api_factory: Callable[[RunningServer], Awaitable[Room]]
) -> None:
    _, host, bob = await windowed_room(server_factory, api_factory, min_receivers=3)
    texts = [f"prompt {i}" for i in range(3)]
    sent_at = time.monotonic()
    for text in texts:
        await bob.ok("chat:send", {"text": text})
    await host.next("chat:message", lambda d: d["text"] == texts[-1], timeout=5)
    assert time.monotonic() - sent_at < 0.9  # two receivers: written at once, no window
    assert [m["text"] for m in host.seen("chat:message")] == texts


async def test_packets_carry_json_and_a_clients_binary_event_still_decodes(room: Room) -> None:
    sio = room.server.app[REALTIME].sio
    assert sio.packet_class is JsonPacket
    # The stock packet looks for bytes in what it carries only when this flag says so.
    assert "self.uses_binary_events" in inspect.getsource(socketio.packet.Packet.__init__)
    ack = JsonPacket(socketio.packet.ACK, data=[{"ok": True}], id=7)
    assert (ack.packet_type, ack.encode()) == (socketio.packet.ACK, '37[{"ok":true}]')
    with pytest.raises(TypeError):  # bytes fail loudly instead of leaving as attachments
        JsonPacket(socketio.packet.EVENT, data=["x", b"\0"]).encode()
    listing_id, *_ = await auction_room(room)
    async with socketio_by_hand(room, "bob") as ws:
        # A binary event (one attachment) is put back together and answered...
        await ws.send_str('451-1["auction:bid",{"_placeholder":true,"num":0}]')
        await ws.send_bytes(b"\x01\x02")
        # ...and the connection goes on: a plain bid after it.
        bid = ["auction:bid", {"listing_id": listing_id, "amount_cents": 1000}]
        await ws.send_str("422" + json.dumps(bid))
        acks = dict(await acks_of(ws, 2))
    assert acks[1]["ok"] is False and acks[1]["error"]["code"] == "invalid_payload"
    assert acks[2]["ok"] is True and acks[2]["auction"]["high_bid_cents"] == 1000


async def test_a_websocket_stays_while_it_answers_pings_and_goes_when_silent(room: Room) -> None:
    eio = room.server.app[REALTIME].sio.eio
    eio.ping_interval, eio.ping_timeout = 0.2, 0.2  # a connection may be silent 0.4 s
    async with socketio_by_hand(room, "bob") as ws:
        # Pings are written straight to a parked writer, so its queue stays empty:
        # answering them must keep the connection, well past the limit (4 pings).
        for _ in range(4):
            while (await ws.receive_str()) != "2":
                pass
            await ws.send_str("3")
        assert not ws.closed
    async with socketio_by_hand(room, "carol") as ws, asyncio.timeout(10):
        while (message := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
            pass  # its pings, unanswered
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_a_websocket_upgraded_from_polling_stays_while_it_answers_pings(room: Room) -> None:
    eio = room.server.app[REALTIME].sio.eio
    eio.ping_interval, eio.ping_timeout = 0.2, 0.2  # a connection may be silent 0.4 s
    polling = room.url + "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(polling) as response:
            sid = json.loads((await response.text())[1:])["sid"]
        polling += f"&sid={sid}"
        connect = "40" + json.dumps({"token": room.tokens["bob"]})
        async with http.post(polling, data=connect) as response:
            assert response.status == 200
        async with http.get(polling) as response:
            assert (await response.text()).startswith("40")
        url = room.url.replace("http", "ws", 1) + f"/socket.io/?EIO=4&transport=websocket&sid={sid}"
        async with http.ws_connect(url) as ws:
            await ws.send_str("2probe")
            assert await ws.receive_str() == "3probe"
            await ws.send_str("5")  # upgraded: python-engineio's own handler reads it
            for _ in range(4):  # well past the limit
                while (await ws.receive_str()) != "2":
                    pass
                await ws.send_str("3")
            assert not ws.closed
