"""Every HTTP failure is protocol JSON with a fitting status; health and pages answer."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from server.app import create_app
from tests.helpers.api import Api
from tests.helpers.server import RunningServer, start_app
from tests.server.test_accounts import assert_error

CREDENTIALS = {"username": "someone", "password": "secret-pass"}


async def test_healthz(api: Api) -> None:
    assert await api.request("GET", "/healthz") == (200, {"ok": True})


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("text/plain", json.dumps(CREDENTIALS)), ("application/x-www-form-urlencoded", "a=b")],
)
async def test_wrong_content_type_is_415(api: Api, content_type: str, data: str) -> None:
    status, body = await api.request(
        "POST", "/api/auth/register", data=data, headers={"Content-Type": content_type}
    )
    assert_error(status, body, 415, "unsupported_media_type")


@pytest.mark.parametrize("data", ["{not json", "", "[1, 2]", '"text"', "null", "\xff"])
async def test_bad_json_is_400(api: Api, data: str) -> None:
    status, body = await api.request(
        "POST",
        "/api/auth/register",
        data=data.encode("latin-1"),
        headers={"Content-Type": "application/json"},
    )
    assert_error(status, body, 400, "invalid_json")


async def test_huge_body_is_413(api: Api, server: RunningServer) -> None:
    big = {"username": "x" * (server.settings.max_body_bytes + 1), "password": "secret-pass"}
    status, body = await api.request("POST", "/api/auth/register", json=big)
    assert_error(status, body, 413, "request_too_large")
    # The server is still fine afterwards.
    assert (await api.request("GET", "/healthz"))[0] == 200


async def test_body_limit_is_configurable(server_factory) -> None:
    small = await server_factory(max_body_bytes=100)
    async with Api(small.url) as api:
        status, body = await api.request(
            "POST", "/api/auth/register", json={**CREDENTIALS, "pad": "p" * 200}
        )
        assert_error(status, body, 413, "request_too_large")
        await api.register("fits")


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/streams/x/y/z", "/static/none.js"])
async def test_unknown_route_is_404_json(api: Api, path: str) -> None:
    status, body = await api.request("GET", path)
    assert_error(status, body, 404, "not_found")


async def test_wrong_method_is_405_json(api: Api) -> None:
    async with api.session.get(api.base_url + "/api/auth/register") as response:
        assert response.status == 405
        assert "POST" in response.headers["Allow"]
        assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_unexpected_exception_is_500_json(settings_factory) -> None:
    app = create_app(settings_factory())

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaput")

    app.router.add_get("/test/boom", boom)
    running = await start_app(app)
    try:
        async with Api(running.url) as api:
            status, body = await api.request("GET", "/test/boom")
            assert_error(status, body, 500, "internal_error")
            assert "kaput" not in body["error"]["message"]  # no internals leak
            assert (await api.request("GET", "/healthz"))[0] == 200
    finally:
        await running.stop()


@pytest.mark.parametrize(
    "path",
    ["/", "/studio/abc", "/watch/abc", "/dashboard", "/giveaways/x", "/me/orders", "/me/profile"]
    + ["/me/referrals", "/shows/abc/orders", "/replay/abc"],
)
async def test_pages_are_served(api: Api, path: str) -> None:
    async with api.session.get(api.base_url + path) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "<html" in (await response.text()).lower()


async def test_static_does_not_escape_its_directory(api: Api) -> None:
    status, _ = await api.request("GET", "/static/../pyproject.toml")
    assert status in (403, 404)
    status, _ = await api.request("GET", "/static/%2e%2e/pyproject.toml")
    assert status in (403, 404)
