"""Sharers in Chromium on a phone: the sharer takes their link, a newcomer opens it,
signs up and buys, the sharer's "My referrals" shows the order and the commission; the
host's sharers table on the orders page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.api import Api
from tests.helpers.browser import chromium, screenshot
from tests.helpers.server import RunningServer
from tests.helpers.sharers import open_show
from tests.helpers.sio import Connect

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
    async with (
        chromium(server.url, tmp_path / "sam", viewport=PHONE) as sam,
        chromium(server.url, tmp_path / "newcomer", viewport=PHONE) as newcomer,
    ):
        await sam.sign_in_as(show.tokens["sam"], "sam")
        page = await sam.open(f"/watch/{show.stream_id}")
        await page.click("#share-open")
        await page.wait_for_selector("#share[open] >> text=earns you 10 %")
        link = await page.input_value("#share-url")
        assert link == f"{server.url}/watch/{show.stream_id}?ref=sam"
        await screenshot(page, "sharers-1-share-dialog-phone")

        # A newcomer opens it on a phone, signs up when buying, and buys.
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
        # Buying confirms in the page first (the checkout dialog with the total).
        await page.wait_for_selector("#checkout-summary >> text=Total $45.50")
        await page.click("#checkout-confirm")
        await page.wait_for_selector(".toast >> text=You bought Silk scarf for $45.50!")
        assert not newcomer.errors, newcomer.errors

        [order] = (await show.ok("GET", show.path("orders"), "hostess"))["orders"]
        assert (order["buyer"], order["referrer"], order["total_cents"]) == ("nina", "sam", 4550)

        # sam's "My referrals" shows the order and the commission (10 % of 45.50 = 4.55).
        page = await sam.open("/me/referrals")
        item = page.locator(f"#referrals li.card[data-stream-id='{show.stream_id}']")
        await item.locator("text=@nina · $45.50").wait_for()
        await item.locator("text=+$4.55 (10 %)").wait_for()
        assert "2 joins" in await item.locator(".referral-stats").inner_text()
        await page.wait_for_selector("#totals >> text=commission $4.55 · paid $0.00")
        await screenshot(page, "sharers-3-my-referrals-phone")
        assert not sam.errors, sam.errors


async def test_the_host_sees_each_sharer_on_the_orders_page(
    server: RunningServer, api: Api, connect: Connect, tmp_path: Path
) -> None:
    show = await open_show(server, api, ("hostess", "sam", "nina"))
    await show.set_percent(10)
    await api.start(show.tokens["hostess"], show.stream_id)
    scarf = await show.listing("Silk scarf", 4550)
    nina = await show.viewer(connect, "nina")
    await show.join(nina, "sam")
    await show.buy("nina", scarf)
    await api.end(show.tokens["hostess"], show.stream_id)
    await show.ok("POST", show.path("payout"), "hostess")

    # The orders page lists sam; after the payout his commission shows paid.
    async with chromium(server.url, tmp_path / "host", viewport=PHONE) as host:
        await host.sign_in_as(show.tokens["hostess"], "hostess")
        page = await host.open(f"/shows/{show.stream_id}/orders")
        row = page.locator("#sharers tbody tr", has_text="@sam")
        await row.locator("text=Paid").wait_for()
        cells = await row.locator("td").all_inner_texts()
        assert cells == ["1", "1", "1", "$45.50", "$4.55", "Paid"]
        assert await page.input_value("#commission-percent") == "10"
        # The percent is locked now: saving another is refused with a clear message.
        await page.fill("#commission-percent", "20")
        await page.click("#commission-save")
        await page.wait_for_selector(".toast >> text=fixed once a sharer's link")
        await row.scroll_into_view_if_needed()
        await screenshot(page, "sharers-4-host-table-phone")
        assert not host.errors, host.errors
    assert (await api.get_stream(show.stream_id))["sharer_commission_percent"] == 10
