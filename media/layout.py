"""Pure layout math of the composite: where each publisher's picture goes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """A rectangle in output pixels; every edge is even (yuv420p chroma)."""

    x: int
    y: int
    width: int
    height: int


def _even(value: float) -> int:
    return int(value) & ~1


def tiles(count: int, width: int, height: int) -> list[Rect]:
    """Side by side, left to right: one source fills the frame, two split it."""
    if count <= 0:
        return []
    tile_width = _even(width / count)
    return [Rect(i * tile_width, 0, tile_width, height) for i in range(count)]


def fit(source_width: int, source_height: int, area: Rect) -> Rect:
    """The largest rectangle of the source's aspect inside `area`, centred."""
    if source_width <= 0 or source_height <= 0:
        return Rect(area.x, area.y, 0, 0)
    scale = min(area.width / source_width, area.height / source_height)
    width = max(2, min(area.width, _even(source_width * scale + 1)))
    height = max(2, min(area.height, _even(source_height * scale + 1)))
    return Rect(
        area.x + _even((area.width - width) / 2),
        area.y + _even((area.height - height) / 2),
        width,
        height,
    )
