"""Headless Debian Chromium driven by Playwright: one browser process per person.

Chromium gets a fake camera and microphone, a fresh profile, no background
networking, and may use loopback ICE candidates without mDNS. The test run
itself lives in a network namespace with only loopback (see the Makefile).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import BrowserContext, Page, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


class Person:
    """One person's browser (own process, profile and fake devices)."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.page: Page = context.pages[0] if context.pages else None  # type: ignore[assignment]

    async def open(self, path: str) -> Page:
        if self.page is None:
            self.page = await self.context.new_page()
        await self.page.goto(self.base_url + path)
        return self.page

    async def sign_in_as(self, token: str, username: str) -> None:
        """Store the session the pages read (as their sign-in form would)."""
        auth = json.dumps({"token": token, "username": username})
        await self.context.add_init_script(f"localStorage.setItem('costream.auth', {auth!r});")


@asynccontextmanager
async def chromium(
    base_url: str, profile: Path, fake_video: Path | None = None, viewport=(1280, 800)
) -> AsyncIterator[Person]:
    """A Chromium process with a fresh profile in `profile`."""
    flags = list(FLAGS)
    if fake_video is not None:
        flags.append(f"--use-file-for-fake-video-capture={fake_video}")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=flags,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield Person(context, base_url)
        finally:
            await context.close()


# Counts decoded frames of a <video> with requestVideoFrameCallback.
COUNT_FRAMES = """(selector) => {
  const video = document.querySelector(selector);
  if (video.__frames === undefined) {
    video.__frames = 0;
    const tick = () => { video.__frames++; video.requestVideoFrameCallback(tick); };
    video.requestVideoFrameCallback(tick);
  }
}"""


async def frames_advance(page: Page, selector: str, count: int = 30, timeout: float = 15) -> int:
    """Wait until the video element decoded `count` more frames; its width."""
    await page.evaluate(COUNT_FRAMES, selector)
    start = await page.evaluate("(s) => document.querySelector(s).__frames", selector)
    await page.wait_for_function(
        "([s, n]) => document.querySelector(s).__frames >= n",
        arg=[selector, start + count],
        timeout=timeout * 1000,
    )
    return await page.evaluate("(s) => document.querySelector(s).videoWidth", selector)
