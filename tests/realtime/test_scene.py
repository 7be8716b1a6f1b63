"""The whole show across three `costream serve` processes on one Redis and one PostgreSQL.

The host publishes on one process, the cohost arrives through another, viewers play
from all three and see red|blue; chat, the invite, buys and an auction come from
clients spread over the three. Then a non-home process is killed (its viewer and its
Socket.IO client come back through another process, as the pages do), and then the
home itself (the host republishes to a live process, which becomes the home, and the
show goes on). Orders and chat end complete and unduplicated in the database.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import asyncpg
import pytest

from tests.helpers.api import Api
from tests.helpers.cluster import Cluster, Redis, start_cluster
from tests.helpers.peers import BLUE, RED, HttpSignal, Publisher, Viewer
from tests.helpers.postgres import Postgres
from tests.helpers.sio import Client, Connect
from tests.realtime.test_cluster import People, live_stream
from tests.realtime.test_invite_media import showing
from tests.selling.test_auction_cluster import RARE_CARD

pytestmark = pytest.mark.slow

STOCK = 3
BUYERS = 6


@pytest.fixture
def cluster(
    redis_server: Redis, postgres_server: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("scene") / "data"
    database_url = postgres_server.create_database()
    # Homes and presence of a killed process expire within 2 s.
    running = start_cluster(
        3,
        redis_server.url,
        data_dir,
        database_url=database_url,
        live_ttl_seconds="2",
        auction_snipe_seconds="1",
    )
    yield running
    for node in running.nodes:
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
    running.stop()
    postgres_server.drop_database(database_url)


def kill(cluster: Cluster, index: int) -> None:
    process = cluster.nodes[index].process
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


async def play(url: str, stream_id: str, peers: list) -> Viewer:
    viewer = Viewer()
    peers.append(viewer)
    signal_ = HttpSignal(url, f"/whep/{stream_id}")
    await viewer.start(signal_)
    assert signal_.redirected is False  # viewers are served where they land
    return viewer


async def publish(url: str, stream_id: str, token: str, color, tone: float, peers: list):
    publisher = Publisher(color, tone)
    peers.append(publisher)
    return await publisher.start(HttpSignal(url, f"/whip/{stream_id}", token))


async def reconnect(
    connect: Connect, clients: list[Client], dead: str, alive: str, stream_id: str
) -> list[Client]:
    """What the pages do when their process is gone: connect to another and rejoin."""
    result = []
    for client in clients:
        if client.url == dead:
            client = await connect(alive, client.token, f"{client.name}->{alive[-5:]}")
            await client.ok("join", {"stream_id": stream_id})
        result.append(client)
    return result


async def chat_everywhere(sender: Client, clients: list[Client], text: str) -> None:
    """`sender` says `text`; every one of `clients` (the sender among them) hears it."""
    await sender.ok("chat:send", {"text": text})
    for client in clients:
        try:
            await client.next("chat:message", lambda d: d["text"] == text, timeout=10)
        except TimeoutError:
            raise AssertionError(f"{client.name} did not hear {text!r}") from None


async def test_the_show_survives_losing_a_process_and_its_home(
    cluster: Cluster, connect: Connect
) -> None:
    people = People(cluster)
    urls = [node.url for node in cluster.nodes]
    stream_id, _, host_token = await live_stream(cluster, people)
    bob_name, bob_token = people.add("bob")
    buyers = [people.add("buyer") for _ in range(BUYERS)]
    host = await connect(urls[0], host_token, "host@0")
    bob = await connect(urls[1], bob_token, "bob@1")
    watchers = [
        await connect(urls[i % 3], token, f"buyer@{i % 3}") for i, (_, token) in enumerate(buyers)
    ]
    for client in (host, bob, *watchers):
        await client.ok("join", {"stream_id": stream_id})

    peers: list[Publisher | Viewer] = []
    try:
        # Host on process 0 (the home); the invite crosses to process 1; Bob publishes
        # through process 1, which sends him home.
        await publish(urls[0], stream_id, host_token, RED, 440, peers)
        invite = (await host.ok("cohost:invite", {"username": bob_name}))["invite"]["id"]
        await bob.ok("cohost:respond", {"invite_id": invite, "accept": True})
        await publish(urls[1], stream_id, bob_token, BLUE, 880, peers)
        viewers = [await play(url, stream_id, peers) for url in urls]
        for viewer in viewers:
            await viewer.wait_for(showing(viewer, "red", "blue"), timeout=30)

        # Chat from process 2 reaches everyone.
        everyone = [host, bob, *watchers]
        await chat_everywhere(watchers[2], everyone, "hello from process 2")

        # Buys from all three processes at once: exactly STOCK orders, no oversell.
        async with Api(urls[0]) as api:
            listing = await api.create_listing(
                host_token, stream_id, title="Sneakers", price_cents=1500, quantity=STOCK
            )
            listing_id = listing["id"]
        apis = [Api(url) for url in urls]
        try:
            results = await asyncio.gather(
                *(
                    apis[i % 3].request(
                        "POST", f"/api/listings/{listing_id}/buy", token=token, json={}
                    )
                    for i, (_, token) in enumerate(buyers)
                )
            )
        finally:
            for api in apis:
                await api.close()
        statuses = sorted(status for status, _ in results)
        assert statuses == [201] * STOCK + [409] * (BUYERS - STOCK), results

        # An auction started by the cohost on process 1, bid on from processes 0 and 2.
        async with Api(urls[1]) as api:
            auction_listing = (await api.create_listing(host_token, stream_id, **RARE_CARD))["id"]
            status, body = await api.request(
                "POST", f"/api/listings/{auction_listing}/auction/start", token=bob_token
            )
            assert status == 200, body
        await watchers[0].ok("auction:bid", {"listing_id": auction_listing, "amount_cents": 500})
        await watchers[2].ok("auction:bid", {"listing_id": auction_listing, "amount_cents": 600})
        ended = await watchers[1].next("auction:ended", timeout=20)
        assert (ended["auction"]["status"], ended["auction"]["high_bid_cents"]) == ("sold", 600)

        # Process 2 dies. Its viewer plays again elsewhere; its Socket.IO client
        # reconnects to another process and rejoins, as the pages do.
        kill(cluster, 2)
        viewers[2] = await play(urls[1], stream_id, peers)
        await viewers[2].wait_for(showing(viewers[2], "red", "blue"), timeout=30)
        for viewer in viewers[:2]:
            await viewer.wait_for(showing(viewer, "red", "blue"), timeout=10)
        watchers = await reconnect(connect, watchers, urls[2], urls[0], stream_id)
        await chat_everywhere(watchers[2], [host, bob, *watchers], "back through process 0")

        # The home dies. Once its home entry expires the host's studio and the cohost's
        # page republish to process 1, which becomes the home; viewers play again.
        kill(cluster, 0)
        (host,) = await reconnect(connect, [host], urls[0], urls[1], stream_id)
        await publish_when_homed(urls[1], stream_id, host_token, RED, 440, peers)
        await publish(urls[1], stream_id, bob_token, BLUE, 880, peers)
        again = await play(urls[1], stream_id, peers)
        await again.wait_for(showing(again, "red", "blue"), timeout=30)
        watchers = await reconnect(connect, watchers, urls[0], urls[1], stream_id)
        await chat_everywhere(host, [host, bob, *watchers], "the show goes on")
        async with Api(urls[1]) as api:
            assert (await api.get_stream(stream_id))["status"] == "live"
    finally:
        for peer in peers:
            await peer.close()

    assert cluster.database_url is not None
    database = await asyncpg.connect(cluster.database_url)
    try:
        orders = await database.fetch(
            "SELECT listing_id, buyer FROM orders WHERE stream_id = $1", stream_id
        )
        texts = [
            row["text"]
            for row in await database.fetch(
                "SELECT text FROM chat_messages WHERE stream_id = $1 ORDER BY seq", stream_id
            )
        ]
    finally:
        await database.close()
    assert sorted(o[0] for o in orders) == sorted([listing_id] * STOCK + [auction_listing])
    assert len({o[1] for o in orders if o[0] == listing_id}) == STOCK  # one each
    assert texts == ["hello from process 2", "back through process 0", "the show goes on"]


async def publish_when_homed(url: str, stream_id: str, token: str, color, tone: float, peers):
    """The studio's republish: retried with backoff until the dead home's entry expired
    (until then the live process answers 307 to a home that no longer answers)."""
    delay = 0.25
    for _ in range(20):
        publisher = Publisher(color, tone)
        signal_ = HttpSignal(url, f"/whip/{stream_id}", token)
        try:
            await publisher.start(signal_)
        except Exception:
            await publisher.close()
            await asyncio.sleep(delay)  # backoff between attempts, as the page does
            delay = min(delay * 2, 2.0)
            continue
        peers.append(publisher)
        return publisher
    raise AssertionError("the host could not republish after the home died")
