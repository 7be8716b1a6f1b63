"""The show's life in the browser: schedule with a cover, a viewer asks to be reminded,
the host rehearses until the checklist is green, goes live (the reminder reaches the
viewer's home page), pins a message, raids another show; the dashboard shows figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page

from server.domain.times import utc_now
from tests.helpers.after_sale import HOST_ADDRESS
from tests.helpers.browser import chromium, screenshot
from tests.helpers.server import add_user
from tests.lifecycle.conftest import picture

# One long scene with two browsers and 15 screenshots: slow on a loaded machine.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


async def both_sizes(page: Page, name: str) -> None:
    """Screenshots at desktop and phone size (then back to the page's own size)."""
    size = page.viewport_size
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, f"lifecycle-{name}-{label}")
    await page.set_viewport_size(size)


async def test_schedule_rehearse_go_live_raid_and_figures(server, api, tmp_path) -> None:
    host_token = await add_user(server, "hostess")
    carol_token = await add_user(server, "carol")
    dave_token = await add_user(server, "dave")
    when = (utc_now() + timedelta(hours=1, minutes=5)).isoformat()
    stream = await api.create_stream(host_token, title="Spring sneaker drop", scheduled_at=when)
    sid = stream["id"]
    other = await api.create_stream(dave_token, title="Dave's vintage hour")
    await api.start(dave_token, other["id"])
    cover_file = tmp_path / "cover.png"
    cover_file.write_bytes(picture("PNG", (960, 540), (40, 120, 220)))

    async with (
        chromium(server.url, tmp_path / "host") as host,
        chromium(server.url, tmp_path / "carol", viewport=(390, 844)) as carol,
    ):
        await host.sign_in_as(host_token, "hostess")
        await carol.sign_in_as(carol_token, "carol")
        studio = await host.open(f"/studio/{sid}")
        await studio.wait_for_selector("#onair[data-state='offair']")
        await studio.set_input_files("#cover-file", str(cover_file))
        await studio.wait_for_selector("#cover-preview img.cover")
        await studio.fill("#detail-description", "Three pairs, sizes 38-42")
        await studio.click("#details-form button[type='submit']")
        await studio.wait_for_selector("text=Details saved")
        await both_sizes(studio, "1-studio-details")

        # The viewer's show page before live: cover, countdown, Remind me, Share.
        watch = await carol.open(f"/watch/{sid}")
        await watch.wait_for_selector("#before-live:not([hidden]) #countdown >> text=Starts in")
        await watch.wait_for_selector("#before-cover img.cover")
        await watch.wait_for_selector("#before-actions a[href$='/poster.png']")
        await both_sizes(watch, "2-watch-before-live")

        # The home page: upcoming with its cover; "Remind me".
        home = await carol.open("/")
        card = f".show-card:has(a[href='/watch/{sid}'])"
        await home.wait_for_selector(f"#upcoming-shows {card} img.cover")
        await home.click(f"{card} .btn-remind")
        await home.wait_for_selector(f"{card} .btn-remind[aria-pressed='true']")
        await both_sizes(home, "3-home-reminded")
        assert (await api.get_stream(sid))["reminders"] == 1

        # Rehearsal: the checklist turns green with the camera and a priced listing.
        await studio.click("#rehearse")
        await studio.wait_for_selector("#onair[data-state='rehearsal'] >> text=REHEARSAL")
        await studio.wait_for_selector("#check-listings_priced[data-ok='false']")
        await studio.wait_for_selector("#check-host_video[data-ok='true']", timeout=20_000)
        await studio.wait_for_selector("#check-host_audio[data-ok='true']", timeout=20_000)
        await studio.fill("#listing-title", "Air Max 90, size 42")
        await studio.fill("#listing-price", "89.50")
        await studio.fill("#listing-quantity", "3")
        await studio.click("#listing-submit")
        await studio.wait_for_selector("#check-listings_priced[data-ok='true']")
        await studio.wait_for_selector("#check-return_address[data-ok='false']")
        status, _ = await api.request("PUT", "/api/me/address", token=host_token, json=HOST_ADDRESS)
        assert status == 200
        await studio.wait_for_selector("#checks-ready[data-ready='true']")
        await both_sizes(studio, "4-studio-rehearsal-green")
        # Viewers may not chat in a rehearsal (stream_not_live): carol's page says so.
        rehearsal_view = await carol.context.new_page()
        await rehearsal_view.goto(f"{server.url}/watch/{sid}")
        await rehearsal_view.wait_for_selector("#chat-input[disabled][placeholder*='showtime']")

        # Go live: the big LIVE state; the reminder reaches carol on the home page.
        await studio.click("#golive")
        await studio.wait_for_selector("#onair[data-state='live'] >> text=LIVE")
        await home.wait_for_selector(f".toast-reminder a[href='/watch/{sid}']")
        await screenshot(home, "lifecycle-5-home-reminder-phone")
        await both_sizes(studio, "6-studio-live")
        await rehearsal_view.wait_for_selector("#chat-input:not([disabled])")  # open again
        await rehearsal_view.close()

        # Pin: the viewer's page shows it.
        await studio.fill("#pin-text", "Free shipping tonight")
        await studio.click("#pin-form button[type='submit']")
        watch = await carol.open(f"/watch/{sid}")
        await watch.wait_for_selector("#pinned >> text=Free shipping tonight")
        await both_sizes(watch, "7-watch-live-pinned")

        # Raid: carol is taken to dave's show.
        await studio.select_option("#raid-target", other["id"])
        await studio.click("#raid-form button[type='submit']")
        await watch.wait_for_url(f"**/watch/{other['id']}", timeout=15_000)
        await studio.wait_for_selector("#onair[data-state='ended']")
        await studio.wait_for_selector("#after-panel #restart")

        dashboard = await host.open(f"/dashboard#{sid}")
        await dashboard.wait_for_selector("#figures >> text=Peak viewers")
        await dashboard.wait_for_selector(".chart canvas")
        await both_sizes(dashboard, "8-dashboard")
        assert host.errors == [] and carol.errors == []

    stats = (await api.request("GET", f"/api/streams/{sid}/stats", token=host_token))[1]["stats"]
    assert stats["reminders"] == 1 and stats["reminded_attended"] == 1
    assert stats["peak_viewers"] >= 2  # the host's studio and carol's watch page
