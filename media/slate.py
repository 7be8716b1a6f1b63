"""The slate shown in the host's place while the host's media is gone.

Drawn once per (size, title, text) with Pillow and converted to yuv420p once:
the video clock reuses the cached frame, so a slate costs nothing per tick.
"""

from __future__ import annotations

import functools

import av
from PIL import Image, ImageDraw, ImageFont

# A deep indigo, far from the black of an empty composite and from any test colour.
BACKGROUND = (40, 30, 90)
FOREGROUND = (255, 255, 255)
MAX_TITLE_CHARS = 60


def _fitted_font(draw: ImageDraw.ImageDraw, text: str, width: int, size: int):
    """The default font at the largest size <= `size` at which `text` fits `width`."""
    while True:
        font = ImageFont.load_default(size)
        if size <= 10 or draw.textlength(text, font=font) <= width:
            return font
        size = size * 9 // 10


@functools.lru_cache(maxsize=16)
def slate_frame(width: int, height: int, title: str, text: str) -> av.VideoFrame:
    """A yuv420p frame: `text` large in the middle, the show's `title` under it."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    margin = width // 12
    title = title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"
    lines = [(text, height // 10), (title, height // 16)]
    y = height // 2 - sum(size for _, size in lines) // 2
    for line, size in lines:
        font = _fitted_font(draw, line, width - 2 * margin, size)
        draw.text((width // 2, y), line, font=font, fill=FOREGROUND, anchor="mt")
        y += int(size * 1.6)
    frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
    frame.pts = None
    return frame
