"""Layout math: tiles side by side, sources fitted with their aspect kept."""

import pytest

from media.layout import (
    DEFAULT_LAYOUT,
    LAYOUTS,
    PORTRAIT,
    SIDE_BY_SIDE,
    Placement,
    Rect,
    contain,
    cover,
    fit,
    output_size,
    place,
    tiles,
)


def test_one_source_fills_the_frame() -> None:
    assert tiles(1, 1280, 720) == [Rect(0, 0, 1280, 720)]


def test_two_sources_split_left_and_right() -> None:
    assert tiles(2, 1280, 720) == [Rect(0, 0, 640, 720), Rect(640, 0, 640, 720)]


def test_no_source_no_tile() -> None:
    assert tiles(0, 1280, 720) == []


def test_same_aspect_fills_its_tile() -> None:
    assert fit(1280, 720, Rect(0, 0, 1280, 720)) == Rect(0, 0, 1280, 720)


def test_wide_source_in_half_tile_is_letterboxed_top_and_bottom() -> None:
    assert fit(1280, 720, Rect(640, 0, 640, 720)) == Rect(640, 180, 640, 360)


def test_portrait_phone_in_full_frame_is_pillarboxed() -> None:
    rect = fit(720, 1280, Rect(0, 0, 1280, 720))
    assert (rect.height, rect.y) == (720, 0)
    assert (rect.width, rect.x) == (406, 436)


@pytest.mark.parametrize("source", [(641, 359), (333, 777), (1920, 1080), (2, 2)])
def test_fitted_rects_are_even_and_inside_their_tile(source: tuple[int, int]) -> None:
    for area in tiles(2, 1280, 720):
        rect = fit(*source, area)
        assert all(v % 2 == 0 for v in (rect.x, rect.y, rect.width, rect.height))
        assert area.x <= rect.x and rect.x + rect.width <= area.x + area.width
        assert area.y <= rect.y and rect.y + rect.height <= area.y + area.height


# --- layout modes --------------------------------------------------------------------


def test_crop_to_fill_covers_the_half_and_shows_the_centre() -> None:
    half = Rect(640, 0, 640, 720)
    placement = cover(320, 240, half)  # a 4:3 camera in a 8:9 half
    assert placement == Placement(960, 720, 160, 0, half)


def test_letterbox_keeps_the_whole_camera_with_bands() -> None:
    half = Rect(640, 0, 640, 720)
    assert contain(1280, 720, half) == Placement(640, 360, 0, 0, Rect(640, 180, 640, 360))


def test_portrait_turns_the_frame_and_stacks_host_above_cohost() -> None:
    assert output_size(PORTRAIT, 1280, 720) == (720, 1280)
    assert output_size(SIDE_BY_SIDE, 1280, 720) == (1280, 720)
    host, cohost = place(PORTRAIT, [(1280, 720), (640, 480)], 720, 1280)
    assert host.dest == Rect(0, 0, 720, 640) and cohost.dest == Rect(0, 640, 720, 640)
    assert host.scaled_height == 640 and host.scaled_width >= 720


def test_the_default_is_side_by_side_cropped() -> None:
    assert DEFAULT_LAYOUT == SIDE_BY_SIDE
    left, right = place(SIDE_BY_SIDE, [(1280, 720), (1280, 720)], 1280, 720)
    assert (left.dest, right.dest) == (Rect(0, 0, 640, 720), Rect(640, 0, 640, 720))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("source", [(641, 359), (333, 777), (1920, 1080), (2, 2)])
def test_every_window_is_even_and_inside_its_scaled_source(
    layout: str, source: tuple[int, int]
) -> None:
    width, height = output_size(layout, 1280, 720)
    for placement in place(layout, [source, source], width, height):
        dest = placement.dest
        values = (placement.crop_x, placement.crop_y, dest.x, dest.y, dest.width, dest.height)
        assert all(v % 2 == 0 for v in values)
        assert placement.crop_x + dest.width <= placement.scaled_width
        assert placement.crop_y + dest.height <= placement.scaled_height
        assert dest.x + dest.width <= width and dest.y + dest.height <= height
