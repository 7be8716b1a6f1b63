"""A real Chromium publishes from /studio, another Chromium plays /watch."""

from __future__ import annotations

import pytest

from tests.helpers.browser import chromium, frames_advance

pytestmark = pytest.mark.browser


async def test_browser_host_goes_live_and_a_browser_viewer_sees_the_composite(
    server, api, tmp_path
) -> None:
    token, user = await api.register("hostess")
    stream = await api.create_stream(token, title="Vintage denim")
    async with chromium(server.url, tmp_path / "host") as host:
        await host.sign_in_as(token, user["username"])
        studio = await host.open(f"/studio/{stream['id']}")
        await studio.click("#golive")
        await studio.wait_for_function(
            "document.querySelector('#status').textContent === 'LIVE'", timeout=15000
        )
        assert await frames_advance(studio, "#program") == 1280  # the host's monitor
        assert (await api.get_stream(stream["id"]))["status"] == "live"

        async with chromium(server.url, tmp_path / "viewer") as viewer:
            watch = await viewer.open(f"/watch/{stream['id']}")
            assert await frames_advance(watch, "#player") == 1280
            assert await watch.text_content("#title") == "Vintage denim"
