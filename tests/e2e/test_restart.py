"""A `costream serve` process dies (SIGKILL) or is stopped (SIGTERM) mid-show.

Two real runs on one data dir: the show, its chat, listings and orders survive a kill,
and the pages (studio, watch, Socket.IO) come back by themselves; SIGTERM drains.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from media.ice import restrict_host_addresses
from tests.helpers.api import Api
from tests.helpers.browser import chromium, frames_advance, solid_y4m
from tests.helpers.cluster import Node, server_env, spawn_node, stop, wait_ready
from tests.helpers.peers import HttpSignal, Viewer
from tests.helpers.sio import Client
from tests.media.conftest import showing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SECRET = "restart-test-secret-key-0123456789"


async def started(env: dict[str, str], log: Path, port: int | None = None) -> Node:
    return await asyncio.to_thread(lambda: wait_ready(spawn_node(env, log, port)))


@pytest.fixture
async def nodes() -> AsyncIterator[list[Node]]:
    """Processes started by the test; any still running are stopped at teardown."""
    running: list[Node] = []
    yield running
    for node in running:
        if node.process.poll() is None:
            await asyncio.to_thread(stop, node.process)


@dataclass
class Scene:
    """A `costream serve` run with hostess's live show and a listing of 5 scarves."""

    env: dict[str, str]
    node: Node
    api: Api
    host_token: str
    bob_token: str
    stream_id: str
    listing: dict


@pytest.fixture
async def scene(tmp_path: Path, nodes: list[Node]) -> AsyncIterator[Scene]:
    env = server_env(tmp_path / "data", SECRET)
    nodes.append(node := await started(env, tmp_path / "serve.log"))
    async with Api(node.url) as api:
        yield Scene(env, node, api, *await open_show(api))


async def open_show(api: Api) -> tuple[str, str, str, dict]:
    """(host token, bob token, stream id, listing)."""
    host_token, _ = await api.register("hostess")
    bob_token, _ = await api.register("bob")
    stream = await api.create_stream(host_token, title="Restart sale")
    await api.start(host_token, stream["id"])
    listing = await api._expect(
        201,
        "POST",
        f"/api/streams/{stream['id']}/listings",
        token=host_token,
        json={"title": "Scarf", "price_cents": 1500, "quantity": 5},
    )
    return host_token, bob_token, stream["id"], listing["listing"]


async def wait_for_text(page, selector: str, text: str, timeout: float = 30) -> None:
    await page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent.includes(t)",
        arg=[selector, text],
        timeout=timeout * 1000,
    )


@pytest.mark.browser
async def test_after_a_kill_the_show_is_intact_and_pages_recover_by_themselves(
    tmp_path: Path, nodes: list[Node], scene: Scene
) -> None:
    env, first, api = scene.env, scene.node, scene.api
    host_token, bob_token, sid, listing = (
        scene.host_token,
        scene.bob_token,
        scene.stream_id,
        scene.listing,
    )
    await api._expect(201, "POST", f"/api/listings/{listing['id']}/buy", token=bob_token)
    bob = await Client(first.url, bob_token, "bob").connect()
    await bob.ok("join", {"stream_id": sid})
    await bob.ok("chat:send", {"text": "is the blue one left?"})
    await bob.close()

    red = solid_y4m(tmp_path / "red.y4m", (220, 30, 30))
    async with (
        chromium(first.url, tmp_path / "host", fake_video=red) as host,
        chromium(first.url, tmp_path / "viewer") as viewer,
    ):
        await host.sign_in_as(host_token, "hostess")
        studio = await host.open(f"/studio/{sid}")
        await studio.wait_for_selector("#golive:not([disabled])")
        await studio.click("#golive")
        watch = await viewer.open(f"/watch/{sid}")
        await frames_advance(watch, "#player")
        await wait_for_text(watch, "#chat", "is the blue one left?")

        first.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.process.wait)
        port = int(first.url.rsplit(":", 1)[1])
        nodes.append(second := await started(env, tmp_path / "serve.log", port))

        # The show, its listings, orders and chat history are all there.
        assert (await api.get_stream(sid))["status"] == "live"
        _, body = await api.request("GET", f"/api/streams/{sid}/listings")
        assert [(item["title"], item["remaining"]) for item in body["listings"]] == [("Scarf", 4)]
        _, body = await api.request("GET", f"/api/streams/{sid}/orders", token=host_token)
        assert [order["buyer"] for order in body["orders"]] == ["bob"]
        bob = await Client(second.url, bob_token, "bob").connect()
        ack = await bob.ok("join", {"stream_id": sid})
        assert [m["text"] for m in ack["chat"]] == ["is the blue one left?"]

        # The studio republished by itself: a new viewer sees the host's camera.
        restrict_host_addresses(("127.0.0.1",))  # no in-process server did it for us
        probe = Viewer()
        try:
            await probe.start(HttpSignal(second.url, f"/whep/{sid}"))
            await probe.wait_for(showing(probe, "red", "red"), timeout=60)
        finally:
            await probe.close()
        # The watch page re-played, and its Socket.IO rejoined (it hears new chat).
        await frames_advance(watch, "#player", timeout=30)
        await bob.ok("chat:send", {"text": "back again"})
        await wait_for_text(watch, "#chat", "back again")
        await bob.close()
        assert not host.errors and not viewer.errors


async def test_sigterm_refuses_new_sessions_finishes_a_buy_in_flight_and_exits(
    tmp_path: Path, nodes: list[Node], scene: Scene
) -> None:
    env, node = scene.env, scene.node
    host_token, bob_token, sid, listing = (
        scene.host_token,
        scene.bob_token,
        scene.stream_id,
        scene.listing,
    )
    bob = await Client(node.url, bob_token, "bob").connect()
    await bob.ok("join", {"stream_id": sid})

    # A buy whose body is still arriving when the signal comes: it is in flight.
    rest_of_body = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"quantity": '
        await rest_of_body.wait()
        yield b"2}"

    async with aiohttp.ClientSession() as http:
        buy = asyncio.ensure_future(
            http.post(
                f"{node.url}/api/listings/{listing['id']}/buy",
                data=slow_body(),
                headers={
                    "Authorization": f"Bearer {bob_token}",
                    "Content-Type": "application/json",
                },
            )
        )
        await until(lambda: health(http, node.url), lambda h: h[1]["inflight"] >= 1)

        node.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        await until(lambda: health(http, node.url), lambda h: h[0] == 503)
        whep = await http.post(
            f"{node.url}/whep/{sid}",
            data="v=0\r\n",
            headers={"Content-Type": "application/sdp"},
        )
        assert whep.status == 503 and whep.headers["Retry-After"] == "1"
        assert (await whep.json())["error"]["code"] == "server_draining"
        assert await bob.next("server:draining") == {"retry_ms": 1000}

        rest_of_body.set()
        response = await buy
        assert response.status == 201, await response.text()
        assert (await response.json())["order"]["quantity"] == 2

    code = await asyncio.to_thread(node.process.wait, 10)
    assert code == 0 and time.monotonic() - signalled < 10
    assert not bob.sio.connected

    nodes.append(again := await started(env, tmp_path / "serve2.log"))
    async with Api(again.url) as api2:
        _, body = await api2.request("GET", f"/api/streams/{sid}/orders", token=host_token)
        assert [order["quantity"] for order in body["orders"]] == [2]


async def health(http: aiohttp.ClientSession, url: str) -> tuple[int, dict]:
    async with http.get(url + "/healthz?verbose=1") as response:
        return response.status, await response.json()


async def until(probe, done, timeout: float = 10.0):
    """Poll another process's state until `done(value)` (bounded)."""
    async with asyncio.timeout(timeout):
        while not done(value := await probe()):
            await asyncio.sleep(0.05)
    return value
