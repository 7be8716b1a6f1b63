"""The lower third: the item on stage (title and price) drawn into the composite.

Pillow renders the bar once per change (text, picture size); it is turned
into yuv420p planes with a premultiplied alpha once, so each frame only
blends one band of rows in numpy (no RGB round trip of the picture).
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from media.compositor import plane_views

# Share of the picture's height the bar takes, and its opacity (0-255).
BAR_HEIGHT = 0.14
BAR_ALPHA = 200


@dataclass(frozen=True)
class LowerThird:
    """What the bar says."""

    title: str
    price: str


@dataclass
class _Band:
    """Rows [top, top + height) of each plane: premultiplied colour and 256 - alpha."""

    top: int
    premultiplied: list[np.ndarray]
    inverse_alpha: list[np.ndarray]


def _yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y, Cb, Cr of an (h, w, 3) float RGB array."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return y, u, v


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def render(lower_third: LowerThird, width: int, height: int) -> _Band:
    """Draw the bar for a `width` x `height` picture (even sizes)."""
    bar_height = max(16, int(height * BAR_HEIGHT)) & ~1
    image = Image.new("RGBA", (width, bar_height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, bar_height), fill=(12, 10, 24, BAR_ALPHA))
    draw.rectangle((0, 0, max(6, width // 160), bar_height), fill=(255, 64, 129, 255))
    margin = max(8, width // 40)
    title_font = _font(max(10, bar_height * 2 // 5))
    price_font = _font(max(10, bar_height * 2 // 5))
    price_width = int(draw.textlength(lower_third.price, font=price_font))
    title = lower_third.title
    room = width - 3 * margin - price_width
    while title and draw.textlength(title, font=title_font) > room:
        title = title[:-2] + "…" if len(title) > 2 else ""
    middle = bar_height // 2
    draw.text((margin * 2, middle), title, font=title_font, fill=(255, 255, 255, 255), anchor="lm")
    draw.text(
        (width - margin, middle),
        lower_third.price,
        font=price_font,
        fill=(255, 214, 102, 255),
        anchor="rm",
    )
    rgba = np.asarray(image, dtype=np.float32)
    alpha = rgba[..., 3] / 255.0
    y, u, v = _yuv(rgba[..., :3])

    # Chroma at half size: average each 2x2 block (colour and alpha).
    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(bar_height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    alpha_c = half(alpha)
    premultiplied, inverse = [], []
    for plane, a in (
        (y, alpha),
        (half(u * alpha) / np.maximum(alpha_c, 1e-6), alpha_c),
        (half(v * alpha) / np.maximum(alpha_c, 1e-6), alpha_c),
    ):
        weight = np.round(a * 256).astype(np.uint16)
        premultiplied.append(np.round(plane).clip(0, 255).astype(np.uint16) * weight)
        inverse.append(256 - weight)
    return _Band(height - bar_height, premultiplied, inverse)


class LowerThirdPainter:
    """Keeps the rendered bar for the current text and size; blends it per frame."""

    def __init__(self) -> None:
        self.current: LowerThird | None = None
        self._key: tuple[LowerThird, int, int] | None = None
        self._band: _Band | None = None

    def paint(self, frame: av.VideoFrame) -> None:
        """Blend the bar into `frame` (video thread); nothing when no item is on stage."""
        lower_third = self.current
        if lower_third is None:
            return
        key = (lower_third, frame.width, frame.height)
        if key != self._key:
            self._band, self._key = render(lower_third, frame.width, frame.height), key
        band = self._band
        assert band is not None
        for index, (plane, premultiplied, inverse) in enumerate(
            zip(plane_views(frame), band.premultiplied, band.inverse_alpha, strict=True)
        ):
            top = band.top >> (1 if index else 0)
            rows = plane[top : top + premultiplied.shape[0]]
            rows[:] = ((rows * inverse + premultiplied) >> 8).astype(np.uint8)
