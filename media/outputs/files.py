"""File outputs: the HLS ladder of segments and the MP4 recording."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import av

from media.outputs.sink import MuxSink

PLAYLIST = "index.m3u8"
# Segments a live playlist lists (each at most one keyframe interval long).
HLS_LIST_SIZE = 8
# Beside the playlist: the media sequence number of each part's first segment
# (after the first part), one a line: each carries an #EXT-X-DISCONTINUITY.
DISCONTINUITIES = "discontinuities"
MEDIA_SEQUENCE = "#EXT-X-MEDIA-SEQUENCE:"


def _media_sequence(playlist: str) -> int:
    for line in playlist.splitlines():
        if line.startswith(MEDIA_SEQUENCE):
            return int(line.removeprefix(MEDIA_SEQUENCE))
    return 0


def with_discontinuity_sequence(playlist: str, part_starts: list[int]) -> str:
    """`playlist` with `#EXT-X-DISCONTINUITY-SEQUENCE` (RFC 8216 6.2.2).

    FFmpeg drops an `#EXT-X-DISCONTINUITY` with its segment when the window
    slides, but never counts it; the count is the parts that began before the
    first listed segment. Nothing changes while none has slid out.
    """
    gone = sum(1 for start in part_starts if start < _media_sequence(playlist))
    if not gone:
        return playlist
    lines = playlist.splitlines(keepends=True)
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith(MEDIA_SEQUENCE)), 1)
    lines.insert(at, f"#EXT-X-DISCONTINUITY-SEQUENCE:{gone}\n")
    return "".join(lines)


def part_starts(directory: Path) -> list[int]:
    """The media sequence numbers where later parts of the playlist in `directory` begin."""
    try:
        return [int(line) for line in (directory / DISCONTINUITIES).read_text().split()]
    except FileNotFoundError:
        return []


class HlsSink(MuxSink):
    """A sliding HLS playlist; a segment ends at every keyframe of the encode.

    `hls_time` is only a minimum: the muxer cuts at the first keyframe past
    it, so a tiny value cuts at each keyframe and no segment is longer than
    the encoder's keyframe interval. Segment names carry a per-run prefix:
    they are cached as immutable, so a name is never reused for new content.
    """

    label = "hls"
    continuous_timeline = True

    def __init__(self, directory: Path, width: int, height: int, fps: int) -> None:
        self.directory = directory
        self.run = secrets.token_hex(4)
        super().__init__(width, height, fps)

    def open_container(self) -> av.container.OutputContainer:
        """The playlist; after a picture size change, the same playlist continued.

        FFmpeg's `append_list` reads the playlist back, keeps its media sequence
        and segments, and marks the first new segment `#EXT-X-DISCONTINUITY` (new
        SPS, new size). `#EXT-X-ENDLIST` is written by `container_closed` at the
        very end only, so a player never sees the list end between two parts.
        """
        flags = "delete_segments+independent_segments+temp_file+omit_endlist"
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.parts == 0:
            for old in self.directory.glob("*.ts"):  # an earlier run of this stream
                old.unlink(missing_ok=True)
            (self.directory / DISCONTINUITIES).unlink(missing_ok=True)
        else:
            flags += "+append_list"
            self.run = secrets.token_hex(4)  # a part's segment names are its own too
            self._note_part_start()
        return av.open(
            str(self.directory / PLAYLIST),
            "w",
            format="hls",
            options={
                "hls_time": "0.1",
                "hls_list_size": str(HLS_LIST_SIZE),
                "hls_flags": flags,
                "hls_segment_filename": str(self.directory / f"{self.run}-%d.ts"),
            },
        )

    def _note_part_start(self) -> None:
        """Record where the next part begins: after the last segment listed now."""
        playlist = (self.directory / PLAYLIST).read_text()
        listed = sum(1 for line in playlist.splitlines() if line and not line.startswith("#"))
        starts = [*part_starts(self.directory), _media_sequence(playlist) + listed]
        written = self.directory / (DISCONTINUITIES + ".new")
        written.write_text("".join(f"{start}\n" for start in starts))
        written.replace(self.directory / DISCONTINUITIES)

    def container_closed(self, last: bool) -> None:
        playlist = self.directory / PLAYLIST
        if last and playlist.is_file():  # the end: players stop polling (atomic replace)
            ended = playlist.with_name(PLAYLIST + ".end")
            ended.write_text(playlist.read_text() + "#EXT-X-ENDLIST\n")
            ended.replace(playlist)


class RecordingSink(MuxSink):
    """Fragmented MP4 (a fragment per keyframe), so a crash leaves a playable file.

    A picture size change (portrait and back) finishes the file and starts the
    next part, `<started_ms>.mp4` named when it starts: each file has one size.
    """

    label = "recording"

    def __init__(self, directory: Path, width: int, height: int, fps: int) -> None:
        self.path = directory / f"{int(time.time() * 1000)}.mp4"
        super().__init__(width, height, fps)

    def open_container(self) -> av.container.OutputContainer:
        if self.parts > 0:  # a later part: named when it starts, after the last one
            started_ms = max(int(time.time() * 1000), int(self.path.stem) + 1)
            self.path = self.path.with_name(f"{started_ms}.mp4")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return av.open(
            str(self.path),
            "w",
            format="mp4",
            options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
        )
