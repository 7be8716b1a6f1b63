"""Composite video: publishers' latest pictures side by side in one frame.

Everything stays in yuv420p: each source is scaled once into its tile by a
persistent reformatter and its planes are copied into the output frame's
planes through numpy views (no RGB round trip, no filter graph).
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from media.layout import DEFAULT_LAYOUT, Placement, place

# Video-range black in Y, U, V.
_BLACK = (16, 128, 128)


def plane_views(frame: av.VideoFrame) -> list[np.ndarray]:
    """Writable 2-D views of a yuv420p frame's Y, U and V planes."""
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        views.append(rows[: plane.height, : plane.width])
    return views


class Compositor:
    """Lays out up to N source frames into one output frame of fixed size."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self._reformatters: dict[str, VideoReformatter] = {}

    def forget(self, source_id: str) -> None:
        """Drop the scaler state kept for a source that left."""
        self._reformatters.pop(source_id, None)

    def resize(self, width: int, height: int) -> None:
        """A new output size (a layout turned portrait or back)."""
        self.width, self.height = width, height

    def compose(
        self, sources: list[tuple[str, av.VideoFrame]], layout: str = DEFAULT_LAYOUT
    ) -> av.VideoFrame:
        """A new output frame with `sources` (id, frame) placed in seat order by `layout`."""
        out = av.VideoFrame(self.width, self.height, "yuv420p")
        planes = plane_views(out)
        for view, value in zip(planes, _BLACK, strict=True):
            view.fill(value)
        sizes = [(frame.width, frame.height) for _, frame in sources]
        placements = place(layout, sizes, self.width, self.height)
        for (source_id, frame), placement in zip(sources, placements, strict=True):
            self._paste(source_id, frame, placement, planes)
        return out

    def _paste(
        self, source_id: str, frame: av.VideoFrame, placement: Placement, planes: list[np.ndarray]
    ) -> None:
        reformatter = self._reformatters.get(source_id)
        if reformatter is None:
            reformatter = self._reformatters[source_id] = VideoReformatter()
        # One swscale thread: the room already runs a thread per clock, and
        # swscale's own threads cost ~15% more CPU per frame here (bench/).
        scaled = reformatter.reformat(
            frame,
            width=placement.scaled_width,
            height=placement.scaled_height,
            format="yuv420p",
            threads=1,
        )
        dest = placement.dest
        for index, (target, source) in enumerate(zip(planes, plane_views(scaled), strict=True)):
            shift = 1 if index else 0  # chroma planes are half size
            y, x = dest.y >> shift, dest.x >> shift
            height, width = dest.height >> shift, dest.width >> shift
            top, left = placement.crop_y >> shift, placement.crop_x >> shift
            target[y : y + height, x : x + width] = source[top : top + height, left : left + width]
