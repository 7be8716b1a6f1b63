"""Layout modes switched live by the host, as a viewer sees them."""

from __future__ import annotations

from tests.helpers.peers import Viewer, centre_colour, looks
from tests.helpers.server import add_user
from tests.media.conftest import Show

SPOT = (0.02, 0.02)  # small patches: the spots sit near edges and in bands


def shows(viewer: Viewer, size: tuple[int, int], spots: dict[tuple[float, float], str]):
    """A wait condition: the picture has `size` and each (x, y) spot looks its colour."""

    def check() -> bool:
        frame = viewer.frame
        if frame is None or (frame.width, frame.height) != size:
            return False
        return all(looks(centre_colour(frame, x, y, SPOT), c) for (x, y), c in spots.items())

    return check


async def test_the_host_switches_layouts_live_and_the_viewer_sees_each(show: Show) -> None:
    _, _, viewer = await show.on_stage()  # 4:3 cameras: host red, cohost blue

    # Default: each camera cropped to fill its half, so even the corners are colour.
    corners = {(0.1, 0.12): "red", (0.9, 0.88): "blue", (0.25, 0.5): "red"}
    await viewer.wait_for(shows(viewer, (1280, 720), corners))

    await show.switch_layout("side_by_side_letterbox")  # whole cameras: black bands above and below
    bands = {(0.25, 0.05): "black", (0.75, 0.95): "black", (0.25, 0.5): "red", (0.75, 0.5): "blue"}
    await viewer.wait_for(shows(viewer, (1280, 720), bands))

    await show.switch_layout("portrait")  # a phone-shaped frame: host above, cohost below
    stacked = {(0.5, 0.25): "red", (0.5, 0.75): "blue", (0.05, 0.05): "red", (0.95, 0.95): "blue"}
    await viewer.wait_for(shows(viewer, (720, 1280), stacked))

    await show.switch_layout("side_by_side")
    await viewer.wait_for(shows(viewer, (1280, 720), corners))

    status, body = await show.api.request(
        "PATCH",
        f"/api/streams/{show.stream_id}/layout",
        token=show.host_token,
        json={"layout": "diagonal"},
    )
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    carol = await add_user(show.server, "carol")
    status, body = await show.api.request(
        "PATCH",
        f"/api/streams/{show.stream_id}/layout",
        token=carol,
        json={"layout": "portrait"},
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
