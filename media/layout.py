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


# Layout modes of a stream's composite (switchable live by the host).
SIDE_BY_SIDE = "side_by_side"  # each camera cropped to fill its half: no black bands
SIDE_BY_SIDE_LETTERBOX = "side_by_side_letterbox"  # each camera whole, with bands
PORTRAIT = "portrait"  # a phone-shaped frame: host above, cohost below, cropped to fill
LAYOUTS = (SIDE_BY_SIDE, SIDE_BY_SIDE_LETTERBOX, PORTRAIT)
DEFAULT_LAYOUT = SIDE_BY_SIDE


@dataclass(frozen=True)
class Placement:
    """Where one source goes: scale it to `scaled_*`, show the window of that size
    `dest.width` x `dest.height` starting at (`crop_x`, `crop_y`) at `dest`."""

    scaled_width: int
    scaled_height: int
    crop_x: int
    crop_y: int
    dest: Rect


def output_size(layout: str, width: int, height: int) -> tuple[int, int]:
    """The composite's size: the configured landscape size, turned for portrait."""
    long_side, short_side = max(width, height), min(width, height)
    return (short_side, long_side) if layout == PORTRAIT else (long_side, short_side)


def stacked(count: int, width: int, height: int) -> list[Rect]:
    """Top to bottom: one source fills the frame, two split it into upper and lower."""
    if count <= 0:
        return []
    tile_height = _even(height / count)
    return [Rect(0, i * tile_height, width, tile_height) for i in range(count)]


def contain(source_width: int, source_height: int, area: Rect) -> Placement:
    """The whole source, aspect kept, centred in `area` (bands where it does not fill)."""
    rect = fit(source_width, source_height, area)
    return Placement(rect.width, rect.height, 0, 0, rect)


def cover(source_width: int, source_height: int, area: Rect) -> Placement:
    """The source scaled (aspect kept) to cover `area`, its centre shown: no bands."""
    if source_width <= 0 or source_height <= 0:
        return Placement(area.width, area.height, 0, 0, area)
    scale = max(area.width / source_width, area.height / source_height)
    width = max(area.width, _even(source_width * scale + 1))
    height = max(area.height, _even(source_height * scale + 1))
    return Placement(
        width, height, _even((width - area.width) / 2), _even((height - area.height) / 2), area
    )


def place(layout: str, sizes: list[tuple[int, int]], width: int, height: int) -> list[Placement]:
    """Placements of sources of `sizes` (in seat order) in a `width` x `height` frame."""
    areas = (stacked if layout == PORTRAIT else tiles)(len(sizes), width, height)
    how = contain if layout == SIDE_BY_SIDE_LETTERBOX else cover
    return [how(w, h, area) for (w, h), area in zip(sizes, areas, strict=True)]
