"""The studio at laptop size: the side column (cohost, chat, tools) stays in view below
the top bar however far the host scrolls the stage column, and the on-air banner tells
a live host whose camera is not being sent that viewers see the slate."""

from __future__ import annotations

import pytest

from tests.e2e.test_selling import live_show, post, server  # noqa: F401  (the fixture)
from tests.helpers.api import Api
from tests.helpers.browser import chromium, screenshot
from tests.helpers.server import RunningServer

pytestmark = pytest.mark.browser


async def side_column_in_view(page) -> dict[str, float]:
    """Where the top bar ends and the chat's input sits, in viewport pixels."""
    return await page.evaluate(
        """() => ({
          bar: document.querySelector('.topbar').getBoundingClientRect().bottom,
          aside: document.querySelector('.side-col').getBoundingClientRect().top,
          input: document.querySelector('#chat-input').getBoundingClientRect().bottom,
          height: window.innerHeight,
        })"""
    )


async def test_the_side_column_stays_below_the_top_bar_and_the_banner_tells_the_truth(
    server: RunningServer,  # noqa: F811
    api: Api,
    tmp_path,
) -> None:
    stream_id, tokens = await live_show(server, api)  # live, started over the API
    for title in ("1st edition holo card", "Spare lot", "Denim jacket"):
        body = {"title": title, "price_cents": 1000, "format": "auction"}
        await post(api, f"/api/streams/{stream_id}/listings", tokens["hostess"], body)
    async with chromium(server.url, tmp_path / "host") as host:
        await host.sign_in_as(tokens["hostess"], "hostess")
        studio = await host.open(f"/studio/{stream_id}")
        await studio.wait_for_selector("body[data-joined='true']", state="attached")
        # Live, but this page sends nothing yet: not the red "viewers see you" state.
        await studio.wait_for_selector("#onair[data-state='paused'] >> text=NOT ON AIR")
        await studio.wait_for_selector("#program-idle >> text=Resume broadcast")
        await studio.wait_for_selector("#golive:not([disabled]) >> text=Resume broadcast")
        # One row at laptop width: the buttons beside the brand, not wrapped below it.
        rows = await studio.evaluate(
            """() => [document.querySelector('.brand'), document.querySelector('#golive')]
                 .map((element) => element.getBoundingClientRect())
                 .map((box) => [box.top, box.bottom])"""
        )
        (brand_top, brand_bottom), (button_top, button_bottom) = rows
        assert button_top < brand_bottom and brand_top < button_bottom, rows

        await studio.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await studio.wait_for_function("window.scrollY > 300")
        place = await side_column_in_view(studio)
        assert place["aside"] >= place["bar"], place  # not under the top bar
        assert place["input"] <= place["height"], place  # the chat is still at hand
        await screenshot(studio, "studio-layout-1-scrolled-not-on-air")

        await studio.click("#golive")
        await studio.wait_for_selector("#onair[data-state='live'] >> text=LIVE")
        # The top bar changed height (its buttons changed): the side column follows.
        await studio.wait_for_function(
            """() => Math.abs(document.querySelector('.side-col').getBoundingClientRect().top
                 - document.querySelector('.topbar').getBoundingClientRect().bottom - 16) < 2"""
        )
        place = await side_column_in_view(studio)
        assert place["input"] <= place["height"], place
        await screenshot(studio, "studio-layout-2-scrolled-live")

        # On a phone the show's title keeps room beside the buttons ("Orders" there).
        await studio.set_viewport_size({"width": 390, "height": 844})
        await studio.evaluate("window.scrollTo(0, 0)")
        width = await studio.evaluate(
            "document.querySelector('#title').getBoundingClientRect().width"
        )
        await screenshot(studio, "studio-layout-3-live-phone")
        assert width >= 110, width
        # Two rows on a phone: the status row keeps to one line (the all-good
        # "Publishing" chip, which the LIVE banner already says, is not shown there).
        rows = await studio.evaluate(
            """() => ['#badge', '#viewer-count', '#conn'].map((selector) => {
                 const box = document.querySelector(selector).getBoundingClientRect();
                 return [selector, box.top, box.height];
               })"""
        )
        (_, badge_top, _), (_, count_top, _), (_, _, conn_height) = rows
        assert abs(badge_top - count_top) < 4 and conn_height == 0, rows
