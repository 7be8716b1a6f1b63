"""The host's "Orders & shipping" page in Chromium, on a phone, after a co-hosted show:
split a bundle, create labels (from the keyboard), download the PDF, email the cohost,
pay out and share; then the buyer's "My orders" and the profile page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.after_sale import (
    CAROL_ADDRESS,
    DAVE_ADDRESS,
    HOST_ADDRESS,
    Inbox,
    SoldShow,
    attachments,
    pdf_pages,
)
from tests.helpers.browser import chromium, screenshot

pytestmark = pytest.mark.browser

PHONE = (390, 844)


async def test_the_host_ships_and_pays_from_the_orders_page(
    show: SoldShow, inbox: Inbox, tmp_path: Path
) -> None:
    for user, address in (("hostess", HOST_ADDRESS), ("carol", CAROL_ADDRESS)):
        await show.ok("PUT", "/api/me/address", user, address)
    await show.ok("PUT", "/api/me/address", "dave", DAVE_ADDRESS)
    await show.ok("PUT", "/api/me/email", "bob", {"email": "bob@example.com"})
    await show.api.end(show.tokens["hostess"], show.stream_id)

    async with chromium(show.server.url, tmp_path / "host", viewport=PHONE) as host:
        await host.sign_in_as(show.tokens["hostess"], "hostess")
        # From the host's show list on the home page to the show's orders page.
        page = await host.open("/")
        link = page.locator("#show-list a:has-text('Orders & shipping')")
        await link.wait_for()
        await screenshot(page, "orders-0-home-show-list-phone")
        await link.click()
        await page.wait_for_url(f"**/shows/{show.stream_id}/orders")
        cards = page.locator("#shipments > li.card")
        await page.wait_for_function(
            "document.querySelectorAll('#shipments > li.card').length === 5"
        )
        await page.wait_for_selector("#return-body >> text=1 Return Road")
        await screenshot(page, "orders-1-host-phone")

        # Split carol's bundle: the jacket ships on its own.
        await page.click("button[aria-label='Ship 1 × Denim jacket separately']")
        await page.wait_for_function(
            "document.querySelectorAll('#shipments > li.card').length === 6"
        )
        assert await cards.filter(has_text="@carol").count() == 3

        # "Create labels" from the keyboard alone.
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement?.id") == "create-labels":
                break
        else:
            raise AssertionError("Create labels is not reachable with Tab")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#labels-summary >> text=5 labels for 6 shipments")
        await page.wait_for_selector("#skipped >> text=@eve")
        await screenshot(page, "orders-2-labels-phone")

        async with page.expect_download() as download_info:
            await page.click("button:has-text('PDF (all)')")
        download = await download_info.value
        assert download.suggested_filename == f"labels-{show.stream_id}.pdf"
        pages = pdf_pages(Path(await download.path()).read_bytes())
        assert len(pages) == 5 and all(HOST_ADDRESS["line1"] in text for text in pages)

        await page.click("button:has-text('Email labels to @bob')")
        await page.wait_for_selector(".toast >> text=Labels emailed to bob@example.com")
        [message] = inbox.messages
        mailed = attachments(message)[f"labels-{show.stream_id}-bob.pdf"][1]
        text = "\n".join(pdf_pages(mailed))
        assert "Vintage camera" in text and "Red sneakers" not in text
        await page.wait_for_selector("#shipments >> text=emailed")

        await page.click("#payout")
        await page.wait_for_selector("#money >> text=Paid out")
        await page.fill("#share-amount", "20.00")
        await page.click("#share-form button:has-text('Share with @bob')")
        await page.wait_for_selector("#money >> text=Shared $20.00 with @bob")
        # Six notes in a few seconds: only the newest three stay on screen.
        await page.wait_for_selector(".toast >> text=Shared $20.00 with @bob")
        assert await page.locator(".toast").count() <= 3
        await screenshot(page, "orders-3-money-phone")
        assert (await show.ok("GET", "/api/me/ledger", "bob"))["balance_cents"] == 2000
        assert host.errors == []

        await host.sign_in_as(show.tokens["carol"], "carol")
        mine = await host.open("/me/orders")
        await mine.wait_for_selector("#orders >> text=Shipping label CS")
        assert await mine.locator("#orders > li.card").count() == 4
        await screenshot(mine, "orders-4-my-orders-phone")
        profile = await host.open("/me/profile")
        await profile.wait_for_function("document.querySelector('#addr-city').value === 'Bristol'")
        await profile.fill("#email", "carol@example.com")
        await profile.click("#email-form button[type=submit]")
        await profile.wait_for_selector(".toast >> text=Email saved.")
        await screenshot(profile, "orders-5-profile-phone")
        assert host.errors == []
    assert (await show.ok("GET", "/api/me/profile", "carol"))["user"]["email"] == (
        "carol@example.com"
    )
