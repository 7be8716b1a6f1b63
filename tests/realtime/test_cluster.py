"""Three `costream serve` processes on one real redis-server: the popup, the seat, chat,
presence and rate limits cross processes; publishers go to the stream's home, viewers
play on any process from the home's relayed composite."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Callable, Iterator

import aiohttp
import pytest

from server.auth import TokenService
from server.domain.times import utc_now
from tests.helpers.api import Api
from tests.helpers.cluster import Cluster, Redis, start_cluster
from tests.helpers.peers import BLUE, RED, HttpSignal, Publisher, Viewer, centre_colour, looks
from tests.helpers.postgres import psql
from tests.realtime.conftest import Connect
from tests.realtime.test_invite_media import showing

pytestmark = pytest.mark.slow

_names = itertools.count()


@pytest.fixture(scope="module")
def cluster(redis_server: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster") / "data"
    running = start_cluster(3, redis_server.url, data_dir, chat_rate_window="60")
    yield running
    running.stop()


class People:
    """Accounts created straight in the shared database (argon2 hashing is slow)."""

    def __init__(self, cluster: Cluster) -> None:
        self._db = cluster.data_dir / "costream.sqlite3"
        self._database_url = cluster.database_url
        self._tokens = TokenService(cluster.secret, 3600)

    def add(self, prefix: str) -> tuple[str, str]:
        name = f"{prefix}{next(_names)}"  # letters and digits: safe to quote below
        if self._database_url:
            psql(
                self._database_url,
                "INSERT INTO users (username, password_hash, created_at) "
                f"VALUES ('{name}', '!unusable', '{utc_now().isoformat()}')",
            )
            return name, self._tokens.issue(name)
        with sqlite3.connect(self._db) as db:
            db.execute(
                "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                (name, "!unusable", utc_now().isoformat()),
            )
        return name, self._tokens.issue(name)


async def live_stream(cluster: Cluster, people: People) -> tuple[str, str, str]:
    host, token = people.add("host")
    async with Api(cluster.nodes[0].url) as api:
        stream = await api.create_stream(token, title="Two processes")
        await api.start(token, stream["id"])
    return stream["id"], host, token


async def test_the_room_spans_processes(cluster: Cluster, connect: Connect) -> None:
    people = People(cluster)
    one, two, *_ = (node.url for node in cluster.nodes)
    stream_id, host_name, host_token = await live_stream(cluster, people)
    bob_name, bob_token = people.add("bob")
    carol_name, carol_token = people.add("carol")
    join = {"stream_id": stream_id}

    host = await connect(one, host_token, "host@1")
    await host.ok("join", join)
    bob = await connect(two, bob_token, "bob@2")
    await bob.ok("join", join)
    carol_away = await connect(one, carol_token, "carol@1")  # connected, not in the stream

    # Presence is shared: suggestions and the viewer count see both processes.
    assert (await host.ok("user:suggest", {"prefix": "bob"}))["users"][0] == bob_name
    await host.next("viewers", lambda d: d["count"] == 2, timeout=10)
    async with Api(two) as api:
        assert (await api.get_stream(stream_id))["viewers"] == 2

    # Chat and mentions cross processes.
    sent = (await bob.ok("chat:send", {"text": f"hi @{host_name} and @{carol_name}"}))["message"]
    assert (await host.next("chat:message"))["id"] == sent["id"]
    assert (await carol_away.next("mention"))["message"]["id"] == sent["id"]

    # The popup and the seat.
    invite = (await host.ok("cohost:invite", {"username": bob_name}))["invite"]
    assert (await bob.next("cohost:invited"))["invite_id"] == invite["id"]
    await bob.ok("cohost:respond", {"invite_id": invite["id"], "accept": True})
    assert (await host.next("cohost:changed"))["cohost"] == bob_name
    await host.fails("cohost:invite", {"username": carol_name}, "cohost_seat_taken")
    await host.ok("cohost:remove")
    assert await bob.next("cohost:removed") == {"stream_id": stream_id}

    # Declining and re-inviting across processes.
    again = (await host.ok("cohost:invite", {"username": bob_name}))["invite"]["id"]
    await bob.next("cohost:invited", lambda d: d["invite_id"] == again)
    await bob.ok("cohost:respond", {"invite_id": again, "accept": False})
    assert (await host.next("cohost:declined"))["invite_id"] == again


async def test_one_seat_and_one_rate_limit_across_processes(
    cluster: Cluster, connect: Connect
) -> None:
    people = People(cluster)
    one, two, *_ = (node.url for node in cluster.nodes)
    stream_id, _, host_token = await live_stream(cluster, people)
    (bob_name, bob_token), (carol_name, carol_token) = people.add("bob"), people.add("carol")
    join = {"stream_id": stream_id}
    host = await connect(one, host_token)
    await host.ok("join", join)
    bob = await connect(one, bob_token)
    carol = await connect(two, carol_token)
    for client in (bob, carol):
        await client.ok("join", join)

    to_bob = (await host.ok("cohost:invite", {"username": bob_name}))["invite"]["id"]
    to_carol = (await host.ok("cohost:invite", {"username": carol_name}))["invite"]["id"]
    acks = await asyncio.gather(
        bob.call("cohost:respond", {"invite_id": to_bob, "accept": True}),
        carol.call("cohost:respond", {"invite_id": to_carol, "accept": True}),
    )
    assert sorted(a["ok"] for a in acks) == [False, True], acks
    assert next(a for a in acks if not a["ok"])["error"]["code"] == "cohost_seat_taken"

    # Carol's limit (5 per window) is counted over both of her connections.
    carol_too = await connect(one, carol_token)
    await carol_too.ok("join", join)
    for i in range(5):
        await (carol, carol_too)[i % 2].ok("chat:send", {"text": f"message {i}"})
    await carol.fails("chat:send", {"text": "six"}, "rate_limited")
    await carol_too.fails("chat:send", {"text": "six"}, "rate_limited")


async def test_publishers_go_home_and_viewers_play_anywhere(
    cluster: Cluster, connect: Connect
) -> None:
    people = People(cluster)
    one, two, three = (node.url for node in cluster.nodes)
    stream_id, _, host_token = await live_stream(cluster, people)
    bob_name, bob_token = people.add("bob")
    host = await connect(two, host_token)
    await host.ok("join", {"stream_id": stream_id})
    bob = await connect(two, bob_token)
    await bob.ok("join", {"stream_id": stream_id})
    whip, whep = f"/whip/{stream_id}", f"/whep/{stream_id}"

    peers: list[Publisher | Viewer] = []
    try:
        # The host publishes on process 1, which becomes the stream's home.
        peers.append(await Publisher(RED, 440).start(HttpSignal(one, whip, host_token)))
        invite = (await host.ok("cohost:invite", {"username": bob_name}))["invite"]["id"]
        await bob.ok("cohost:respond", {"invite_id": invite, "accept": True})

        # Process 2 sends Bob to the home, body and all.
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                two + whip,
                data="v=0\r\n",
                headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {bob_token}"},
                allow_redirects=False,
            ) as response,
        ):
            assert response.status == 307
            # The bearer token does not survive a cross-origin redirect; a grant does.
            assert response.headers["Location"].startswith(one + whip + "?grant=")
        peers.append(await Publisher(BLUE, 880).start(HttpSignal(two, whip, bob_token)))

        # Viewers play where they land: the home relays its composite to the others.
        signals = [HttpSignal(url, whep) for url in (one, two, three)]
        viewers = [Viewer() for _ in signals]
        peers.extend(viewers)
        for viewer, signal in zip(viewers, signals, strict=True):
            await viewer.start(signal)
        assert [s.redirected for s in signals] == [False, False, False]
        for viewer in viewers:
            await viewer.wait_for(showing(viewer, "red", "blue"), timeout=30)

        # Removed through process 2: the home drops Bob's tile, on every process.
        await host.ok("cohost:remove")
        for viewer in viewers:
            await viewer.wait_for(showing(viewer, "red", "red"), timeout=10)
        status, body = await Api(two).request(
            "POST",
            whip,
            token=bob_token,
            data="v=0\r\n",
            headers={"Content-Type": "application/sdp"},
        )
        assert (status, body["error"]["code"]) == (403, "forbidden")

        # A relayed viewer's session lives on its process; leaving is answered there.
        assert await signals[2].delete() == 200
        assert signals[2].redirected is False
    finally:
        for peer in peers:
            await peer.close()


async def test_the_home_draws_the_item_presented_through_another_process(
    cluster: Cluster,
) -> None:
    people = People(cluster)
    one, two, *_ = (node.url for node in cluster.nodes)
    stream_id, _, host_token = await live_stream(cluster, people)
    bar, picture, spot = (0.5, 0.95), (0.5, 0.4), (0.05, 0.02)
    peers: list[Publisher | Viewer] = []
    try:
        # The host publishes on process 1 (the home, which composes and encodes).
        peers.append(
            await Publisher(RED, 440).start(HttpSignal(one, f"/whip/{stream_id}", host_token))
        )
        viewer = Viewer()
        peers.append(viewer)
        await viewer.start(HttpSignal(one, f"/whep/{stream_id}"))

        def showing_red(with_bar: bool) -> Callable[[], bool]:
            """The camera's red above; at the bottom, the bar (dark) or the camera again."""
            return lambda: (
                viewer.frame is not None
                and looks(centre_colour(viewer.frame, *picture), "red")
                and bool(looks(centre_colour(viewer.frame, *bar, spot), "red")) != with_bar
            )

        await viewer.wait_for(showing_red(with_bar=False), timeout=30)  # nothing on stage

        # The item is made and presented through process 2, which has no media.
        async with Api(two) as api:
            status, body = await api.request(
                "POST",
                f"/api/streams/{stream_id}/listings",
                token=host_token,
                json={"title": "Denim jacket", "price_cents": 3900, "quantity": 1},
            )
            assert status == 201, body
            listing_id = body["listing"]["id"]
            status, body = await api.request(
                "POST", f"/api/listings/{listing_id}/present", token=host_token
            )
            assert status == 200, body
        # The home's composite darkens the bottom with the bar; the rest stays the camera's.
        await viewer.wait_for(showing_red(with_bar=True), timeout=10)
    finally:
        for peer in peers:
            await peer.close()
