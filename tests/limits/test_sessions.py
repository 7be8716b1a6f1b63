"""Media sessions that never connect are closed by a deadline, and session caps hold:
per process and per stream (503 `capacity`), per user and per anonymous address (429
`too_many_sessions`), and rooms one user keeps open as host (429 `too_many_rooms`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server.keys import MEDIA
from tests.helpers.api import Api
from tests.helpers.peers import (
    RED,
    HttpSignal,
    Publisher,
    Viewer,
    candidateless_offer,
    looks,
)
from tests.helpers.server import RunningServer, add_user
from tests.server.test_accounts import assert_error

SDP = {"Content-Type": "application/sdp"}


def udp_sockets() -> int:
    """UDP sockets open in this network namespace (the test's own, `make test`)."""
    return sum(
        len(Path(f"/proc/net/{name}").read_text().splitlines()) - 1 for name in ("udp", "udp6")
    )


async def until(condition, timeout: float = 10.0) -> None:
    """Poll a server-side condition (no event to wait on) with a bounded timeout."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def live_stream(server: RunningServer, api: Api, host: str = "hostess") -> tuple[str, str]:
    token = await add_user(server, host)
    stream = await api.create_stream(token, title="Caps")
    await api.start(token, stream["id"])
    return stream["id"], token


async def whep(
    api: Api, stream_id: str, offer: str, token: str | None = None
) -> tuple[int, Any, dict]:
    headers = {**SDP, **({"Authorization": f"Bearer {token}"} if token else {})}
    async with api.session.post(
        f"{api.base_url}/whep/{stream_id}", data=offer, headers=headers
    ) as response:
        body = await (
            response.json() if response.content_type == "application/json" else response.text()
        )
        return response.status, body, dict(response.headers)


def _signal(server: RunningServer, stream_id: str) -> HttpSignal:
    return HttpSignal(server.url, f"/whep/{stream_id}")


async def test_unconnected_sessions_are_closed_at_the_deadline(server_factory) -> None:
    server = await server_factory(media_connect_timeout=2.0)
    engine = server.app[MEDIA]
    async with Api(server.url) as api:
        stream_id, _ = await live_stream(server, api)
        offer = await candidateless_offer()
        before = udp_sockets()
        for _ in range(3):
            status, body, _ = await whep(api, stream_id, offer)
            assert status == 201, body
        stuck = list(engine.sessions.values())
        assert len(stuck) == 3 and udp_sockets() > before
        viewer = await Viewer().start(_signal(server, stream_id))
        try:
            await until(lambda: not any(s in engine.sessions.values() for s in stuck))
            assert all(s.pc.connectionState == "closed" for s in stuck)
            # Their sockets go (a session leaves the table before its ICE transport has
            # closed them); the connected viewer kept its session and its media.
            await until(lambda: udp_sockets() <= before + 2)
            assert len(engine.sessions) == 1
            frames = viewer.frames
            await viewer.wait_for(lambda: viewer.frames > frames + 5)
        finally:
            await viewer.close()
        await until(lambda: not engine.sessions and not engine.rooms)
        await until(lambda: udp_sockets() <= before)


async def test_a_full_stream_and_a_full_server_answer_503_capacity(server_factory) -> None:
    server = await server_factory(max_sessions_per_stream=2, max_media_sessions=3)
    async with Api(server.url) as api:
        first, _ = await live_stream(server, api)
        second, _ = await live_stream(server, api, "other_host")
        offer = await candidateless_offer()
        locations = []
        for _ in range(2):
            status, _, headers = await whep(api, first, offer)
            assert status == 201
            locations.append(headers["Location"])
        status, body, headers = await whep(api, first, offer)
        assert_error(status, body, 503, "capacity")
        assert int(headers["Retry-After"]) >= 1
        assert (await whep(api, second, offer))[0] == 201
        status, body, headers = await whep(api, second, offer)  # the process holds 3
        assert_error(status, body, 503, "capacity")
        assert "Retry-After" in headers
        # A place freed is a place taken.
        assert (await api.request("DELETE", locations[0]))[0] == 200
        assert (await whep(api, first, offer))[0] == 201
        assert len(server.app[MEDIA].sessions) == 3


async def test_anonymous_clients_are_capped_per_address(server_factory) -> None:
    server = await server_factory(max_sessions_per_address=2)
    async with Api(server.url) as api:
        stream_id, _ = await live_stream(server, api)
        offer = await candidateless_offer()
        for _ in range(2):
            assert (await whep(api, stream_id, offer))[0] == 201
        status, body, headers = await whep(api, stream_id, offer)
        assert_error(status, body, 429, "too_many_sessions")
        assert "Retry-After" in headers
        # A signed-in viewer from the same address is counted as themselves.
        bob = await add_user(server, "bob")
        assert (await whep(api, stream_id, offer, bob))[0] == 201


async def test_users_are_capped_per_account(server_factory) -> None:
    server = await server_factory(max_sessions_per_user=2)
    async with Api(server.url) as api:
        first, _ = await live_stream(server, api)
        second, _ = await live_stream(server, api, "other_host")
        bob = await add_user(server, "bob")
        offer = await candidateless_offer()
        assert (await whep(api, first, offer, bob))[0] == 201
        assert (await whep(api, second, offer, bob))[0] == 201
        status, body, _ = await whep(api, first, offer, bob)
        assert_error(status, body, 429, "too_many_sessions")
        assert len(server.app[MEDIA].sessions) == 2


async def test_a_user_cannot_pile_up_idle_rooms(server_factory) -> None:
    server = await server_factory(max_rooms_per_user=2, max_sessions_per_user=10)
    engine = server.app[MEDIA]
    async with Api(server.url) as api:
        token = await add_user(server, "hoarder")
        streams = [(await api.create_stream(token, title=f"Idle {i}"))["id"] for i in range(3)]
        offer = await candidateless_offer()
        # The host may play their own scheduled stream (a preview): each opens a room.
        assert (await whep(api, streams[0], offer, token))[0] == 201
        assert (await whep(api, streams[1], offer, token))[0] == 201
        status, body, headers = await whep(api, streams[2], offer, token)
        assert_error(status, body, 429, "too_many_rooms")
        assert "Retry-After" in headers
        assert set(engine.rooms) == set(streams[:2])
        # Another session in a room already open is fine; ending a show frees its room.
        assert (await whep(api, streams[0], offer, token))[0] == 201
        await api.end(token, streams[0])
        await until(lambda: streams[0] not in engine.rooms)
        assert (await whep(api, streams[2], offer, token))[0] == 201


async def test_viewers_still_watch_while_caps_refuse_others(server_factory) -> None:
    server = await server_factory(max_sessions_per_stream=2)
    async with Api(server.url) as api:
        stream_id, token = await live_stream(server, api)
        publisher = await Publisher(RED, 440).start(
            HttpSignal(server.url, f"/whip/{stream_id}", token)
        )
        viewer = await Viewer().start(_signal(server, stream_id))
        try:
            await viewer.wait_for(
                lambda: viewer.frame is not None and looks(viewer.halves()[0], "red")
            )
            status, body, _ = await whep(api, stream_id, await candidateless_offer())
            assert_error(status, body, 503, "capacity")
            frames = viewer.frames
            await viewer.wait_for(lambda: viewer.frames > frames + 5)
        finally:
            await viewer.close()
            await publisher.close()
