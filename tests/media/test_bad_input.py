"""Bad WHIP/WHEP requests get protocol errors and disturb nothing."""

from __future__ import annotations

import pytest

from tests.helpers.peers import RED, looks
from tests.media.conftest import Show

SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
async def watched(show: Show):
    """A show with the host publishing and a viewer watching red."""
    await show.publish(show.host_token, RED, 440)
    viewer = await show.watch()
    await viewer.wait_for(lambda: viewer.frame is not None and looks(viewer.halves()[0], "red"))
    return show, viewer


async def test_bad_requests_get_protocol_errors_and_the_show_goes_on(watched) -> None:
    show, viewer = watched
    stranger_token, _ = await show.api.register("stranger")
    whip, whep = f"/whip/{show.stream_id}", f"/whep/{show.stream_id}"
    host = show.host_token
    cases = [
        # (method, path, token, body, headers, status, code)
        ("POST", whip, host, "not sdp", SDP, 400, "invalid_sdp"),
        ("POST", whip, host, "v=0\r\no=- 0 0 IN IP4 0\r\nm=banana\r\n", SDP, 400, "invalid_sdp"),
        ("POST", whep, None, "v=0\r\ns=-\r\n", SDP, 400, "invalid_sdp"),
        (
            "POST",
            whip,
            host,
            "v=0\r\n",
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            whep,
            None,
            "v=0\r\n",
            {"Content-Type": "application/json"},
            415,
            "unsupported_media_type",
        ),
        ("POST", whip, host, "v=0" + "x" * 200_000, SDP, 413, "request_too_large"),
        ("POST", "/whip/nope", host, "v=0\r\n", SDP, 404, "stream_not_found"),
        ("POST", "/whep/nope", None, "v=0\r\n", SDP, 404, "stream_not_found"),
        ("POST", whip, "forged.token", "v=0\r\n", SDP, 401, "invalid_token"),
        ("POST", whip, None, "v=0\r\n", SDP, 401, "unauthorized"),
        ("POST", whep, "forged.token", "v=0\r\n", SDP, 401, "invalid_token"),
        ("POST", whip, stranger_token, "v=0\r\n", SDP, 403, "forbidden"),
        ("DELETE", whip + "/nosuchsession", host, None, {}, 404, "session_not_found"),
        ("PATCH", whip + "/nosuchsession", host, "a=candidate", {}, 405, "trickle_not_supported"),
    ]
    for method, path, token, body, headers, status, code in cases:
        got, answer = await show.api.request(method, path, token=token, data=body, headers=headers)
        assert (got, answer["error"]["code"]) == (status, code), (method, path, answer)
        assert answer["error"]["message"]

    frames = viewer.frames
    await viewer.wait_for(lambda: viewer.frames >= frames + 15)
    assert looks(viewer.halves()[0], "red")
    assert list(show.room.publishers) == ["host"]


async def test_viewers_cannot_play_before_live_but_the_host_can(show: Show) -> None:
    stream = await show.api.create_stream(show.host_token, title="Tomorrow")
    path = f"/whep/{stream['id']}"
    status, body = await show.api.request("POST", path, data="v=0\r\n", headers=SDP)
    assert (status, body["error"]["code"]) == (409, "stream_not_live")
    await show.api.end(show.host_token, show.stream_id)
    status, body = await show.api.request(
        "POST", f"/whip/{show.stream_id}", token=show.host_token, data="v=0\r\n", headers=SDP
    )
    assert (status, body["error"]["code"]) == (409, "stream_ended")
