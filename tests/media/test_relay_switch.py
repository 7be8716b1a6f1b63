"""A relayed room switching to a new home's encoder: what its viewers' senders get.

The new encoder's clock starts anywhere and its frames before a keyframe refer to
pictures the viewers never had; senders must see one stream that paused, on a
still picture while no home sends.
"""

from __future__ import annotations

from media.relay import RelayedRoom

SECOND = {"video": 90000, "audio": 48000}


class Home:
    """The relayed room's upstream, as seen from media: it counts keyframe requests."""

    def __init__(self) -> None:
        self.keyframes = 0

    def start(self, room: RelayedRoom) -> None:
        pass

    def request_keyframe(self) -> None:
        self.keyframes += 1

    async def stop(self) -> None:
        pass


class Sender:
    """What a viewer's FanoutSender would send: (payloads, timestamp, keyframe)."""

    def __init__(self) -> None:
        self.frames: list[tuple[list[bytes], int, bool]] = []

    def send_frame(
        self, payloads: list[bytes], timestamp: int, keyframe: bool, ntp_time: int
    ) -> None:
        self.frames.append((payloads, timestamp, keyframe))


def relayed() -> tuple[RelayedRoom, Home, Sender, Sender]:
    """A relayed room with one viewer's video and audio senders."""
    home = Home()
    room = RelayedRoom("stream", home)
    video, audio = Sender(), Sender()
    feeds = room.subscribe(None)
    feeds.video.add(video)
    feeds.audio.add(audio)
    return room, home, video, audio


def step(stamps: list[int], at: int) -> int:
    """How far the timestamp moved on at `at` (modulo 2**32)."""
    return (stamps[at] - stamps[at - 1]) % 2**32


async def test_a_new_source_starts_at_its_keyframe_and_continues_the_timeline() -> None:
    room, home, video, audio = relayed()

    # The first home, well into its show.
    room.deliver("video", [b"key 1"], 4_000_000_000, True, 11)
    room.deliver("video", [b"delta 1"], 4_000_003_000, False, 11)
    room.deliver("audio", [b"opus 1"], 500_000, False, 11)
    # The new home's encoder: its clock starts at 0; P-frames come before its keyframe.
    room.deliver("video", [b"delta 2"], 0, False, 22)
    room.deliver("video", [b"delta 2"], 3000, False, 22)
    assert home.keyframes == 1  # asked once, not per frame
    room.deliver("video", [b"key 2"], 6000, True, 22)
    room.deliver("video", [b"delta 3"], 9000, False, 22)
    room.deliver("audio", [b"opus 2"], 0, False, 22)
    room.deliver("audio", [b"opus 3"], 960, False, 22)

    assert [payloads for payloads, _, _ in video.frames] == [
        [b"key 1"],
        [b"delta 1"],
        [b"key 2"],
        [b"delta 3"],
    ]
    stamps = [timestamp for _, timestamp, _ in video.frames]
    assert stamps[:2] == [4_000_000_000, 4_000_003_000]
    # After the old source's last frame by the time that passed (a blink here)...
    assert 0 < step(stamps, 2) < SECOND["video"]
    # ...then the new source's own spacing.
    assert step(stamps, 3) == 3000
    sounds = [timestamp for _, timestamp, _ in audio.frames]
    assert 0 < step(sounds, 1) < SECOND["audio"]
    assert step(sounds, 2) == 960
    await room.close()


async def test_a_silent_home_leaves_a_still_picture_then_resumes_at_a_keyframe() -> None:
    room, home, video, _ = relayed()
    room.deliver("video", [b"key 1"], 1000, True, 11)
    room.deliver("video", [b"delta 1"], 4000, False, 11)
    room.hold_picture()  # what the room does each second without video
    room.hold_picture()
    # The same home again (Redis was away): its frames refer to ones never sent here.
    room.deliver("video", [b"delta 2"], 900_000, False, 11)
    assert home.keyframes == 1
    room.deliver("video", [b"key 2"], 903_000, True, 11)

    assert [keyframe for _, _, keyframe in video.frames] == [True, False, True, True, True]
    assert [payloads for payloads, _, _ in video.frames] == [
        [b"key 1"],
        [b"delta 1"],
        [b"key 1"],
        [b"key 1"],
        [b"key 2"],
    ]
    stamps = [timestamp for _, timestamp, _ in video.frames]
    assert all(0 < step(stamps, at) < SECOND["video"] for at in range(2, 5))
    await room.close()
