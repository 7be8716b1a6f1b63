"""One auction, two `costream serve` processes on one Redis and one database (a SQLite
file, or PostgreSQL): every bid is ordered exactly once whichever process it reaches,
and one process closes it."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.api import Api
from tests.helpers.cluster import Cluster, Node, Redis, start_cluster
from tests.helpers.postgres import Postgres, psql
from tests.helpers.sio import Client, Connect
from tests.realtime.test_cluster import People, live_stream

# A five-second auction, started by hand.
RARE_CARD = {"title": "Rare card", "price_cents": 500, "format": "auction", "auction_seconds": 5}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(
    request: pytest.FixtureRequest, redis_server: Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("selling-cluster") / "data"
    database: dict[str, str] = {}
    if request.param == "postgresql":
        postgres: Postgres = request.getfixturevalue("postgres_server")
        database["database_url"] = postgres.create_database()
    running = start_cluster(
        2,
        redis_server.url,
        data_dir,
        auction_snipe_seconds="1",
        judge_timeout_seconds="2",
        **database,
    )
    yield running
    running.stop()
    if database:
        postgres.drop_database(database["database_url"])


def orders_of(cluster: Cluster, listing_id: str) -> list[tuple[str, int]]:
    """(buyer, total) of the listing's orders, read straight from the shared database."""
    if cluster.database_url:
        out = psql(
            cluster.database_url,
            f"SELECT buyer, total_cents FROM orders WHERE listing_id = '{listing_id}'",
        )
        return [(buyer, int(total)) for buyer, total in (line.split("|") for line in out.split())]
    with sqlite3.connect(cluster.data_dir / "costream.sqlite3") as db:
        return db.execute(
            "SELECT buyer, total_cents FROM orders WHERE listing_id = ?", (listing_id,)
        ).fetchall()


async def test_one_auction_one_judge_across_processes(cluster: Cluster, connect: Connect) -> None:
    people = People(cluster)
    one, two = (node.url for node in cluster.nodes)
    stream_id, _, host_token = await live_stream(cluster, people)
    (bob_name, bob_token), (carol_name, carol_token) = people.add("bob"), people.add("carol")
    async with Api(one) as api:
        listing_id = (await api.create_listing(host_token, stream_id, **RARE_CARD))["id"]
        bob = await connect(two, bob_token, "bob@2")
        carol = await connect(one, carol_token, "carol@1")
        for client in (bob, carol):
            await client.ok("join", {"stream_id": stream_id})
        status, body = await api.request(
            "POST", f"/api/listings/{listing_id}/auction/start", token=host_token
        )
        assert status == 200, body
        assert (await bob.next("auction:started"))["auction"]["status"] == "running"

        accepted = 0
        amount = 500
        leaders: set[str] = set()
        for _ in range(8):  # equal bids at once through both processes
            acks = await asyncio.gather(
                *(
                    client.call("auction:bid", {"listing_id": listing_id, "amount_cents": amount})
                    for client in (bob, carol)
                )
            )
            assert sorted(ack["ok"] for ack in acks) == [False, True], acks
            # Judged by one process (the other forwards): never two judges fencing.
            assert [ack["error"]["code"] for ack in acks if not ack["ok"]] == ["bid_too_low"]
            bidders = (bob_name, carol_name)
            leaders |= {name for name, ack in zip(bidders, acks, strict=True) if ack["ok"]}
            accepted += 1
            amount += 100
        ended = [await client.next("auction:ended", timeout=20) for client in (bob, carol)]
        assert ended[0] == ended[1]
        auction = ended[0]["auction"]
        assert (auction["status"], auction["bid_count"], auction["high_bid_cents"]) == (
            "sold",
            accepted,
            amount - 100,
        )
        for client in (bob, carol):
            await client.barrier()
            assert len(client.seen("auction:ended")) == 1  # closed by exactly one process
        # Whoever led and was passed heard it, through Redis from the judge's process.
        for name, client in ((bob_name, bob), (carol_name, carol)):
            outbids = client.seen("auction:outbid")
            assert all(o["auction"]["high_bidder"] != name for o in outbids)
            if name in leaders and name != auction["high_bidder"]:
                assert outbids
    assert orders_of(cluster, listing_id) == [(auction["high_bidder"], amount - 100)]
    assert auction["high_bidder"] in (bob_name, carol_name)


async def judged_on_the_first_node(
    cluster: Cluster, connect: Connect
) -> tuple[Node, Client, str, str]:
    """A running auction judged by the first process (its first bid was made there),
    and bob in its room on the second: (the judge, bob, bob's name, the listing)."""
    people = People(cluster)
    stream_id, _, host_token = await live_stream(cluster, people)
    (bob_name, bob_token), (_, carol_token) = people.add("bob"), people.add("carol")
    judge = cluster.nodes[0]
    async with Api(judge.url) as api:
        listing_id = (await api.create_listing(host_token, stream_id, **RARE_CARD))["id"]
        status, body = await api.request(
            "POST", f"/api/listings/{listing_id}/auction/start", token=host_token
        )
        assert status == 200, body
        # The first bid's process becomes the judge: this one.
        status, body = await api.request(
            "POST", f"/api/listings/{listing_id}/bids", carol_token, {"amount_cents": 500}
        )
        assert status == 201, body
    bob = await connect(cluster.nodes[1].url, bob_token, "bob@2")
    await bob.ok("join", {"stream_id": stream_id})
    return judge, bob, bob_name, listing_id


async def emit_bids(bob: Client, listing_id: str, amounts: tuple[int, ...]) -> list[Any]:
    """Bob's bids emitted in this order; their acks, to be awaited."""
    bids: list[asyncio.Future[Any]] = []
    for amount in amounts:
        bids.append(asyncio.get_running_loop().create_future())
        await bob.sio.emit(
            "auction:bid",
            {"listing_id": listing_id, "amount_cents": amount},
            callback=bids[-1].set_result,
        )
    return bids


async def test_bids_forwarded_to_a_stalled_judge_hold_up_only_later_bids(
    cluster: Cluster, connect: Connect
) -> None:
    """A connection's bids that go to another process's judge wait in its lane, in
    order; the connection's other events are answered meanwhile."""
    judge, bob, bob_name, listing_id = await judged_on_the_first_node(cluster, connect)
    judge.process.send_signal(signal.SIGSTOP)
    try:
        bids = await emit_bids(bob, listing_id, (600, 700, 800))
        # Sent after the bids, answered while their judge cannot answer them.
        assert "users" in await bob.ok("user:suggest", {"prefix": "a"})
        assert not any(bid.done() for bid in bids)
    finally:
        judge.process.send_signal(signal.SIGCONT)
    acks = [await asyncio.wait_for(bid, 10) for bid in bids]
    # Judged in the order sent: each raised the one before (out of order, one is too low).
    assert [(ack["ok"], ack.get("auction", {}).get("high_bid_cents")) for ack in acks] == [
        (True, 600),
        (True, 700),
        (True, 800),
    ], acks
    assert acks[-1]["auction"]["high_bidder"] == bob_name


async def test_bids_to_a_judge_that_does_not_answer_fail_fast_after_the_first(
    cluster: Cluster, connect: Connect
) -> None:
    """The first bid forwarded to a hung judge waits out `judge_timeout_seconds`; the
    bids queued behind it in the connection's lane are refused at once, each with the
    protocol's 503, instead of waiting the timeout again."""
    judge, bob, _, listing_id = await judged_on_the_first_node(cluster, connect)
    judge.process.send_signal(signal.SIGSTOP)
    try:
        bids = await emit_bids(bob, listing_id, (600, 700, 800))
        acks = [await asyncio.wait_for(bid, 10) for bid in bids]
    finally:
        judge.process.send_signal(signal.SIGCONT)
    assert [(ack["ok"], ack["error"]["code"]) for ack in acks] == [
        (False, "backend_unavailable")
    ] * 3, acks
    messages = [ack["error"]["message"] for ack in acks]
    assert "unreachable" in messages[0], messages
    assert all("did not answer a moment ago" in message for message in messages[1:]), messages
