"""Redis goes away mid-show and comes back; a process crashes and its claims expire.

A private redis-server is stopped and started again on the same port (empty, as
after a failover). Calls that need Redis answer 503 `backend_unavailable` quickly,
media keeps flowing, and everything works again without restarting anything.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis as RedisClient

from tests.helpers.api import Api
from tests.helpers.cluster import free_port, server_env, spawn_node, start_redis, stop, wait_ready
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer
from tests.helpers.server import RunningServer, add_user, start_server
from tests.helpers.sio import Connect
from tests.media.conftest import showing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

SECRET = "outage-test-secret-key-0123456789"
# Fast enough for a test: a call gives up after 0.5 s, claims live 1.5 s past a crash.
FAST = {"redis_timeout_seconds": 0.5, "live_ttl_seconds": 2, "secret_key": SECRET}


async def until(probe: Callable[[], Awaitable[object]], timeout: float = 15.0) -> object:
    """Poll another process's state until `probe()` is truthy (bounded)."""
    async with asyncio.timeout(timeout):
        while not (value := await probe()):
            await asyncio.sleep(0.1)
    return value


@pytest.fixture
async def servers(settings_factory) -> AsyncIterator[Callable[..., Awaitable[RunningServer]]]:
    """`await servers(redis_url)`: an in-process server sharing the data dir and Redis."""
    started: list[RunningServer] = []

    async def make(redis_url: str) -> RunningServer:
        port = free_port()
        settings = settings_factory(
            redis_url=redis_url, public_url=f"http://127.0.0.1:{port}", **FAST
        )
        started.append(running := await start_server(settings, port))
        return running

    yield make
    for running in reversed(started):
        await running.stop()


async def timed(api: Api, method: str, path: str, **kwargs) -> tuple[int, dict, float]:
    began = time.monotonic()
    code, body = await api.request(method, path, **kwargs)
    return code, body, time.monotonic() - began


async def test_an_outage_answers_503_keeps_media_and_recovers_by_itself(
    servers, connect: Connect, tmp_path: Path
) -> None:
    redis = start_redis(tmp_path / "redis.log")
    try:
        a, b = await servers(redis.url), await servers(redis.url)
        token = await add_user(a, "hostess")
        bob_token = await add_user(a, "bob")
        async with Api(a.url) as api_a, Api(b.url) as api_b:
            stream = await api_a.create_stream(token, title="Outage sale")
            sid = stream["id"]
            await api_a.start(token, sid)
            host_pc = Publisher(RED, 440)
            await host_pc.start(HttpSignal(a.url, f"/whip/{sid}", token))  # home: a
            # A viewer of the home keeps its media through the outage; one on another
            # process is fed over Redis: a still picture during the outage, then it
            # plays on in the same session once Redis is back (below).
            viewer = await Viewer().start(HttpSignal(a.url, f"/whep/{sid}"))
            await viewer.wait_for(showing(viewer, "red", "red"))
            relayed = await Viewer().start(HttpSignal(b.url, f"/whep/{sid}"))
            await relayed.wait_for(showing(relayed, "red", "red"), timeout=20)
            host = await connect(b.url, token, "hostess")
            await host.ok("join", {"stream_id": sid})
            bob = await connect(a.url, bob_token, "bob")
            await bob.ok("join", {"stream_id": sid})

            stop(redis.process)
            frames = viewer.frames
            await viewer.wait_for(lambda: viewer.frames >= frames + 30)  # media flows on
            code, body, took = await timed(api_b, "GET", f"/api/streams/{sid}")
            assert (code, body["error"]["code"]) == (503, "backend_unavailable") and took < 3
            code, body, took = await timed(
                api_b,
                "POST",
                f"/whep/{sid}",
                data="v=0\r\n",
                headers={"Content-Type": "application/sdp"},
            )
            assert (code, body["error"]["code"]) == (503, "backend_unavailable") and took < 3
            began = time.monotonic()
            await host.fails("chat:send", {"text": "anyone there?"}, "backend_unavailable")
            assert time.monotonic() - began < 3
            await host.fails("join", {"stream_id": sid}, "backend_unavailable")
            assert viewer.pc.connectionState == "connected"

            redis = start_redis(tmp_path / "redis.log", redis.port)  # back, and empty
            store = RedisClient.from_url(redis.url, decode_responses=True)
            try:
                # The heartbeat writes back what this empty Redis lost: a's home...
                await until(lambda: _equals(store.get(f"costream:home:{sid}"), a.url))
                # ...and both processes' presence (the failed join left hostess's entry).
                await until(lambda: _viewers(api_b, sid, 2))
            finally:
                await store.aclose()
            await host.ok("join", {"stream_id": sid})
            # Chat crosses processes again once Socket.IO's listener has resubscribed.
            await until(lambda: _chat_reaches(host, bob, "we are back"), timeout=40)
            # The relayed viewer's session plays on (30 frames: more than the still
            # picture held at one a second during the outage would make in 15 s).
            frames = relayed.frames
            await relayed.wait_for(lambda: relayed.frames >= frames + 30, timeout=15)
            assert relayed.pc.connectionState == "connected"
            again = await Viewer().start(HttpSignal(b.url, f"/whep/{sid}"))
            try:
                await again.wait_for(showing(again, "red", "red"))
            finally:
                await again.close()
            await viewer.close()
            await relayed.close()
            await host_pc.close()
    finally:
        stop(redis.process)


async def _equals(pending: Awaitable[object], expected: object) -> bool:
    return await pending == expected


async def _viewers(api: Api, stream_id: str, count: int) -> bool:
    code, body = await api.request("GET", f"/api/streams/{stream_id}")
    return code == 200 and body["stream"]["viewers"] == count


async def _chat_reaches(sender, receiver, text: str) -> bool:
    ack = await sender.call("chat:send", {"text": text})
    if not ack.get("ok"):
        return False
    try:
        await receiver.next("chat:message", lambda m: m["id"] == ack["message"]["id"], 1.5)
    except TimeoutError:
        return False
    return True


async def test_a_crashed_process_leaves_no_home_and_no_presence_behind(
    servers, connect: Connect, tmp_path: Path, redis_server, settings_factory
) -> None:
    a = await servers(redis_server.url)
    token = await add_user(a, "hostess")
    bob_token = await add_user(a, "bob")
    data_dir = settings_factory().data_dir
    env = server_env(data_dir, SECRET, redis_url=redis_server.url, live_ttl_seconds="2")
    node = await asyncio.to_thread(lambda: wait_ready(spawn_node(env, tmp_path / "node.log")))
    try:
        async with Api(a.url) as api:
            stream = await api.create_stream(token, title="Crash sale")
            sid = stream["id"]
            await api.start(token, sid)
            bob = await connect(node.url, bob_token, "bob")
            await bob.ok("join", {"stream_id": sid})
            host_pc = Publisher(RED, 440)
            signal_ = HttpSignal(node.url, f"/whip/{sid}", token)
            await host_pc.start(signal_)  # the node becomes the stream's home
            assert signal_.location and (await api.get_stream(sid))["viewers"] == 1

            node.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(node.process.wait)
            await host_pc.close()
            await until(lambda: _viewers(api, sid, 0), timeout=10)
            store = RedisClient.from_url(redis_server.url, decode_responses=True)
            try:
                await until(lambda: _equals(store.exists(f"costream:home:{sid}"), 0), timeout=10)
            finally:
                await store.aclose()
            # The home expired too: a new publisher is served here, not sent to the dead node.
            again = Publisher(RED, 440)
            try:
                await again.start(HttpSignal(a.url, f"/whip/{sid}", token))
            finally:
                await again.close()
    finally:
        if node.process.poll() is None:
            stop(node.process)
