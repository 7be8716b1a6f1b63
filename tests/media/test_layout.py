"""Layout math: tiles side by side, sources fitted with their aspect kept."""

import pytest

from media.layout import Rect, fit, tiles


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
