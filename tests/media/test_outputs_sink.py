"""An output that falls behind drops packets (never blocks) and still writes a
decodable file; a failing output reports its reason."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av

from media.encoder import VideoEncoder
from media.outputs.files import RecordingSink
from media.outputs.sink import VIDEO, EncodedPacket
from tests.helpers.outputs import decoded_frames
from tests.helpers.peers import RED, looks


def red_packets(
    count: int, first: int = 0, size: tuple[int, int] = (320, 240)
) -> list[EncodedPacket]:
    encoder = VideoEncoder(*size, 30, 500_000, 1.0)  # a keyframe every 30 frames
    packets = []
    for index in range(count):
        frame = av.VideoFrame(*size, "yuv420p")
        for plane, value in zip(frame.planes, RED, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        packets += [
            EncodedPacket.of(VIDEO, p, size) for p in encoder.encode(frame, (first + index) * 3000)
        ]
    return packets


class StuckRecording(RecordingSink):
    """A recording whose disk hangs until `unstick` is set."""

    def __init__(self, directory: Path) -> None:
        self.unstick = threading.Event()
        super().__init__(directory, 320, 240, 30)

    def open_container(self):
        assert self.unstick.wait(30)
        return super().open_container()


def test_a_stuck_output_drops_instead_of_blocking_and_resumes_at_a_keyframe(
    tmp_path: Path,
) -> None:
    packets = red_packets(400)
    sink = StuckRecording(tmp_path)
    started = time.perf_counter()
    for packet in packets:
        sink.offer(packet)
    assert time.perf_counter() - started < 0.5  # offering never waited for the disk
    assert sink.queue.dropped > 0
    sink.unstick.set()
    for packet in red_packets(90, first=400):  # more arrives once the disk is back
        sink.offer(packet)
    sink.close()
    assert sink.join(20) and sink.status == "ended"
    frames = decoded_frames(sink.path.read_bytes())
    assert frames and frames[0].key_frame
    assert 320 < len(frames) < 400 + 90  # what was queued, a gap, then the rest
    assert looks(tuple(frames[-1].to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)), "red")


def test_an_output_that_cannot_open_reports_failed_with_the_reason(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the recordings folder should be")
    sink = RecordingSink(blocked, 320, 240, 30)
    for packet in red_packets(5):
        sink.offer(packet)
    sink.close()
    assert sink.join(10)
    assert sink.status == "failed" and sink.error


def test_a_new_picture_size_finishes_the_file_and_starts_the_next_at_its_keyframe(
    tmp_path: Path,
) -> None:
    sink = RecordingSink(tmp_path, 320, 240, 30)
    landscape = red_packets(45)
    portrait = red_packets(45, first=45, size=(240, 320))  # keyframes at its frames 0 and 30
    assert portrait[0].keyframe
    for packet in landscape + portrait[1:]:  # the new size's first keyframe is lost
        sink.offer(packet)
    sink.close()
    assert sink.join(20) and sink.status == "ended" and sink.parts == 2
    first, second = sorted(tmp_path.glob("*.mp4"))
    landscape_frames = decoded_frames(first.read_bytes())
    portrait_frames = decoded_frames(second.read_bytes())
    # The first file ends with the last landscape frame; the new size waited for a keyframe.
    assert [(f.width, f.height) for f in landscape_frames] == [(320, 240)] * 45
    assert [(f.width, f.height) for f in portrait_frames] == [(240, 320)] * 15
    assert portrait_frames[0].key_frame
