"""Selling live in the browser: an auction started from the studio and fought over by
two phones, a flash sale bought with a live code at checkout, a giveaway entered and won."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.api import Api
from tests.helpers.browser import Person, chromium, screenshot
from tests.helpers.server import RunningServer, add_user

pytestmark = pytest.mark.browser
PHONE = (390, 844)


@pytest.fixture
async def server(server_factory: Any) -> RunningServer:
    """Auctions and giveaways as short as the scenes need: a run may last 1 s and a bid in
    its last 5 s extends it to 5 s from then (the protocol: at least 5 s, 10 s)."""
    return await server_factory(
        auction_min_seconds=1, giveaway_min_seconds=1, auction_snipe_seconds=5
    )


async def live_show(server: RunningServer, api: Api, *viewers: str) -> tuple[str, dict[str, str]]:
    tokens = {name: await add_user(server, name) for name in ("hostess", *viewers)}
    stream = await api.create_stream(tokens["hostess"], title="Friday night drops")
    await api.start(tokens["hostess"], stream["id"])
    return stream["id"], tokens


async def post(api: Api, path: str, token: str, body: Any = None, status: int = 201) -> Any:
    got, answer = await api.request("POST", path, token=token, json=body)
    assert got == status, answer
    return answer


async def phone(person: Person, token: str, name: str, stream_id: str):
    await person.sign_in_as(token, name)
    page = await person.open(f"/watch/{stream_id}")
    await page.wait_for_selector("body[data-joined='true']", state="attached", timeout=30_000)
    assert not person.errors, person.errors
    return page


async def test_an_auction_from_the_studio_two_phones_bid_one_wins(
    server: RunningServer, api: Api, tmp_path
) -> None:
    stream_id, tokens = await live_show(server, api, "bob", "carol")
    body = {"title": "1st edition holo card", "price_cents": 1000, "format": "auction"}
    listing = (await post(api, f"/api/streams/{stream_id}/listings", tokens["hostess"], body))[
        "listing"
    ]
    body = {"title": "Spare lot", "price_cents": 500, "format": "auction"}
    spare = (await post(api, f"/api/streams/{stream_id}/listings", tokens["hostess"], body))[
        "listing"
    ]
    async with (
        chromium(server.url, tmp_path / "host") as host,
        chromium(server.url, tmp_path / "bob", viewport=PHONE) as bob_browser,
        chromium(server.url, tmp_path / "carol", viewport=PHONE) as carol_browser,
    ):
        bob = await phone(bob_browser, tokens["bob"], "bob", stream_id)
        carol = await phone(carol_browser, tokens["carol"], "carol", stream_id)
        await host.sign_in_as(tokens["hostess"], "hostess")
        studio = await host.open(f"/studio/{stream_id}")
        await studio.wait_for_selector("body[data-joined='true']", state="attached")
        card = f"#listings .listing[data-id='{listing['id']}']"
        await start_auction(studio, card, seconds=8)
        await studio.wait_for_selector("#auction >> text=1st edition holo card")
        # While it runs, its card shows that instead of offering a second start.
        await studio.wait_for_selector(f"{card} .auction-running")
        assert await studio.locator(f"{card} summary:has-text('Start auction')").count() == 0

        for page in (bob, carol):
            await page.wait_for_selector("#bid-next >> text=Bid $10.00")
        await screenshot(bob, "selling-1-auction-open-phone")
        await bob.click("#bid-next")
        await bob.wait_for_selector("#auction-state >> text=You're winning")
        await carol.wait_for_selector("#bid-next >> text=Bid $11.00")
        await carol.click("#bid-next")
        await carol.wait_for_selector("#auction-state >> text=You're winning")
        await bob.wait_for_selector("#auction-state >> text=Outbid")
        await screenshot(bob, "selling-2-outbid-phone")
        await bob.fill("#bid-max", "20")
        await bob.click("#bid-max-submit")
        await bob.wait_for_selector("#auction-state >> text=You're winning")
        await carol.wait_for_selector("#auction-state >> text=Outbid")
        await screenshot(carol, "selling-3-carol-outbid-phone")
        await screenshot(studio, "selling-4-auction-running-studio")

        await bob.wait_for_selector("#auction-state >> text=You won!", timeout=30_000)
        await bob.wait_for_selector("#auction-order >> text=$12.00")
        # Their order opens beside the show (a new tab), not instead of it.
        link = bob.locator("#auction-order a[href='/me/orders'][target='_blank']")
        assert await link.count() == 1
        await bob.wait_for_selector("#auction >> text=Winning bid")
        await carol.wait_for_selector("#auction-state >> text=Sold to @bob")
        await screenshot(bob, "selling-5-won-phone")
        await studio.wait_for_selector(f"{card} .auction-running", state="detached")

        # An auction without a bid ends unsold: its card offers "Start auction" again.
        spare_card = f"#listings .listing[data-id='{spare['id']}']"
        await start_auction(studio, spare_card, seconds=2)
        await studio.wait_for_selector(f"{spare_card} .auction-running")
        assert await studio.locator(f"{spare_card} summary:has-text('Start auction')").count() == 0
        await studio.wait_for_selector("#auction-state >> text=No sale", timeout=15_000)
        await studio.wait_for_selector(f"{spare_card} summary:has-text('Start auction')")
        assert await studio.locator(f"{spare_card} .auction-running").count() == 0
        await screenshot(studio, "selling-5b-unsold-start-again-studio")
        assert not bob_browser.errors and not carol_browser.errors and not host.errors

    status, answer = await api.request(
        "GET", f"/api/streams/{stream_id}/orders", token=tokens["hostess"]
    )
    [order] = answer["orders"]
    assert (order["buyer"], order["total_cents"]) == ("bob", 1200)


async def start_auction(studio: Any, card: str, seconds: int) -> None:
    """Start the card's auction from the studio for `seconds`."""
    await studio.click(f"{card} summary:has-text('Start auction')")
    await studio.fill(f"{card} .auction-seconds", str(seconds))
    await studio.click(f"{card} .listing-tool button:has-text('Start')")


async def test_a_flash_sale_bought_with_a_live_code(
    server: RunningServer, api: Api, tmp_path
) -> None:
    stream_id, tokens = await live_show(server, api, "carol")
    host = tokens["hostess"]
    body = {"title": "Denim jacket", "price_cents": 5000, "quantity": 5}
    listing = (await post(api, f"/api/streams/{stream_id}/listings", host, body))["listing"]
    code = {"code": "LIVE10", "percent_off": 10, "max_uses": 5}
    await post(api, f"/api/streams/{stream_id}/codes", host, code)
    async with chromium(server.url, tmp_path / "carol", viewport=PHONE) as browser:
        page = await phone(browser, tokens["carol"], "carol", stream_id)
        flash = {"price_cents": 4000, "seconds": 120}
        await post(api, f"/api/listings/{listing['id']}/flash", host, flash, status=200)
        card = f"#listings .listing[data-id='{listing['id']}']"
        await page.wait_for_selector(f"{card} .listing-flash >> text=Flash sale")
        await page.wait_for_selector(f"{card} >> text=$40.00")
        await screenshot(page, "selling-6-flash-sale-phone")
        await page.click(f"{card} button:has-text('Buy')")
        await page.wait_for_selector("#checkout-summary >> text=Total $40.00")
        await page.fill("#checkout-code", "live10")
        await page.click("#checkout-apply")
        await page.wait_for_selector("#checkout-summary >> text=Total $36.00")
        await page.wait_for_selector("#checkout-summary >> text=−$4.00")
        await screenshot(page, "selling-7-checkout-with-code-phone")
        await page.click("#checkout-confirm")
        await page.wait_for_selector("dialog.checkout", state="detached")
        await page.wait_for_selector(f"{card} >> text=4 left")
        assert not browser.errors

    status, answer = await api.request("GET", f"/api/streams/{stream_id}/orders", token=host)
    [order] = answer["orders"]
    assert (order["unit_price_cents"], order["discount_code"], order["total_cents"]) == (
        4000,
        "LIVE10",
        3600,
    )


async def test_a_giveaway_started_in_the_studio_is_entered_and_won(
    server: RunningServer, api: Api, tmp_path
) -> None:
    stream_id, tokens = await live_show(server, api, "dave")
    async with (
        chromium(server.url, tmp_path / "host") as host,
        chromium(server.url, tmp_path / "dave", viewport=PHONE) as dave_browser,
    ):
        dave = await phone(dave_browser, tokens["dave"], "dave", stream_id)
        await host.sign_in_as(tokens["hostess"], "hostess")
        studio = await host.open(f"/studio/{stream_id}")
        await studio.wait_for_selector("body[data-joined='true']", state="attached")
        await studio.fill("#giveaway-title", "Signed poster")
        await studio.fill("#giveaway-seconds", "10")
        await studio.click("#giveaway-submit")
        await dave.click("#giveaway-enter >> text=Enter giveaway")
        await dave.wait_for_selector("#giveaway-enter >> text=You're in")
        await studio.wait_for_selector("#giveaway-count >> text=1 entrant")
        await screenshot(dave, "selling-8-giveaway-entered-phone")
        await dave.wait_for_selector(
            "#giveaway-result >> text=You won the giveaway", timeout=25_000
        )
        await studio.wait_for_selector("#giveaway-result >> text=Winner: @dave")
        href = await dave.get_attribute("#giveaway-verify", "href")
        await screenshot(dave, "selling-9-giveaway-won-phone")
        await screenshot(studio, "selling-10-giveaway-studio")
        assert not dave_browser.errors and not host.errors
    status, answer = await api.request("GET", href)
    assert status == 200 and answer["entrants"] == ["dave"] and answer["giveaway"]["seed"]
