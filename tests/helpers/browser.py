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

import av
import numpy as np
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
        self.errors: list[str] = []  # uncaught exceptions in the page (pageerror)

    async def open(self, path: str) -> Page:
        if self.page is None:
            self.page = await self.context.new_page()
        if not getattr(self.page, "_costream_errors", False):
            self.page._costream_errors = True  # type: ignore[attr-defined]
            self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        await self.page.goto(self.base_url + path)
        return self.page

    async def sign_in_as(self, token: str, username: str) -> None:
        """Store the session the pages read (as their sign-in form would)."""
        auth = json.dumps({"token": token, "username": username})
        await self.context.add_init_script(f"localStorage.setItem('costream.auth', {auth!r});")


@asynccontextmanager
async def chromium(
    base_url: str,
    profile: Path,
    fake_video: Path | None = None,
    viewport=(1280, 800),
    enforce_csp: bool = False,
) -> AsyncIterator[Person]:
    """A Chromium process with a fresh profile in `profile`.

    Playwright's `wait_for_function` evaluates its predicate with eval, which the
    server's Content-Security-Policy forbids; so the policy is bypassed unless
    `enforce_csp` (scenes that wait on selectors only, like tests/limits and the shop).
    """
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
            bypass_csp=not enforce_csp,
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


# --- fake cameras, colour sampling, screenshots ------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = (390, 844)
DESKTOP = (1280, 800)


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 limited-range Y'CbCr of an RGB colour (what Chrome's capture expects)."""
    r, g, b = rgb
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return round(y), round(u), round(v)


def solid_y4m(
    path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (320, 240), frames: int = 3
) -> Path:
    """Write a small solid-colour YUV4MPEG2 (4:2:0) file; Chrome's fake camera loops it."""
    width, height = size
    y, u, v = _yuv(rgb)
    chroma = (width // 2) * (height // 2)
    frame = b"FRAME\n" + bytes([y]) * (width * height) + bytes([u]) * chroma + bytes([v]) * chroma
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
    return path


def picture_y4m(path: Path, rgb: np.ndarray, frames: int = 3) -> Path:
    """A YUV4MPEG2 file of an RGB picture (h, w, 3), for Chrome's fake camera."""
    height, width = rgb.shape[:2]
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    planes = b"".join(
        np.frombuffer(plane, np.uint8)
        .reshape(-1, plane.line_size)[: plane.height, : plane.width]
        .tobytes()
        for plane in frame.planes
    )
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + (b"FRAME\n" + planes) * frames)
    return path


# In the page: mean RGB of a small box at the centre of the left and right halves.
SAMPLE_HALVES = """(selector) => {
  const video = document.querySelector(selector);
  const w = video.videoWidth, h = video.videoHeight;
  if (!w || !h) return null;
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, w, h);
  const mean = (cx) => {
    const box = 16, data = ctx.getImageData(cx - box / 2, h / 2 - box / 2, box, box).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) {
      sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2];
    }
    const n = data.length / 4;
    return sum.map((s) => Math.round(s / n));
  };
  const name = ([r, g, b]) =>
    r > 140 && g < 90 && b < 90 ? 'red' : b > 140 && r < 90 && g < 110 ? 'blue' :
    r < 40 && g < 40 && b < 40 ? 'black' : 'other';
  const left = mean(Math.round(w / 4)), right = mean(Math.round(3 * w / 4));
  return { left, right, names: [name(left), name(right)] };
}"""


async def halves(page: Page, selector: str) -> dict | None:
    """{left, right, names}: the colours at the centres of the video's two halves."""
    return await page.evaluate(SAMPLE_HALVES, selector)


async def wait_for_halves(
    page: Page, selector: str, left: str, right: str, timeout: float = 30
) -> dict:
    """Wait until the video shows colour `left` on the left half and `right` on the right."""
    predicate = f"""([s, l, r]) => {{
      const sample = ({SAMPLE_HALVES})(s);
      return sample && sample.names[0] === l && sample.names[1] === r;
    }}"""
    try:
        await page.wait_for_function(predicate, arg=[selector, left, right], timeout=timeout * 1000)
    except Exception as error:
        raise AssertionError(
            f"{selector}: wanted {left}|{right}, last sample {await halves(page, selector)}"
        ) from error
    return await halves(page, selector)  # type: ignore[return-value]


async def record_toasts(page: Page) -> None:
    """From now on, keep the text of every toast the page shows (they fade)."""
    await page.evaluate(
        """() => {
          const shown = (window.__toasts = []);
          new MutationObserver((changes) => {
            for (const change of changes) for (const node of change.addedNodes) {
              if (node.classList?.contains('toast')) shown.push(node.textContent);
            }
          }).observe(document.body, { childList: true, subtree: true });
        }"""
    )


async def toasts_shown(page: Page) -> list[str]:
    """The toasts shown since `record_toasts`, in order."""
    return await page.evaluate("window.__toasts")


async def screenshot(page: Page, name: str) -> Path:
    """Save a PNG of the page under tests/artifacts/ (git-ignored), after checking that
    no placeholder of a missing value is printed on it (a `null`, `undefined`, `NaN`)."""
    leaked = await page.evaluate(
        r"""() => document.body.innerText.match(/\b(null|undefined|NaN)\b/g) ?? []"""
    )
    assert not leaked, f"{name}: the page prints {leaked}"
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
