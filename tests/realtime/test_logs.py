"""`log_format = "json"`: every line of a running `costream serve` is one JSON object,
and request and media-session lines carry their stream id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.config import ConfigError, Settings
from tests.helpers.api import Api
from tests.helpers.cluster import Redis, start_cluster
from tests.helpers.peers import RED, HttpSignal, Publisher, Viewer
from tests.realtime.test_cluster import People

pytestmark = pytest.mark.slow


def test_log_format_is_text_or_json() -> None:
    assert Settings(log_format="json").log_format == "json"
    with pytest.raises(ConfigError, match="log_format"):
        Settings(log_format="xml")


def json_lines(log: Path) -> list[dict]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    # aiohttp prints its "Running on" banner with print(), not through logging.
    return [json.loads(line) for line in lines if not line.startswith(("=", "("))]


async def test_json_logs_carry_the_stream_id(redis_server: Redis, tmp_path: Path) -> None:
    cluster = start_cluster(1, redis_server.url, tmp_path / "data", log_format="json")
    try:
        [node] = cluster.nodes
        host, token = People(cluster).add("host")
        async with Api(node.url) as api:
            stream = await api.create_stream(token, title="Logged")
            await api.start(token, stream["id"])
            assert (await api.get_stream(stream["id"]))["id"] == stream["id"]
        publisher = await Publisher(RED, 440).start(
            HttpSignal(node.url, f"/whip/{stream['id']}", token)
        )
        viewer = Viewer()
        await viewer.start(HttpSignal(node.url, f"/whep/{stream['id']}"))
        await viewer.wait_for(lambda: viewer.frames >= 3, timeout=30)
        await viewer.close()
        await publisher.close()
    finally:
        cluster.stop()

    lines = json_lines(node.log)
    assert all({"time", "level", "logger", "message", "stream_id"} <= set(x) for x in lines)
    requests = [x for x in lines if x["logger"] == "aiohttp.access"]
    get = next(x for x in requests if x["path"] == f"/api/streams/{stream['id']}")
    assert (get["method"], get["status"], get["stream_id"]) == ("GET", 200, stream["id"])
    assert all(x["stream_id"] is None for x in requests if x["path"] == "/healthz")
    # The media sessions (ours and aiortc's/aioice's lines) log in the stream's context.
    sessions = [x for x in lines if x["logger"].startswith(("media.", "aioice"))]
    assert any("publishes on host" in x["message"] for x in sessions)
    assert sessions and all(x["stream_id"] == stream["id"] for x in sessions), sessions
