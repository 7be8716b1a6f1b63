"""The whole live-shopping scene in real Chromium: host studio, a viewer, and bob the cohost.

One browser process per person, each with its own fake camera (host red, bob blue).
The scene is long on purpose: one live show exercises chat, mentions, autocomplete,
the username menu, decline / re-invite, a blocked camera and retry, the composite,
removal and the end — and saves screenshots of every page state under tests/artifacts/.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.api import Api
from tests.helpers.browser import (
    PHONE,
    chromium,
    frames_advance,
    record_toasts,
    screenshot,
    solid_y4m,
    toasts_shown,
    wait_for_halves,
)
from tests.helpers.server import add_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

XSS = '<img src=x onerror="window.__xss=1"><b>bold</b> & <script>window.__xss=2</script>'

# Makes the next `count` getUserMedia calls fail as if the user had blocked the camera.
BLOCK_CAMERA = """(count) => {
  const md = navigator.mediaDevices;
  const real = md.getUserMedia.bind(md);
  let left = count;
  md.getUserMedia = (constraints) => left-- > 0
    ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError'))
    : real(constraints);
}"""

# An anonymous Socket.IO client (the page's own bundle) tries to chat.
ANONYMOUS_CHAT = """async (streamId) => {
  const { io } = await import('/vendor/socket.io/socket.io.esm.min.js');
  const socket = io({ forceNew: true });
  await new Promise((resolve) => socket.on('connect', resolve));
  await socket.timeout(5000).emitWithAck('join', { stream_id: streamId });
  const ack = await socket.timeout(5000).emitWithAck('chat:send', { text: 'sneaky' });
  socket.disconnect();
  return ack;
}"""


async def text_is(page, selector: str, text: str, timeout: float = 30) -> None:
    await page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent.trim() === t",
        arg=[selector, text],
        timeout=timeout * 1000,
    )


async def attr_is(page, selector: str, name: str, value: str, timeout: float = 30) -> None:
    await page.wait_for_function(
        "([s, n, v]) => document.querySelector(s)?.getAttribute(n) === v",
        arg=[selector, name, value],
        timeout=timeout * 1000,
    )


async def test_live_scene_host_viewer_and_cohost(server, api, tmp_path) -> None:
    await api.register("hostess")
    token, _ = await api.login("hostess")
    stream = await api.create_stream(
        token,
        title="Vintage denim drop",
        description="90s Levi's, trucker jackets and a few rare finds.",
        scheduled_at="2031-05-01T18:00:00Z",
    )
    sid = stream["id"]
    red = solid_y4m(tmp_path / "red.y4m", (220, 30, 30))
    blue = solid_y4m(tmp_path / "blue.y4m", (30, 40, 220))

    async with (
        chromium(server.url, tmp_path / "host", fake_video=red) as host,
        chromium(server.url, tmp_path / "viewer") as viewer,
        chromium(server.url, tmp_path / "bob", fake_video=blue, viewport=PHONE) as bob,
    ):
        # --- before live: title, description, host, scheduled time, "starting soon"
        watch = await viewer.open(f"/watch/{sid}")
        phone = await bob.open(f"/watch/{sid}")
        for page in (watch, phone):
            await text_is(page, "#status", "Starting soon")
            assert await page.is_visible("#before-live")
            assert await page.text_content("#poster-title") == "Vintage denim drop"
            assert "@hostess" in await page.text_content("#poster-host")
            assert "Scheduled for" in await page.text_content("#poster-when")
        await screenshot(watch, "watch-1-before-live-desktop")
        await screenshot(phone, "watch-1-before-live-phone")

        # --- anonymous viewer: read-only chat, and the server refuses a chat:send
        assert await watch.is_visible("#chat-signin")
        assert not await watch.is_visible("#chat-input")
        ack = await watch.evaluate(ANONYMOUS_CHAT, sid)
        assert ack["ok"] is False and ack["error"]["code"] == "unauthorized", ack

        # --- bob signs up inline from the chat panel (on his phone)
        await phone.click("#chat-signin-open")
        await phone.click("#chat-auth-toggle")
        await phone.fill("#chat-auth-username", "bob")
        await phone.fill("#chat-auth-password", "bob-secret-1")
        await phone.click("#chat-auth-submit")
        await phone.wait_for_selector("#chat-input:not([disabled])", state="visible")

        # --- the host signs in on the studio page and goes live
        studio = await host.open(f"/studio/{sid}")
        await studio.wait_for_selector("#studio-auth-form")
        await screenshot(studio, "studio-0-sign-in-desktop")
        await studio.fill("#studio-auth-username", "hostess")
        await studio.fill("#studio-auth-password", "secret-pass")
        await studio.click("#studio-auth-submit")
        await studio.wait_for_function("document.querySelector('#preview').videoWidth > 0")
        await screenshot(studio, "studio-1-preview-desktop")
        await studio.click("#golive")
        await text_is(studio, "#status", "LIVE")
        await attr_is(studio, "#conn", "data-state", "ok")
        await studio.wait_for_function(
            "/^\\d\\d:\\d\\d$/.test(document.querySelector('#elapsed').textContent)"
        )
        assert await frames_advance(studio, "#program") == 1280

        # viewers learn it went live without reloading, and see the host alone
        await text_is(watch, "#status", "LIVE")
        await wait_for_halves(watch, "#player", "red", "red", timeout=30)
        await studio.wait_for_function(
            "/[23] watching/.test(document.querySelector('#viewer-count').textContent)"
        )

        # --- chat: an XSS attempt is rendered as text
        await phone.fill("#chat-input", XSS)
        await phone.press("#chat-input", "Enter")
        xss_line = '#chat-list .chat-message[data-user="bob"] .chat-text'
        await watch.wait_for_selector(xss_line)
        assert await watch.text_content(xss_line) == XSS
        assert await watch.locator("#chat-list img, #chat-list script, #chat-list b").count() == 0
        assert await watch.evaluate("window.__xss") is None

        # --- the host types @bo, picks bob from the autocomplete, sends
        await studio.click("#chat-input")
        await studio.keyboard.type("@bo")
        option = studio.locator("#chat-suggest [role=option]", has_text="@bob")
        await option.wait_for()
        await screenshot(studio, "studio-2-autocomplete-desktop")
        await option.click()
        assert await studio.input_value("#chat-input") == "@bob "
        await studio.keyboard.type("you're up next!")
        await studio.keyboard.press("Enter")
        mention_line = '#chat-list .chat-message[data-user="hostess"]'
        await phone.wait_for_selector(f"{mention_line}.mentions-me .mention-me")
        await watch.wait_for_selector(f"{mention_line} .mention")

        # --- click the name: menu -> Invite as cohost; bob declines
        await studio.click(f"{mention_line} .mention")
        await studio.click('.user-menu [data-action="invite"]')
        await attr_is(studio, "#cohost-state", "data-state", "pending")
        await phone.wait_for_selector("#invite[open]")
        assert "@hostess" in await phone.text_content("#invite-title")
        await phone.wait_for_function("document.querySelector('#invite-preview').videoWidth > 0")
        # It counts down to the server's deadline (invite_ttl_seconds: 120 by default).
        await phone.wait_for_function("document.querySelector('#invite-clock').textContent")
        assert re.fullmatch(r"2:00|1:[0-5]\d", await phone.text_content("#invite-clock"))
        await screenshot(phone, "cohost-1-invite-popup-phone")
        # The studio counts it down too.
        await studio.wait_for_selector("#cohost-invite-clock[data-ends-at-ms]")
        assert re.fullmatch(r"2:00|1:[0-5]\d", await studio.text_content("#cohost-invite-clock"))
        await screenshot(studio, "studio-3-invite-pending-desktop")
        # A second studio tab (or a reload) shows the invite pending too.
        second_tab = await host.context.new_page()
        await second_tab.goto(f"{server.url}/studio/{sid}")
        await attr_is(second_tab, "#cohost-state", "data-state", "pending")
        await second_tab.wait_for_selector("#cohost-invite-clock[data-ends-at-ms]")
        assert "@bob" in await second_tab.text_content("#cohost-state")
        await second_tab.wait_for_selector("#cohost-cancel")
        await second_tab.close()

        # --- the host withdraws it: bob's popup closes by itself and says why
        await studio.click("#cohost-cancel")
        await attr_is(studio, "#cohost-state", "data-state", "none")
        await phone.wait_for_selector("#invite:not([open])", state="attached")
        await phone.wait_for_selector(".toast >> text=@hostess withdrew the invite.")
        # --- invited again from the name; this time bob declines
        await studio.click(f"{mention_line} .mention")
        await studio.click('.user-menu [data-action="invite"]')
        await attr_is(studio, "#cohost-state", "data-state", "pending")
        await phone.wait_for_selector("#invite[open]")
        await phone.click("#invite-decline")
        await attr_is(studio, "#cohost-state", "data-state", "declined")
        assert not await phone.is_visible("#cohost-bar")
        await screenshot(studio, "studio-4-declined-desktop")

        # --- invite again; bob accepts but his camera is blocked: he sees why and retries
        await phone.evaluate(BLOCK_CAMERA, 2)  # the popup preview and the first publish
        await studio.click("#cohost-reinvite")
        await phone.wait_for_selector("#invite[open]")
        await phone.wait_for_selector("#invite-camera:not(:empty)")
        await phone.click("#invite-accept")
        await attr_is(studio, "#cohost-state", "data-state", "seated")
        await phone.wait_for_selector("#cohost-retry", state="visible")
        assert "blocked" in (await phone.text_content("#cohost-error")).lower()
        await screenshot(phone, "cohost-2-camera-blocked-phone")
        await phone.click("#cohost-retry")
        await attr_is(phone, "#cohost-conn", "data-state", "ok")

        # the composite: host left, bob right — for the viewer, the host and bob
        await wait_for_halves(watch, "#player", "red", "blue", timeout=30)
        await wait_for_halves(studio, "#program", "red", "blue", timeout=30)
        await wait_for_halves(phone, "#player", "red", "blue", timeout=30)
        # host and cohost hear the mix-minus through an unmuted element; the video is muted
        assert await studio.evaluate(
            "(() => { const a = document.querySelector('#program-audio');"
            " return a.srcObject.getAudioTracks().length === 1 && !a.muted"
            " && document.querySelector('#program').muted; })()"
        )
        assert await phone.evaluate("!document.querySelector('#player').muted")
        await screenshot(watch, "watch-2-live-with-cohost-desktop")
        await screenshot(phone, "cohost-3-on-stage-phone")
        await screenshot(studio, "studio-5-cohost-seated-desktop")
        await studio.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        await screenshot(studio, "studio-5-cohost-seated-phone")
        await studio.set_viewport_size({"width": 1280, "height": 800})

        # --- the host removes bob from the username menu: back to the host alone
        await record_toasts(studio)
        await studio.click('#chat-list .chat-message[data-user="bob"] .chat-user')
        await studio.click('.user-menu [data-action="remove"]')
        await attr_is(studio, "#cohost-state", "data-state", "none")
        await phone.wait_for_selector("#cohost-bar", state="hidden")
        await wait_for_halves(watch, "#player", "red", "red", timeout=30)

        # --- the viewer unmutes (autoplay starts muted)
        assert await watch.evaluate("document.querySelector('#player').muted")
        await watch.click("#unmute")
        await watch.wait_for_selector("#unmute", state="hidden")
        assert not await watch.evaluate("document.querySelector('#player').muted")

        # --- moderation from the username menu: mute / unmute bob, hide his message
        bob_name = '#chat-list .chat-message[data-user="bob"] .chat-user'
        await studio.click(bob_name)
        await studio.click('.user-menu [data-action="mute"]')
        await phone.wait_for_selector("#chat-input[disabled]")
        assert "muted" in (await phone.text_content("#chat-error")).lower()
        await studio.click(bob_name)
        await studio.click('.user-menu [data-action="unmute"]')
        await phone.wait_for_selector("#chat-input:not([disabled])")
        await studio.click(bob_name)
        await studio.click('.user-menu [data-action="hide"]')
        for page in (watch, phone, studio):
            await page.wait_for_selector(xss_line, state="detached")

        # --- an item on sale when the show ends
        body = {"title": "Trucker jacket", "price_cents": 4500, "quantity": 2}
        status, _ = await api.request(
            "POST", f"/api/streams/{sid}/listings", token=token, json=body
        )
        assert status == 201
        for page in (watch, phone, studio):
            await page.wait_for_selector(".listing >> text=Trucker jacket")
        assert await phone.is_visible(".listing button:has-text('Buy')")

        # --- the host ends the show (with confirmation); everyone sees "show ended"
        await studio.click("#end")
        await studio.click("#confirm-ok")
        await text_is(studio, "#status", "Show ended")
        for page in (watch, phone):
            await text_is(page, "#status", "Show ended")
            assert await page.is_visible("#ended")
        # The chat is closed, and says so (the server refuses stream_ended): bob's
        # input is disabled, and the anonymous viewer is not asked to sign in to chat.
        await phone.wait_for_selector("#chat-input[disabled][placeholder*='show ended']")
        await watch.wait_for_selector("#chat-input[disabled][placeholder*='show ended']")
        assert not await watch.is_visible("#chat-signin")
        # Nothing more to sell or buy: the card stays, without its controls.
        for page in (watch, phone, studio):
            await page.wait_for_selector(".listing >> text=Trucker jacket")
            await page.wait_for_selector(".listing button", state="hidden")
        assert not await studio.is_visible(".listing-form")
        assert not await studio.is_visible(".selling-row")
        await screenshot(watch, "watch-3-ended-desktop")
        await screenshot(phone, "watch-3-ended-phone")
        await screenshot(studio, "studio-6-ended-desktop")
        # Said once, whether the removal's ack or its cohost:changed came first.
        toasts = await toasts_shown(studio)
        assert toasts.count("@bob left the stage.") == 1, toasts
        assert (await api.get_stream(sid))["status"] == "ended"
        assert host.errors == viewer.errors == bob.errors == [], "uncaught page errors"


async def test_an_unanswered_invite_closes_the_invitees_popup(
    server_factory, connect, tmp_path
) -> None:
    """The invite runs out (2 s here): bob's popup counted it down, closes by itself
    and says so; the studio's invite is no longer pending."""
    server = await server_factory(invite_ttl_seconds=2)
    host_token, bob_token = await add_user(server, "hostess"), await add_user(server, "bob")
    async with Api(server.url) as api:
        sid = (await api.create_stream(host_token, title="Quick invite"))["id"]
        await api.start(host_token, sid)
    host = await connect(server.url, host_token, "hostess")
    await host.ok("join", {"stream_id": sid})
    async with chromium(server.url, tmp_path / "bob", viewport=PHONE) as bob:
        await bob.sign_in_as(bob_token, "bob")
        phone = await bob.open(f"/watch/{sid}")
        await phone.wait_for_selector("body[data-joined='true']", state="attached")
        await record_toasts(phone)
        await host.ok("cohost:invite", {"username": "bob"})
        await phone.wait_for_selector("#invite[open]")
        await phone.wait_for_selector("#invite-clock >> text=/^0:0[0-2]$/")
        await phone.wait_for_selector("#invite:not([open])", state="attached")
        assert await toasts_shown(phone) == ["The invite from @hostess expired."]
        assert not bob.errors
    assert (await host.next("cohost:invite_expired"))["username"] == "bob"
