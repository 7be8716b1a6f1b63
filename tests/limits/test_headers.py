"""Security headers on every response, and the pages still work under the policy."""

from __future__ import annotations

import re

import pytest

from server.http import STATIC_DIR
from server.pages import TEMPLATES_DIR, render
from server.security import SECURITY_HEADERS
from tests.helpers.api import Api
from tests.helpers.browser import chromium, screenshot
from tests.helpers.server import RunningServer, add_user

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.I)


def assert_secured(headers, what: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, f"{what}: {name} is {headers.get(name)!r}"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy


async def test_every_kind_of_response_carries_the_headers(server: RunningServer, api: Api) -> None:
    token = await add_user(server, "hostess")
    stream = await api.create_stream(token)
    paths = [
        "/",
        f"/watch/{stream['id']}",
        f"/studio/{stream['id']}",
        "/static/js/watch.js",
        "/static/css/app.css",
        "/vendor/socket.io/socket.io.esm.min.js",
        f"/api/streams/{stream['id']}",
        "/api/streams/nope",  # 404 JSON
        "/no/such/route",
        "/healthz",
        "/socket.io/?EIO=4&transport=polling",
    ]
    for path in paths:
        async with api.session.get(server.url + path) as response:
            assert_secured(response.headers, path)
    async with api.session.post(server.url + "/api/streams", data=b"[") as response:
        assert response.status == 401
        assert_secured(response.headers, "401")


@pytest.mark.browser
async def test_the_pages_run_under_the_policy(server: RunningServer, api: Api, tmp_path) -> None:
    token = await add_user(server, "hostess")
    stream = await api.create_stream(token, title="Policy check")
    await api.start(token, stream["id"])
    async with chromium(
        server.url, tmp_path / "viewer", viewport=(390, 844), enforce_csp=True
    ) as person:
        violations: list[str] = []
        person.context.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page = await person.open("/")
        # The home page's script (no longer inline) ran: it shows the sign-in form.
        await page.wait_for_selector("#auth form", state="visible")
        await screenshot(page, "limits-home-under-csp-phone")
        await person.sign_in_as(token, "hostess")
        page = await person.open(f"/watch/{stream['id']}")
        await page.wait_for_selector("#title >> text=Policy check")
        await page.wait_for_selector("#badge[data-state='live']")
        # Realtime (a same-origin WebSocket) is allowed: the chat becomes available.
        await page.wait_for_selector("#chat input:enabled", state="visible")
        page = await person.open(f"/studio/{stream['id']}")
        # Its script ran (the title comes from the API; a phone layout may hide it).
        await page.wait_for_selector("#title >> text=Policy check", state="attached")
    assert violations == []
    assert person.errors == []


def test_pages_and_scripts_need_nothing_the_policy_forbids() -> None:
    """Every page and module keeps to the policy, including scenes that bypass it."""
    static = STATIC_DIR
    for page in TEMPLATES_DIR.glob("*.html"):
        html = render(page.name)
        assert not INLINE_SCRIPT.search(html), f"{page.name}: inline <script>"
        assert not INLINE_HANDLER.search(html), f"{page.name}: inline event handler"
        assert " style=" not in html, f"{page.name}: inline style attribute"
    for module in static.glob("js/*.js"):
        source = module.read_text("utf-8")
        for forbidden in ("eval(", "new Function", "innerHTML", 'setAttribute("style"'):
            assert forbidden not in source, f"{module.name}: {forbidden}"
