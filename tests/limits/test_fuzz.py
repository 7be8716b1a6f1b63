"""The fuzz suite: Hypothesis-generated REST bodies, Socket.IO payloads and mutated SDP
offers against a live show. Zero 500s, zero dropped connections, and the show goes on:
a viewer watching throughout and one arriving afterwards both get the host's picture.
`bench/fuzz.py --examples N` runs the same fuzzers longer."""

from __future__ import annotations

import json

import aiohttp
import pytest

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
    return Target(server.url, stream["id"], body["listing"]["id"], tokens, await genuine_offer())


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
