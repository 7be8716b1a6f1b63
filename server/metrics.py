"""GET /metrics: this process's figures in Prometheus text format (prometheus-client).

Counters are process-wide (Prometheus scrapes every process; sum them there).
Gauges describing the app's state (streams, sessions, backend latency) are read
when scraped, from the app's own objects.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from media.engine import PLAY, PUBLISH, MediaEngine
from media.stats import COUNTERS
from server.counters import ORDERS, PROCESS, count_request
from server.domain.events import Event, EventBus, OrderPlaced
from server.keys import LIVE, MEDIA, MEDIA_RELAY, STORE


class _MediaCollector(Collector):
    """The media engine's counters (media/stats.py) and its sessions right now."""

    def __init__(self, engine: MediaEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        encode = SummaryMetricFamily(
            "costream_encode_seconds", "Compose + encode time per composite frame"
        )
        encode.add_metric([], COUNTERS.frames_encoded, COUNTERS.encode_seconds)
        yield encode
        for name, doc, value in (
            ("costream_rtp_packets_sent", "RTP packets sent to viewers", COUNTERS.rtp_packets_sent),
            ("costream_rtp_bytes_sent", "RTP payload bytes sent", COUNTERS.rtp_bytes_sent),
            (
                "costream_relayed_frames_received",
                "Encoded frames received from other processes' homes",
                COUNTERS.relayed_frames_in,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        sessions = list(self._engine.sessions.values())
        yield GaugeMetricFamily(
            "costream_publishers",
            "WHIP sessions on this process",
            value=sum(s.kind == PUBLISH for s in sessions),
        )
        viewers = GaugeMetricFamily(
            "costream_viewers", "WHEP sessions on this process, per stream", labels=["stream_id"]
        )
        for stream_id, count in sorted(
            Tally(s.stream_id for s in sessions if s.kind == PLAY).items()
        ):
            viewers.add_metric([stream_id], count)
        yield viewers
        rooms = GaugeMetricFamily(
            "costream_media_rooms",
            "Streams with media on this process: encoded here (home) or relayed from it",
            labels=["kind"],
        )
        rooms.add_metric(["home"], len(self._engine.rooms))
        rooms.add_metric(["relayed"], len(self._engine.relayed))
        yield rooms


async def _timed(probe: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await probe()
    return time.perf_counter() - started


async def _scrape(request: web.Request) -> web.Response:
    app = request.app
    state = CollectorRegistry()
    live = GaugeMetricFamily("costream_streams_live", "Streams whose status is live")
    row = await app[STORE].fetchone("SELECT COUNT(*) AS n FROM streams WHERE status = 'live'")
    live.add_metric([], row["n"] if row else 0)
    latency = GaugeMetricFamily(
        "costream_backend_latency_seconds",
        "Round trip of a trivial query to each backend, measured at this scrape",
        labels=["backend"],
    )
    database = app[STORE]
    latency.add_metric([database.dialect], await _timed(lambda: database.fetchone("SELECT 1")))
    if app[LIVE].shared:
        latency.add_metric(["redis"], await _timed(app[MEDIA_RELAY].redis.ping))
    state.register(_Fixed([live, latency]))
    state.register(_MediaCollector(app[MEDIA]))
    body = generate_latest(PROCESS) + generate_latest(state)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


@web.middleware
async def count_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Requests by method and status (outermost: sees the error middleware's answers)."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        count_request(request.method, status)


def setup(app: web.Application, events: EventBus) -> None:
    """Serve /metrics and count what the domain does."""

    async def on_event(event: Event) -> None:
        if isinstance(event, OrderPlaced):
            ORDERS.inc()

    events.subscribe(on_event)
    app.middlewares.insert(0, count_requests)
    app.router.add_get("/metrics", _scrape)
