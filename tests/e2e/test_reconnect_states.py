"""Real Chromium: the studio and the cohost page show media drops and republish by themselves.

The server drops the seat's WHIP session (as when a phone's network goes away);
the pages learn it from `stage:media` / `cohost:media`, show it, and publish again.
"""

from __future__ import annotations

import asyncio

import pytest

from server.keys import MEDIA, STREAMS
from tests.e2e.test_live_scene import attr_is
from tests.helpers.browser import (
    PHONE,
    chromium,
    record_toasts,
    screenshot,
    solid_y4m,
    toasts_shown,
)
from tests.helpers.server import add_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# Records every value an attribute takes (a short state is not missed between polls).
RECORD = """([selector, name]) => {
  const node = document.querySelector(selector);
  const seen = (window.__seen ??= {})[selector + '@' + name] = [node.getAttribute(name)];
  new MutationObserver(() => seen.push(node.getAttribute(name)))
    .observe(node, { attributes: true, attributeFilter: [name] });
}"""
SEEN = "([s, n]) => window.__seen[s + '@' + n]"


async def test_studio_and_cohost_page_show_reconnecting_and_recover(server, api, tmp_path) -> None:
    host_token = await add_user(server, "hostess")
    bob_token = await add_user(server, "bob")
    stream = await api.create_stream(host_token, title="Rain jackets")
    sid = stream["id"]
    await api.start(host_token, sid)
    await server.app[STREAMS].seat_cohost(sid, "bob")
    engine = server.app[MEDIA]
    red = solid_y4m(tmp_path / "red.y4m", (220, 30, 30))
    blue = solid_y4m(tmp_path / "blue.y4m", (30, 40, 220))

    async with (
        chromium(server.url, tmp_path / "host", fake_video=red) as host,
        chromium(server.url, tmp_path / "bob", fake_video=blue, viewport=PHONE) as bob,
    ):
        await host.sign_in_as(host_token, "hostess")
        await bob.sign_in_as(bob_token, "bob")
        studio = await host.open(f"/studio/{sid}")
        await studio.wait_for_selector("#golive:not([disabled])")
        await studio.click("#golive")
        await attr_is(studio, "#conn", "data-state", "ok")
        phone = await bob.open(f"/watch/{sid}")  # seated: the page goes on stage by itself
        await attr_is(phone, "#cohost-conn", "data-state", "ok")
        await attr_is(studio, "#cohost-state", "data-media", "connected")

        # --- the cohost's media is gone: the host is told, bob's page republishes
        await studio.evaluate(RECORD, ["#cohost-state", "data-media"])
        await phone.evaluate(RECORD, ["#cohost-conn", "data-state"])
        await engine.drop_seat(sid, "cohost")
        await attr_is(studio, "#cohost-state", "data-media", "reconnecting")
        await screenshot(studio, "faults-studio-cohost-reconnecting")
        # Said once ("…", not "….") and not in the all-good green.
        assert (await studio.text_content("#cohost-state")).endswith("reconnecting…")
        color = await studio.eval_on_selector("#cohost-state", "e => getComputedStyle(e).color")
        assert color == "rgb(255, 226, 168)", color
        await attr_is(studio, "#cohost-state", "data-media", "connected")
        assert "reconnecting" in await studio.evaluate(SEEN, ["#cohost-state", "data-media"])
        assert "warn" in await phone.evaluate(SEEN, ["#cohost-conn", "data-state"])
        await attr_is(phone, "#cohost-conn", "data-state", "ok")
        assert (await api.get_stream(sid))["cohost"] == "bob"

        # --- the host's media is gone: the studio republishes; bob's page shows it
        await studio.evaluate(RECORD, ["#conn", "data-state"])
        await phone.evaluate(RECORD, ["#stage", "data-host"])
        await engine.drop_seat(sid, "host")
        await attr_is(phone, "#stage", "data-host", "reconnecting")
        await screenshot(phone, "faults-cohost-page-host-reconnecting")
        await attr_is(phone, "#stage", "data-host", "connected")
        await attr_is(studio, "#conn", "data-state", "ok")
        assert "warn" in await studio.evaluate(SEEN, ["#conn", "data-state"])
        # Both on air again (polled: a loaded machine may stall a camera for a moment).
        async with asyncio.timeout(20):
            while not (engine.on_air(sid, "host") and engine.on_air(sid, "cohost")):
                await asyncio.sleep(0.1)

        # --- bob leaves the stage himself: his page says so (not "the host moved
        # you"), whichever of the ack and cohost:changed comes first; the host is told once
        await record_toasts(phone)
        await record_toasts(studio)
        await phone.click("#cohost-leave")
        await phone.wait_for_selector("#cohost-bar", state="hidden")
        await attr_is(studio, "#cohost-state", "data-state", "none")
        assert await toasts_shown(phone) == ["You left the stage."]
        assert await toasts_shown(studio) == ["@bob left the stage."]
        assert (await api.get_stream(sid))["cohost"] is None
        assert not host.errors and not bob.errors
