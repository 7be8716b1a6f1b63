"""The picture every output carries: the lower third and the on-screen QR code guard."""

from __future__ import annotations

import time

from tests.conftest import Connect
from tests.helpers.outputs import qr_picture
from tests.helpers.peers import RED, centre_colour, looks
from tests.media.conftest import Show


async def test_the_item_on_stage_is_drawn_as_a_lower_third(show: Show) -> None:
    await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    bar, picture = (0.5, 0.95), (0.5, 0.4)
    spot = (0.05, 0.02)

    def bar_looks(colour: str):
        return lambda: (
            viewer.frame is not None and looks(centre_colour(viewer.frame, *bar, spot), colour)
        )

    await viewer.wait_for(bar_looks("red"), timeout=20)  # nothing on stage: no bar
    status, body = await show.api.request(
        "POST",
        f"/api/streams/{show.stream_id}/listings",
        token=show.host_token,
        json={"title": "Denim jacket", "price_cents": 3900, "quantity": 1},
    )
    assert status == 201, body
    listing = body["listing"]
    status, _ = await show.api.request(
        "POST", f"/api/listings/{listing['id']}/present", token=show.host_token
    )
    assert status == 200
    # The bar darkens the bottom of the picture; the rest stays the camera's.
    await viewer.wait_for(
        lambda: (
            not looks(centre_colour(viewer.frame, *bar, spot), "red")
            and looks(centre_colour(viewer.frame, *picture), "red")
        )
    )
    room = show.room
    assert room.lower_third.current.title == "Denim jacket"
    assert room.lower_third.current.price == "$39.00"


async def test_a_qr_code_on_screen_warns_the_host_within_5_s(show: Show, connect: Connect) -> None:
    studio = await connect(show.server.url, show.host_token, "hostess")
    await studio.ok("join", {"stream_id": show.stream_id})
    host, _ = await show.publish(show.host_token, RED, 440)
    await show.first_frame("host")
    host.video.picture = qr_picture("https://pay.example/outside-the-shop")
    shown = time.monotonic()
    warning = await studio.next("qr:detected", timeout=5.0)
    assert time.monotonic() - shown < 5.0
    assert warning["stream_id"] == show.stream_id
    assert warning["payload"] == "https://pay.example/outside-the-shop"
    status, body = await show.api.request(
        "GET", f"/api/streams/{show.stream_id}/qr-incidents", token=show.host_token
    )
    assert status == 200 and len(body["incidents"]) == 1
    guard = show.room.qr_guard
    # Never more than 5% of a core: CPU seconds spent per second of samples.
    assert guard.samples >= 1 and guard.busy_seconds / (guard.samples * guard.interval) < 0.05
