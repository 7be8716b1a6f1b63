"""HLS behind a real HTTP cache: nginx in front of `costream serve`, 100 clients."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.helpers.api import Api
from tests.helpers.cluster import start_cluster
from tests.helpers.nginx import start_hls_cache
from tests.helpers.outputs import Playlist, wait_for_playlist
from tests.helpers.peers import RED, HttpSignal, Publisher

pytestmark = pytest.mark.slow

CLIENTS = 100
WATCH_SECONDS = 8.0


async def _hls_client(http: aiohttp.ClientSession, base: str, fetched: Counter) -> int:
    """A player: reload the playlist about once a second, fetch each new segment once."""
    seen: set[str] = set()
    stop = time.monotonic() + WATCH_SECONDS
    while time.monotonic() < stop:
        async with http.get(base + "index.m3u8") as response:
            assert response.status == 200
            playlist = Playlist(await response.text(), dict(response.headers))
        for name in playlist.segments[-3:]:  # start near the live edge
            if name not in seen:
                async with http.get(base + name) as response:
                    assert response.status == 200
                    await response.read()
                seen.add(name)
                fetched[name] += 1
        await asyncio.sleep(1.0)  # the player's reload period, not a synchronisation
    return len(seen)


async def test_a_cache_in_front_serves_100_clients_with_one_request_per_segment(
    tmp_path: Path,
) -> None:
    cluster = start_cluster(1, None, tmp_path / "data")
    cache = None
    publisher = Publisher(RED, 440)
    try:
        node = cluster.nodes[0]
        async with Api(node.url) as api:
            token, _ = await api.register("hostess")
            stream = await api.create_stream(token, title="Behind a cache")
            await api.start(token, stream["id"])
        await publisher.start(HttpSignal(node.url, f"/whip/{stream['id']}", token))
        cache = start_hls_cache(tmp_path / "nginx", node.url)
        base = f"{cache.url}/hls/{stream['id']}/"
        await wait_for_playlist(base + "index.m3u8", timeout=20)

        fetched: Counter[str] = Counter()
        connector = aiohttp.TCPConnector(limit=0)
        began = time.monotonic()
        async with aiohttp.ClientSession(connector=connector) as http:
            counts = await asyncio.gather(
                *(_hls_client(http, base, fetched) for _ in range(CLIENTS))
            )
        elapsed = time.monotonic() - began
        assert min(counts) >= 3, counts  # every client followed the live stream

        log = cache.access_log()
        reached = Counter(path for _, path, upstream in log if upstream != "-")
        segment_requests = sum(n for path, n in reached.items() if path.endswith(".ts"))
        playlist_requests = reached[f"/hls/{stream['id']}/index.m3u8"]
        client_requests = len(log)
        segments = len(fetched)
        # About one request per segment reaches Costream, whatever the audience.
        assert segment_requests <= segments + 2, (segment_requests, segments)
        assert sum(fetched.values()) >= CLIENTS * 3
        # The playlist (max-age=1, nginx counts whole seconds) reaches Costream one
        # to two times a second, against the clients' hundred a second.
        assert playlist_requests <= elapsed * 2 + 4, (playlist_requests, elapsed)
        assert client_requests >= CLIENTS * WATCH_SECONDS * 0.8
        print(
            f"\n{CLIENTS} HLS clients, {elapsed:.1f} s: {client_requests} requests to nginx, "
            f"{segment_requests} segment + {playlist_requests} playlist requests to Costream "
            f"for {segments} segments"
        )
    finally:
        await publisher.close()
        if cache is not None:
            cache.stop()
        cluster.stop()
