"""The fuzz suite: Hypothesis-generated REST bodies, Socket.IO payloads and mutated SDP
offers against a live show. Zero 500s, zero dropped connections, and the show goes on:
a viewer watching throughout and one arriving afterwards both get the host's picture.
`bench/fuzz.py --examples N` runs the same fuzzers longer."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest

from server.counters import SLOW_CLIENTS_DROPPED
from signaling.fanout import CLOSE_PACKET_WAIT
from tests.helpers.api import Api
from tests.helpers.fuzz import Target, genuine_offer, run_all
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer, looks
from tests.helpers.server import RunningServer, add_user

# The server (aiortc, aioice) uses `random` on the event loop while Hypothesis generates
# examples in its worker thread; Hypothesis mistakes that for strategies using `random`.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


async def live_target(server: RunningServer, api: Api) -> Target:
    tokens = {"host": await add_user(server, "hostess"), "viewer": await add_user(server, "bob")}
    stream = await api.create_stream(tokens["host"], title="Fuzzed show")
    await api.start(tokens["host"], stream["id"])
    status, body = await api.request(
        "POST",
        f"/api/streams/{stream['id']}/listings",
        token=tokens["host"],
        json={"title": "Target", "price_cents": 500, "quantity": 100_000},
    )
    assert status == 201, body
    listing_id = body["listing"]["id"]
    # A running auction and an open giveaway, long enough to outlast the run.
    status, body = await api.request(
        "POST",
        f"/api/streams/{stream['id']}/listings",
        token=tokens["host"],
        json={"title": "Lot", "price_cents": 100, "format": "auction", "auction_seconds": 300},
    )
    assert status == 201, body
    auction_listing_id = body["listing"]["id"]
    status, body = await api.request(
        "POST", f"/api/listings/{auction_listing_id}/auction/start", token=tokens["host"]
    )
    assert status == 200, body
    status, body = await api.request(
        "POST",
        f"/api/streams/{stream['id']}/giveaways",
        token=tokens["host"],
        json={"title": "Prize", "seconds": 600},
    )
    assert status == 201, body
    return Target(
        server.url,
        stream["id"],
        listing_id,
        tokens,
        await genuine_offer(),
        auction_listing_id=auction_listing_id,
        giveaway_id=body["giveaway"]["id"],
    )


def red(viewer: Viewer):
    return lambda: viewer.frame is not None and looks(viewer.halves()[0], "red")


async def test_fuzzed_inputs_never_hurt_the_show(server_factory) -> None:
    server = await server_factory(media_connect_timeout=2.0, max_sessions_per_address=1000)
    async with Api(server.url) as api:
        target = await live_target(server, api)
        signal = HttpSignal(server.url, f"/whip/{target.stream_id}", target.tokens["host"])
        host = await Publisher(RED, 440).start(signal)
        watching = await Viewer().start(HttpSignal(server.url, f"/whep/{target.stream_id}"))
        try:
            await watching.wait_for(red(watching), timeout=20)
            report, seconds = await run_all(target, api, rest=40, realtime=40, sdp=12)
            assert report.failures == []
            assert seconds < 60, f"the fuzz run took {seconds:.0f} s"
            # The show went on for the viewer who watched throughout, and for a new one.
            frames = watching.frames
            await watching.wait_for(lambda: watching.frames > frames + 10)
            late = await Viewer().start(HttpSignal(server.url, f"/whep/{target.stream_id}"))
            try:
                await late.wait_for(red(late), timeout=20)
            finally:
                await late.close()
        finally:
            await watching.close()
            await host.close()


async def test_a_deeply_nested_socketio_frame_does_not_drop_the_connection(
    server: RunningServer,
) -> None:
    """30 000 nested lists in one event: too deep for any JSON encoder, so sent raw."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket") as ws,
    ):
        assert (await ws.receive_str()).startswith("0")  # engine.io open
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")  # socket.io connected
        await ws.send_str('421["chat:send",' + "[" * 30_000 + "]" * 30_000 + "]")
        await ws.send_str('422["leave",{}]')
        answers = []
        while len(answers) < 2:
            message = await ws.receive(timeout=10)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            if message.data == "2":  # engine.io ping
                await ws.send_str("3")
                continue
            answers.append(message.data)
        acks = {answer[2]: json.loads(answer[3:])[0] for answer in answers}
        assert acks["2"] == {"ok": True}
        assert acks["1"] == {
            "ok": False,
            "error": {"code": "invalid_payload", "message": "the payload is nested too deeply"},
        }


async def raw_socketio(
    http: aiohttp.ClientSession, url: str, auth: dict[str, str] | None = None
) -> aiohttp.ClientWebSocketResponse:
    """A websocket past the Socket.IO handshake, for frames no client library sends."""
    ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.receive_str()).startswith("0")  # engine.io open
    await ws.send_str("40" + (json.dumps(auth) if auth else ""))
    assert (await ws.receive_str()).startswith("40")  # socket.io connected
    return ws


async def acks(ws: aiohttp.ClientWebSocketResponse, *ids: int) -> dict[int, Any]:
    """Acks until those of `ids` have come, by id (engine.io pings answered on the way)."""
    answers: dict[int, Any] = {}
    while not set(ids) <= set(answers):
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        if message.data == "2":
            await ws.send_str("3")
        elif message.data.startswith("43"):
            ack_id, _, body = message.data[2:].partition("[")
            answers[int(ack_id)] = json.loads("[" + body)[0]
    return answers


@pytest.mark.parametrize("event", ["connect", "disconnect", "*"])
async def test_reserved_event_names_from_a_client_are_unknown_events(
    server: RunningServer, event: str
) -> None:
    """python-socketio calls the handler registered under an event's name, reserved or
    not: a client sending "disconnect" ran the server's disconnect (dropping its seat
    while the socket stayed), "connect" re-ran the handshake, "*" crashed the catch-all
    and got no answer."""
    token = await add_user(server, "bob")
    async with aiohttp.ClientSession() as http, Api(server.url) as api:
        stream = await api.create_stream(await add_user(server, "hostess"), title="Show")
        ws = await raw_socketio(http, server.url, {"token": token})
        await ws.send_str("421" + json.dumps(["join", {"stream_id": stream["id"]}]))
        assert (await acks(ws, 1))[1]["ok"] is True
        await ws.send_str("422" + json.dumps([event]))
        await ws.send_str("423" + json.dumps([event, {}, {"token": "x.y"}]))
        await ws.send_str("424" + json.dumps(["chat:send", {"text": "still here"}]))
        answers = await acks(ws, 2, 3, 4)
        for ack_id in (2, 3):
            assert answers[ack_id] == {
                "ok": False,
                "error": {"code": "unknown_event", "message": f"no such event {event!r}"},
            }
        # Still signed in and in the stream.
        assert answers[4]["ok"] is True, answers[4]
        assert answers[4]["message"]["user"] == "bob"
        await ws.close()


@pytest.mark.parametrize(
    ("frame", "has_id"),
    [
        *[(frame, True) for frame in ["421[]", "421[1,2]", "421[null]", "421[[1],2]"]],
        *[(frame, True) for frame in ['421[{"a":1}]', "421[1.5]", "421{}", '421"x"']],
        *[(frame, False) for frame in ["42[]", "42{}", "42"]],
    ],
)
async def test_event_frames_without_a_string_name_are_unknown_events(
    server: RunningServer, frame: str, has_id: bool
) -> None:
    """Answered with `unknown_event` when they carry an ack id; the connection goes on."""
    async with aiohttp.ClientSession() as http:
        ws = await raw_socketio(http, server.url)
        await ws.send_str(frame)
        await ws.send_str('429["leave",{}]')
        answers = await acks(ws, 9, *([1] if has_id else []))
        assert answers[9] == {"ok": True}
        if has_id:
            assert answers[1]["ok"] is False
            assert answers[1]["error"]["code"] == "unknown_event"
        await ws.close()


async def polling_session(http: aiohttp.ClientSession, url: str) -> str:
    """A long-polling Engine.IO session past the Socket.IO handshake; its URL."""
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    async with http.get(base) as response:
        sid = json.loads((await response.text())[1:])["sid"]
    session = f"{base}&sid={sid}"
    async with http.post(session, data=b"40") as response:
        assert response.status == 200
    async with http.get(session) as response:
        assert (await response.text()).startswith("40")
    return session


@pytest.mark.parametrize("body", [b"6", b"2probe", b"\x1e\x1e", b"\x00\xff", b'42["\xed\xa0\x80"]'])
async def test_a_refused_long_polling_post_is_answered_and_ends_the_session(
    server: RunningServer, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A packet the server does not take from a client (noop, ping), an empty packet or
    a body that is not UTF-8, with no GET waiting: python-engineio closed the session
    and waited for a GET to take the CLOSE packet, for ever (a task leaked per POST),
    or logged a traceback and answered "OK"."""
    async with aiohttp.ClientSession() as http:
        session = await polling_session(http, server.url)
        async with asyncio.timeout(CLOSE_PACKET_WAIT + 10):
            async with http.post(session, data=body) as response:
                assert response.status == 400
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
        async with http.get(session) as response:
            assert response.status == 400  # the session is gone


async def test_unparsable_socketio_packets_are_answered_or_dropped_without_tracebacks(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await raw_socketio(http, server.url)
        await ws.send_str("421" + "1" * 200)  # an id too long to be one
        await ws.send_str('422["join",{"stream_id":')  # not JSON
        await ws.send_str("49")  # no such packet type
        await ws.send_str('423["leave",{}]')
        answers = await acks(ws, 2, 3)
        assert answers[2] == {
            "ok": False,
            "error": {"code": "invalid_payload", "message": "the payload is not JSON"},
        }
        assert answers[3] == {"ok": True}
        await ws.close()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def masked_frame(text: str) -> bytes:
    """A client's websocket text frame (zero mask), built by hand: this client never
    reads, which no websocket library lets one do."""
    data = text.encode()
    size = len(data)
    header = bytes([0x81, 0x80 | size]) if size < 126 else b"\x81\xfe" + size.to_bytes(2, "big")
    return header + b"\0\0\0\0" + data


async def test_a_client_that_sends_but_never_reads_is_dropped(server_factory) -> None:
    """Every event gets an ack; a client that does not read them made the server queue
    them without bound (120 000 events left 70 000 acks waiting, ~25 MiB). With
    `client_queue_limit` packets waiting, its connection is aborted; others go on."""
    server = await server_factory(client_queue_limit=100)
    dropped = SLOW_CLIENTS_DROPPED._value.get()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert b"101" in await reader.readline()  # switching protocols; nothing read after
    writer.write(masked_frame("40"))
    event = '["user:suggest",{"prefix":"' + "x" * 300 + '"}]'
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        for burst in range(300):  # ~170 MB at most; dropped after a few MB
            writer.write(b"".join(masked_frame(f"42{burst}{i:04}{event}") for i in range(2000)))
            await writer.drain()
    writer.close()
    assert SLOW_CLIENTS_DROPPED._value.get() == dropped + 1
    async with aiohttp.ClientSession() as http:  # the server goes on
        ws = await raw_socketio(http, server.url)
        await ws.send_str('421["leave",{}]')
        assert (await acks(ws, 1))[1] == {"ok": True}
        await ws.close()
