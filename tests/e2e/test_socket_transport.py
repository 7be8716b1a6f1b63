"""Real Chromium: the pages open Socket.IO straight on a websocket (no long-polling
round trips first), and fall back to long polling behind a proxy that refuses
websockets."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.api import Api
from tests.helpers.browser import chromium
from tests.helpers.nginx import start_proxy_refusing_websockets
from tests.helpers.server import add_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def _watch(base_url: str, stream_id: str, api: Api, profile) -> list[str]:
    """Open the watch page at `base_url` until the server counts its viewer; returns the
    long-polling requests it made."""
    polls: list[str] = []
    async with chromium(base_url, profile) as viewer:
        viewer.context.on(
            "request", lambda r: polls.append(r.url) if "transport=polling" in r.url else None
        )
        await viewer.open(f"/watch/{stream_id}")
        async with asyncio.timeout(20):
            while (await api.get_stream(stream_id))["viewers"] < 1:
                await asyncio.sleep(0.1)
        assert not viewer.errors
    return polls


async def test_the_watch_page_connects_by_websocket_or_else_by_polling(
    server, api, tmp_path
) -> None:
    host_token = await add_user(server, "hostess")
    stream = await api.create_stream(host_token, title="Scarves")
    await api.start(host_token, stream["id"])

    assert await _watch(server.url, stream["id"], api, tmp_path / "direct") == []

    proxy = start_proxy_refusing_websockets(tmp_path / "proxy", server.url)
    try:
        # The last viewer's presence is gone before the next one is counted.
        async with asyncio.timeout(20):
            while (await api.get_stream(stream["id"]))["viewers"] != 0:
                await asyncio.sleep(0.1)
        assert await _watch(proxy.url, stream["id"], api, tmp_path / "behind-proxy")
    finally:
        proxy.stop()
