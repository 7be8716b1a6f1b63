"""Before the show: details, cover, the share poster with its QR code, discovery."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from tests.lifecycle.conftest import Users, picture


async def test_host_edits_details_before_live_only(users: Users) -> None:
    stream = await users.show(title="Draft")
    path = f"/api/streams/{stream['id']}"
    body = {
        "title": "Spring drop",
        "description": "Three pairs\nsizes 38-42",
        "kind": "audio",
        "scheduled_at": "2026-12-24T18:00:00+01:00",
    }
    await users.fails("PATCH", path, "bob", 403, "forbidden", json=body)
    await users.fails("PATCH", path, None, 401, "unauthorized", json=body)
    await users.fails("PATCH", path, "hostess", 400, "invalid_field", json={"title": ""})
    await users.fails("PATCH", path, "hostess", 400, "invalid_field", json={"kind": "radio"})
    await users.fails("PATCH", path, "hostess", 400, "invalid_field", json={"title": "x\u202eevil"})
    assert (await users.api.get_stream(stream["id"]))[
        "title"
    ] == "Draft"  # refusals changed nothing

    edited = (await users.ok("PATCH", path, "hostess", json=body))["stream"]
    assert edited["title"] == "Spring drop"
    assert edited["description"] == "Three pairs\nsizes 38-42"
    assert edited["kind"] == "audio"
    assert edited["scheduled_at"] == "2026-12-24T17:00:00Z"
    assert edited["scheduled_at_ms"] == 1798131600000

    await users.api.start(users.tokens["hostess"], stream["id"])
    await users.fails("PATCH", path, "hostess", 409, "stream_not_editable", json={"title": "Late"})


async def test_cover_is_reencoded_pixels_only(users: Users) -> None:
    stream = await users.show()
    path = f"/api/streams/{stream['id']}/cover"
    for fmt, mime in (("PNG", "image/png"), ("WEBP", "image/webp"), ("JPEG", "image/jpeg")):
        data = picture(fmt, color=(20, 160, 60))
        body = await users.ok("PUT", path, "hostess", data=data, headers={"Content-Type": mime})
        cover_url = body["stream"]["cover_url"]
        assert cover_url.startswith("/covers/")
    async with users.api.session.get(users.api.base_url + cover_url) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        stored = await response.read()
    assert b"secret description" not in stored and b"Copyright" not in stored
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (320, 180)
    assert not image.getexif()
    r, g, b = image.convert("RGB").getpixel((160, 90))
    assert g > 120 and r < 60 and b < 100
    assert (await users.api.get_stream(stream["id"]))["cover_url"] == cover_url


async def test_bad_covers_are_refused_and_change_nothing(users: Users, server_factory) -> None:
    stream = await users.show()
    path = f"/api/streams/{stream['id']}/cover"
    png = picture("PNG")
    await users.fails(
        "PUT", path, "bob", 403, "forbidden", data=png, headers={"Content-Type": "image/png"}
    )
    await users.fails(
        "PUT",
        path,
        "hostess",
        415,
        "unsupported_media_type",
        data=png,
        headers={"Content-Type": "image/gif"},
    )
    await users.fails(
        "PUT",
        path,
        "hostess",
        400,
        "invalid_image",
        data=b"\x89PNG\r\n\x1a\nnot really",
        headers={"Content-Type": "image/png"},
    )
    await users.fails(  # a JPEG sent as PNG is not what it claims
        "PUT",
        path,
        "hostess",
        400,
        "invalid_image",
        data=picture("JPEG"),
        headers={"Content-Type": "image/png"},
    )
    assert (await users.api.get_stream(stream["id"]))["cover_url"] is None


async def test_cover_over_the_limit_is_413(server_factory, settings_factory) -> None:
    from tests.helpers.api import Api

    server = await server_factory(cover_max_bytes=10_000)
    async with Api(server.url) as api:
        people = Users(server, api)
        await people.add("hostess")
        stream = await people.show()
        noise = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
        out = io.BytesIO()
        Image.fromarray(noise).save(out, "PNG")
        assert len(out.getvalue()) > 10_000
        await people.fails(
            "PUT",
            f"/api/streams/{stream['id']}/cover",
            "hostess",
            413,
            "request_too_large",
            data=out.getvalue(),
            headers={"Content-Type": "image/png"},
        )


def decode_qr(png: bytes) -> str:
    pixels = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
    return text


async def test_poster_carries_a_qr_code_of_the_watch_url(users: Users) -> None:
    stream = await users.show(title="Sneaker night", scheduled_at="2026-12-24T18:00:00Z")
    await users.ok(
        "PUT",
        f"/api/streams/{stream['id']}/cover",
        "hostess",
        data=picture("PNG"),
        headers={"Content-Type": "image/png"},
    )
    async with users.api.session.get(
        f"{users.api.base_url}/api/streams/{stream['id']}/poster.png"
    ) as response:
        assert response.status == 200 and response.content_type == "image/png"
        png = await response.read()
    poster = Image.open(io.BytesIO(png))
    assert poster.format == "PNG" and poster.size == (1080, 1500)
    # The cover sits at the top of the poster (pink picture, not the placeholder).
    r, g, b = poster.convert("RGB").getpixel((540, 300))
    assert (r, g, b) == (200, 40, 90) or (r > 180 and g < 70 and 70 < b < 110)
    assert decode_qr(png) == f"{users.server.settings.advertised_url}/watch/{stream['id']}"

    status, body = await users.call("GET", "/api/streams/nope/poster.png")
    assert (status, body["error"]["code"]) == (404, "stream_not_found")


async def test_discover_lists_live_and_scheduled_shows(users: Users) -> None:
    later = await users.show(title="Later", scheduled_at="2026-12-30T10:00:00Z")
    sooner = await users.show(host="bob", title="Sooner", scheduled_at="2026-12-20T10:00:00Z")
    live = await users.show(host="carol", title="On air")
    await users.api.start(users.tokens["carol"], live["id"])
    gone = await users.show(title="Gone")
    await users.api.end(users.tokens["hostess"], gone["id"])

    scheduled = (await users.ok("GET", "/api/streams?status=scheduled"))["streams"]
    assert [s["id"] for s in scheduled] == [sooner["id"], later["id"]]
    on_air = (await users.ok("GET", "/api/streams?status=live"))["streams"]
    assert [s["id"] for s in on_air] == [live["id"]]
    both = (await users.ok("GET", "/api/streams"))["streams"]
    assert {s["id"] for s in both} == {live["id"], sooner["id"], later["id"]}
    await users.fails("GET", "/api/streams?status=ended", None, 400, "invalid_field")
    mine = (await users.ok("GET", "/api/me/streams", "hostess"))["streams"]
    assert {s["id"] for s in mine} == {later["id"], gone["id"]}
