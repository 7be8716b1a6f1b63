"""Selling live in the browser: an auction started from the studio and fought over by
two phones, a flash sale bought with a live code at checkout, a giveaway entered and won."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.helpers.api import Api
from tests.helpers.browser import Person, chromium, screenshot
from tests.helpers.server import RunningServer, add_user
from tests.helpers.sio import Connect
from tests.selling.test_giveaways import recompute

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
        # The host sees the sale as it happens, and the show's running total.
        await studio.wait_for_selector(".toast >> text=Sold: 1st edition holo card to @bob")
        await studio.wait_for_selector("#sales-total >> text=Sold this show: 1 order · $12.00")

        # An auction without a bid ends unsold: its card offers "Start auction" again.
        spare_card = f"#listings .listing[data-id='{spare['id']}']"
        await start_auction(studio, spare_card, seconds=2)
        await studio.wait_for_selector(f"{spare_card} .auction-running")
        assert await studio.locator(f"{spare_card} summary:has-text('Start auction')").count() == 0
        await studio.wait_for_selector("#auction-state >> text=No sale", timeout=15_000)
        await studio.wait_for_selector(f"{spare_card} summary:has-text('Start auction')")
        assert await studio.locator(f"{spare_card} .auction-running").count() == 0
        await screenshot(studio, "selling-5b-unsold-start-again-studio")
        # A reloaded studio counts the show's orders from the start.
        await studio.reload()
        await studio.wait_for_selector("#sales-total >> text=Sold this show: 1 order · $12.00")
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
        # Every open page flags the card for a moment: one just sold.
        await page.wait_for_selector(f"{card}[data-just-sold]")
        await screenshot(page, "selling-7b-just-sold-phone")
        await page.wait_for_selector(f"{card}[data-just-sold]", state="detached")
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
    giveaway_id = href.removeprefix("/giveaways/")  # the verify page (next test)
    status, answer = await api.request("GET", f"/api/giveaways/{giveaway_id}")
    assert status == 200 and answer["entrants"] == ["dave"] and answer["giveaway"]["seed"]


# Usernames of every kind the draw sorts: upper and lower case, digits, underscores.
NAME_POOL = ["Zed", "amy", "Bob_1", "bob2", "carl", "Dora", "eve_", "x9", "Yan", "zoe", "_al"]
DRAW_ORDERS = """async (cases) => {
  const { drawOrder } = await import('/static/js/fair_draw.js');
  return Promise.all(cases.map(([seed, names]) => drawOrder(seed, names)));
}"""
EXPLAIN = """async ([order, winner]) =>
  (await import('/static/js/fair_draw.js')).explain(order, winner)"""
SEED_MATCHES = """async ([seed, commitment]) =>
  (await import('/static/js/fair_draw.js')).seedMatches(seed, commitment)"""


async def test_the_verify_page_redoes_the_draw_in_the_browser(
    server: RunningServer, api: Api, connect: Connect, tmp_path
) -> None:
    """Six entrants, one gone before the draw: the giveaway's page, opened by anyone in
    Chromium, checks the seed against the commitment and lands where Python's
    recomputation does; its draw agrees with Python's on random seeds and names too."""
    names = ("bob", "Carol", "dave", "erin", "frank", "gina")
    stream_id, tokens = await live_show(server, api, *names)
    clients = {}
    for name in names:
        clients[name] = await connect(server.url, tokens[name], name)
        await clients[name].ok("join", {"stream_id": stream_id})
    body = {"title": "Signed poster", "seconds": 3}
    path = f"/api/streams/{stream_id}/giveaways"
    giveaway = (await post(api, path, tokens["hostess"], body))["giveaway"]
    for client in clients.values():
        await client.ok("giveaway:enter", {"giveaway_id": giveaway["id"]})
    await clients["Carol"].close()  # gone before the draw: skipped if it lands on her
    ended = (await clients["bob"].next("giveaway:ended", timeout=20))["giveaway"]
    status, answer = await api.request("GET", f"/api/giveaways/{giveaway['id']}")
    assert status == 200 and sorted(answer["entrants"]) == sorted(names), answer
    order = recompute(ended["seed"], answer["entrants"])
    assert ended["winner"].lower() == [name for name in order if name != "carol"][0]

    async with chromium(server.url, tmp_path / "anyone", viewport=PHONE) as anyone:
        page = await anyone.open(f"/giveaways/{giveaway['id']}")
        verify = await page.wait_for_selector("#verify[data-state='checked']")
        assert await verify.get_attribute("data-seed-ok") == "true"
        assert await verify.get_attribute("data-winner-ok") == "true"
        assert await verify.get_attribute("data-landing") == order[0]
        await page.wait_for_selector(f"#check-winner >> text=@{ended['winner']} won")
        await page.wait_for_selector(f"#show-link[href='/watch/{stream_id}']")
        await screenshot(page, "selling-11-giveaway-verified-phone")

        rng = random.Random(20)
        cases = [
            (rng.randbytes(32).hex(), rng.sample(NAME_POOL, rng.randint(1, 9))) for _ in range(25)
        ]
        assert await page.evaluate(DRAW_ORDERS, cases) == [recompute(*case) for case in cases]
        # A seed that is not the committed one is caught.
        assert not await page.evaluate(SEED_MATCHES, ["00" * 32, giveaway["commitment"]])
        assert await page.evaluate(SEED_MATCHES, [ended["seed"], giveaway["commitment"]])
        # Who the draw passed over to reach the winner; a winner who never entered.
        explained = await page.evaluate(EXPLAIN, [["carol", "dave", "erin"], "dave"])
        assert explained == {"landing": "carol", "skipped": ["carol"], "winnerOk": True}
        explained = await page.evaluate(EXPLAIN, [["carol", "dave"], "mallory"])
        assert explained["winnerOk"] is False
        await page.goto(f"{server.url}/giveaways/no-such-giveaway")
        await page.wait_for_selector("#page-error >> text=No such giveaway.")
        assert not anyone.errors
