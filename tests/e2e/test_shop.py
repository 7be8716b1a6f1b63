"""Shopping the show in the browser: listings appear live, the presented one is
flagged, a signed-in viewer buys the last one and everyone sees it sold out."""

from __future__ import annotations

import pytest

from tests.helpers.browser import chromium, screenshot

pytestmark = pytest.mark.browser


async def test_a_viewer_buys_the_presented_item_from_the_watch_page(server, api, tmp_path) -> None:
    host_token, _ = await api.register("hostess")
    carol_token, _ = await api.register("carol")
    stream = await api.create_stream(host_token, title="Vintage denim")
    await api.start(host_token, stream["id"])
    listings = f"/api/streams/{stream['id']}/listings"
    async with chromium(
        server.url, tmp_path / "carol", viewport=(390, 844), enforce_csp=True
    ) as carol:
        await carol.sign_in_as(carol_token, "carol")
        page = await carol.open(f"/watch/{stream['id']}")
        await page.wait_for_selector("#listings .listings-empty", state="visible")

        status, body = await api.request(
            "POST",
            listings,
            token=host_token,
            json={"title": "Levi's 501, W32", "price_cents": 4500, "quantity": 1},
        )
        assert status == 201, body
        listing = body["listing"]
        card = f"#listings .listing[data-id='{listing['id']}']"
        await page.wait_for_selector(f"{card} >> text=$45.00")
        status, _ = await api.request(
            "POST", f"/api/listings/{listing['id']}/present", token=host_token
        )
        assert status == 200
        await page.wait_for_selector(f"{card}[data-presenting='true'] >> text=Now showing")
        await screenshot(page, "watch-4-shop-phone")

        # Buying asks first, in the page: cancelling buys nothing.
        await page.click(f"{card} button:has-text('Buy')")
        await page.wait_for_selector("#checkout-summary >> text=Total $45.00")
        await page.click("#checkout-cancel")
        await page.wait_for_selector("#checkout-confirm", state="detached")
        status, body = await api.request(
            "GET", f"/api/streams/{stream['id']}/orders", token=host_token
        )
        assert body["orders"] == []
        await page.click(f"{card} button:has-text('Buy')")
        await page.wait_for_selector("#checkout-summary >> text=Total $45.00")
        # No keyboard pops up on a phone: the code field is not focused, Cancel is.
        assert await page.evaluate("document.activeElement.id") == "checkout-cancel"
        await screenshot(page, "watch-5-buy-confirm-phone")
        await page.click("#checkout-confirm")
        await page.wait_for_selector(f"{card} >> text=Sold out")
        await page.wait_for_selector(f"{card} button:has-text('Buy')", state="detached")

    status, body = await api.request("GET", f"/api/streams/{stream['id']}/orders", token=host_token)
    assert status == 200
    [order] = body["orders"]
    assert (order["buyer"], order["seller"], order["total_cents"]) == ("carol", "hostess", 4500)


async def test_the_host_lists_and_presents_items_from_the_studio(server, api, tmp_path) -> None:
    host_token, _ = await api.register("hostess")
    stream = await api.create_stream(host_token, title="Sneaker Sunday")
    async with chromium(server.url, tmp_path / "host", enforce_csp=True) as host:
        await host.sign_in_as(host_token, "hostess")
        studio = await host.open(f"/studio/{stream['id']}")
        await studio.fill("#listing-title", "Air Max 90, size 42")
        await studio.fill("#listing-price", "89.50")
        await studio.fill("#listing-quantity", "3")
        await studio.click("#listing-submit")
        card = "#listings .listing"
        await studio.wait_for_selector(f"{card} >> text=$89.50")
        await studio.click(f"{card} button:has-text('Present')")
        await studio.wait_for_selector(f"{card}[data-presenting='true'] >> text=Now showing")
        await screenshot(studio, "studio-7-listing-presented-desktop")

    [listing] = (await api.request("GET", f"/api/streams/{stream['id']}/listings"))[1]["listings"]
    assert (listing["title"], listing["price_cents"], listing["quantity"]) == (
        "Air Max 90, size 42",
        8950,
        3,
    )
