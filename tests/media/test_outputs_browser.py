"""Chromium on the outputs: the watch page on HLS (?mode=hls), the replay page."""

from __future__ import annotations

import asyncio

import pytest

from media.engine import PLAY
from server.keys import MEDIA
from tests.conftest import ServerFactory
from tests.helpers.browser import (
    chromium,
    frames_advance,
    picture_y4m,
    screenshot,
    wait_for_halves,
)
from tests.helpers.cluster import free_port
from tests.helpers.outputs import qr_picture
from tests.helpers.peers import RED
from tests.helpers.server import RunningServer, add_user
from tests.media.conftest import Show, written

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """Shows of this module have HLS and are recorded (for the replay page)."""
    return await server_factory(record=True, hls=True)


async def test_the_watch_page_plays_hls_a_few_seconds_behind_and_buying_works(
    show: Show, tmp_path
) -> None:
    await show.publish(show.host_token, RED, 440)
    await show.on_stage_cohost()
    carol = await add_user(show.server, "carol")
    async with chromium(show.server.url, tmp_path / "carol", viewport=(390, 844)) as person:
        await person.sign_in_as(carol, "carol")
        page = await person.open(f"/watch/{show.stream_id}?mode=hls")
        await page.wait_for_selector("#behind-note", state="visible", timeout=20000)
        assert await frames_advance(page, "#player", timeout=30) == 1280
        await wait_for_halves(page, "#player", "red", "blue")
        engine = show.server.app[MEDIA]
        assert not [s for s in engine.sessions.values() if s.kind == PLAY]  # no WebRTC
        assert "behind live" in await page.text_content("#behind-note")

        status, body = await show.api.request(
            "POST",
            f"/api/streams/{show.stream_id}/listings",
            token=show.host_token,
            json={"title": "Denim jacket", "price_cents": 3900, "quantity": 2},
        )
        assert status == 201, body
        card = f"#listings .listing[data-id='{body['listing']['id']}']"
        await page.click(f"{card} button:has-text('Buy')")
        await page.wait_for_selector("#checkout-summary >> text=Total $39.00")
        await page.click("#checkout-confirm")
        await page.wait_for_selector(f"{card} >> text=1 left")
        await screenshot(page, "outputs-watch-hls-phone")
        assert not person.errors, person.errors


async def test_hls_on_the_watch_page_plays_on_into_portrait(show: Show, tmp_path) -> None:
    await show.on_stage()
    async with chromium(show.server.url, tmp_path / "dora", viewport=(390, 844)) as person:
        page = await person.open(f"/watch/{show.stream_id}?mode=hls")
        assert await frames_advance(page, "#player", timeout=30) == 1280
        # The playlist goes on past a discontinuity (new SPS, new size): hls.js follows.
        # (Back to landscape is the same step; tests/media/test_outputs_resize.py
        # checks both ways on the segments themselves.)
        await show.switch_layout("portrait")
        await page.wait_for_function(
            "document.querySelector('#player').videoWidth === 720", timeout=30000
        )
        assert await frames_advance(page, "#player", timeout=15) == 720
        await screenshot(page, "outputs-watch-hls-after-portrait-phone")
        assert not person.errors, person.errors


async def test_the_replay_page_seeks_in_the_recording_with_range_requests(
    show: Show, tmp_path
) -> None:
    _, recording = await show.record()
    async with chromium(show.server.url, tmp_path / "replayer", viewport=(390, 844)) as person:
        # Listening before the page loads: a small file may be fetched whole at once.
        ranges: list[int] = []
        person.context.on("response", lambda r: r.url.endswith(".mp4") and ranges.append(r.status))
        page = await person.open(f"/replay/{show.stream_id}")
        await page.wait_for_function(
            "document.querySelector('#player').readyState >= 1", timeout=20000
        )
        duration = await page.evaluate("document.querySelector('#player').duration")
        assert abs(duration - recording["duration_s"]) <= 0.5
        target = duration / 2
        await page.evaluate(
            """(t) => new Promise((resolve) => {
                const video = document.querySelector('#player');
                video.addEventListener('seeked', resolve, { once: true });
                video.currentTime = t;
            })""",
            target,
        )
        await wait_for_halves(page, "#player", "red", "blue")
        position = await page.evaluate("document.querySelector('#player').currentTime")
        assert abs(position - target) < 0.5
        assert 206 in ranges, ranges  # the browser fetched byte ranges, not the whole file
        # On a phone too, the show's length and description under the video.
        await page.wait_for_selector("#duration >> text=Recording", state="visible")
        await screenshot(page, "outputs-replay-phone")
        assert not person.errors, person.errors


async def test_the_replay_page_plays_a_portrait_part_after_the_landscape_one(
    show: Show, tmp_path
) -> None:
    await show.on_stage()
    recorder = show.server.app[MEDIA].output(show.stream_id, "recording")
    assert recorder is not None
    await written(recorder, parts=1, packets=60)
    await show.switch_layout("portrait")  # a new picture size: a new file
    await written(recorder, parts=2, packets=60)
    await show.api.end(show.host_token, show.stream_id)
    assert await asyncio.to_thread(recorder.join, 15)
    status, recording = await show.api.request("GET", f"/api/streams/{show.stream_id}/recording")
    assert status == 200 and len(recording["parts"]) == 2, recording
    first, second = (part["url"] for part in recording["parts"])

    async with chromium(show.server.url, tmp_path / "replayer", viewport=(390, 844)) as person:
        page = await person.open(f"/replay/{show.stream_id}")
        await page.wait_for_function(
            "document.querySelector('#player').readyState >= 1", timeout=20000
        )
        assert (await page.evaluate("document.querySelector('#player').src")).endswith(first)
        assert await page.locator("#parts button").count() == 2
        # Near the end of the landscape part: playing on moves to the portrait part.
        await page.evaluate(
            """() => {
                const video = document.querySelector('#player');
                video.muted = true;
                video.currentTime = Math.max(0, video.duration - 0.5);
                return video.play();
            }"""
        )
        await page.wait_for_function(
            """(url) => {
                const video = document.querySelector('#player');
                return video.src.endsWith(url) && video.videoWidth === 720
                    && video.videoHeight === 1280 && video.currentTime > 0;
            }""",
            arg=second,
            timeout=20000,
        )
        await screenshot(page, "outputs-replay-parts-phone")
        assert not person.errors, person.errors


async def test_the_studio_warns_of_a_qr_code_and_shows_destination_status(
    server, api, tmp_path
) -> None:
    token = await add_user(server, "hostess")
    stream = await api.create_stream(token, title="Thrift haul")
    camera = picture_y4m(tmp_path / "qr.y4m", qr_picture("https://pay.example/x", (640, 480), 300))
    async with chromium(server.url, tmp_path / "host", camera, viewport=(390, 844)) as host:
        await host.sign_in_as(token, "hostess")
        studio = await host.open(f"/studio/{stream['id']}")
        await studio.click("#golive")
        await studio.wait_for_function(
            "document.querySelector('#status').textContent === 'LIVE'", timeout=20000
        )
        await studio.wait_for_selector("#qr-warning", state="visible", timeout=15000)
        assert "QR code" in await studio.text_content("#qr-warning")

        await studio.fill("#destination-url", f"rtmp://127.0.0.1:{free_port()}/live/key123")
        await studio.click("#outputs button[type=submit]")
        row = "#destinations .destination"
        await studio.wait_for_selector(
            f"{row}[data-status='failed'], {row}[data-status='retrying']"
        )
        assert "key123" not in await studio.text_content("#destinations")  # the key stays hidden

        await studio.select_option("#layout-select", "portrait")
        await studio.wait_for_function(
            "document.querySelector('#program').videoHeight === 1280", timeout=20000
        )
        await studio.locator("#outputs").scroll_into_view_if_needed()
        await screenshot(studio, "outputs-studio-phone")
        assert not host.errors, host.errors
