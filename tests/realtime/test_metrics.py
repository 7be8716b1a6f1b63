"""GET /metrics: Prometheus text whose figures move with what the server does."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer
from tests.helpers.room import Room

pytestmark = pytest.mark.parametrize("backend", ["redis"], indirect=True)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(room: Room) -> Samples:
    return await scrape_at(room.api.session, room.url)


async def scrape_at(http: aiohttp.ClientSession, url: str) -> Samples:
    async with http.get(url + "/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_streams_media_chat_orders_and_errors(room: Room) -> None:
    before = await scrape(room)
    host, bob = await room.client("hostess"), await room.client("bob")

    # Chat: one message, delivered to both connections in the stream.
    await bob.ok("chat:send", {"text": "hello"})
    await host.next("chat:message")
    await bob.next("chat:message")
    # Errors by code, over HTTP and over Socket.IO.
    status, _ = await room.api.request("GET", "/api/streams/nope")
    assert status == 404
    await bob.fails("no:such:event", {}, "unknown_event")
    # An order.
    status, body = await room.api.request(
        "POST",
        f"/api/streams/{room.stream_id}/listings",
        token=room.tokens["hostess"],
        json={"title": "Red sneakers", "price_cents": 4999, "quantity": 3},
    )
    assert status == 201, body
    status, body = await room.api.request(
        "POST", f"/api/listings/{body['listing']['id']}/buy", token=room.tokens["bob"], json={}
    )
    assert status == 201, body
    # Media: one publisher, one viewer.
    publisher = await Publisher(RED, 440).start(
        HttpSignal(room.url, f"/whip/{room.stream_id}", room.tokens["hostess"])
    )
    viewer = Viewer()
    try:
        await viewer.start(HttpSignal(room.url, f"/whep/{room.stream_id}"))
        await viewer.wait_for(lambda: viewer.frames >= 5, timeout=20)
        after = await scrape(room)
    finally:
        await viewer.close()
        await publisher.close()

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return value(after, name, **labels) - value(before, name, **labels) >= by

    assert value(after, "costream_streams_live") >= 1
    assert value(after, "costream_publishers") == 1
    assert value(after, "costream_viewers", stream_id=room.stream_id) == 1
    assert value(after, "costream_media_rooms", kind="home") == 1
    assert grew("costream_encode_seconds_count", 5) and grew("costream_encode_seconds_sum", 1e-4)
    assert grew("costream_rtp_packets_sent_total", 5)
    assert grew("costream_socketio_deliveries_total", 2, event="chat:message")
    assert grew("costream_orders_total")
    assert grew("costream_errors_total", code="stream_not_found", transport="http")
    assert grew("costream_errors_total", code="unknown_event", transport="socketio")
    assert grew("costream_http_requests_total", method="GET", status="404")
    for backend in ("sqlite", "redis"):
        assert 0 < value(after, "costream_backend_latency_seconds", backend=backend) < 5
