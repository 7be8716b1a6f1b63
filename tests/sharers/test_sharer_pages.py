"""Sharers in Chromium on a phone: a viewer opens a shared link, signs up, buys; the
sharer's link and "My referrals" page; the host's sharers table on the orders page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.api import Api
from tests.helpers.browser import chromium, screenshot
from tests.helpers.server import RunningServer
from tests.helpers.sharers import open_show

pytestmark = pytest.mark.browser

PHONE = (390, 844)


async def test_a_shared_link_brings_a_buyer_and_the_sharer_sees_the_commission(
    server: RunningServer, api: Api, tmp_path: Path
) -> None:
    show = await open_show(server, api, ("hostess", "sam"))
    await show.set_percent(10)
    await api.start(show.tokens["hostess"], show.stream_id)
    await show.listing("Silk scarf", 4550)

    # sam takes his own link from the watch page's Share dialog.
    async with chromium(server.url, tmp_path / "sam", viewport=PHONE) as sam:
        await sam.sign_in_as(show.tokens["sam"], "sam")
        page = await sam.open(f"/watch/{show.stream_id}")
        await page.click("#share-open")
        await page.wait_for_selector("#share[open] >> text=earns you 10 %")
        link = await page.input_value("#share-url")
        assert link == f"{server.url}/watch/{show.stream_id}?ref=sam"
        await screenshot(page, "sharers-1-share-dialog-phone")
        assert not sam.errors, sam.errors

    # A newcomer opens it on a phone, signs up when buying, and buys.
    async with chromium(server.url, tmp_path / "newcomer", viewport=PHONE) as newcomer:
        page = await newcomer.open(link.removeprefix(server.url))
        card = "#listings .listing"
        await page.wait_for_selector(f"{card} >> text=$45.50")
        await page.click(f"{card} button:has-text('Buy')")
        await page.click("#chat-auth-toggle")
        await page.fill("#chat-auth-username", "nina")
        await page.fill("#chat-auth-password", "a long password")
        await page.click("#chat-auth-submit")
        # Signed in, the page joins again with the remembered ref.
        await page.wait_for_selector("#referred-by >> text=You came through @sam's link.")
        await screenshot(page, "sharers-2-newcomer-signed-up-phone")
        await page.click(f"{card} button:has-text('Buy')")
        await page.wait_for_selector(".toast >> text=You bought Silk scarf!")
        assert not newcomer.errors, newcomer.errors

    [order] = (await show.ok("GET", show.path("orders"), "hostess"))["orders"]
    assert (order["buyer"], order["referrer"], order["total_cents"]) == ("nina", "sam", 4550)

    # sam's "My referrals" shows the order and the commission (10 % of 45.50 = 4.55).
    async with chromium(server.url, tmp_path / "sam2", viewport=PHONE) as sam:
        await sam.sign_in_as(show.tokens["sam"], "sam")
        page = await sam.open("/me/referrals")
        item = page.locator(f"#referrals li.card[data-stream-id='{show.stream_id}']")
        await item.locator("text=@nina · $45.50").wait_for()
        await item.locator("text=+$4.55 (10 %)").wait_for()
        assert "2 joins" in await item.locator(".referral-stats").inner_text()
        await page.wait_for_selector("#totals >> text=commission $4.55 · paid $0.00")
        await screenshot(page, "sharers-3-my-referrals-phone")
        assert not sam.errors, sam.errors

    # The host's orders page lists sam; after the payout his commission shows paid.
    await api.end(show.tokens["hostess"], show.stream_id)
    await show.ok("POST", show.path("payout"), "hostess")
    async with chromium(server.url, tmp_path / "host", viewport=PHONE) as host:
        await host.sign_in_as(show.tokens["hostess"], "hostess")
        page = await host.open(f"/shows/{show.stream_id}/orders")
        row = page.locator("#sharers tbody tr", has_text="@sam")
        await row.locator("text=Paid").wait_for()
        cells = await row.locator("td").all_inner_texts()
        assert cells == ["2", "1", "1", "$45.50", "$4.55", "Paid"]
        assert await page.input_value("#commission-percent") == "10"
        # The percent is locked now: saving another is refused with a clear message.
        await page.fill("#commission-percent", "20")
        await page.click("#commission-save")
        await page.wait_for_selector(".toast >> text=fixed once a sharer's link")
        await row.scroll_into_view_if_needed()
        await screenshot(page, "sharers-4-host-table-phone")
        assert not host.errors, host.errors
