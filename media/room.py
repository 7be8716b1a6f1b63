"""A stream's media room: its publishers, the composite and the mixes.

The room runs two clocks. The video clock composes the publishers' latest
pictures and encodes the composite once per frame; the audio clock mixes
20 ms of every source and encodes one Opus stream per feed: the full mix
for viewers and a mix-minus for each publisher who is listening. Blocking
PyAV work runs on one worker thread per clock, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import av
import numpy as np

from media.compositor import Compositor
from media.config import MediaConfig
from media.encoder import VIDEO_CLOCK, AudioEncoder, VideoEncoder
from media.fanout import FrameFeed, FrameSink
from media.layout import DEFAULT_LAYOUT, LAYOUTS, areas, output_size
from media.mixer import SAMPLE_RATE, SAMPLES_PER_TICK, AudioMixer, pcm_frame
from media.outputs import OutputHub, OutputPlan
from media.outputs.overlay import LowerThird, LowerThirdPainter
from media.outputs.qrguard import QrGuard
from media.publisher import Publisher
from media.slate import slate_frame
from media.stats import COUNTERS

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Left to right in the composite.
SEATS = ("host", "cohost")
AUDIO_TICK = SAMPLES_PER_TICK / SAMPLE_RATE
# Shown in the host's tile while the host's media is missing (never black, never frozen).
SLATE = "slate"
SLATE_BEFORE = "Starting soon"
SLATE_AGAIN = "Host reconnecting…"
# notify(seat, on_air): a seat's pictures started or stopped arriving.
SeatNotify = Callable[[str, bool], None]


@dataclass
class RoomStats:
    """Counters that tests and benchmarks read."""

    video_ticks: int = 0
    video_frames_encoded: int = 0
    audio_ticks: int = 0


@dataclass(frozen=True)
class StreamChoices:
    """What the domain chose for a stream's picture and outputs."""

    layout: str = DEFAULT_LAYOUT
    outputs: OutputPlan | None = None  # None: no outputs (not live)
    lower_third: LowerThird | None = None


@dataclass(frozen=True)
class Subscription:
    """What one listener receives: the composite and its audio feed."""

    video: FrameFeed
    audio: FrameFeed


class Room:
    """One stream's compositor, mixer, encoders and fan-outs."""

    def __init__(
        self,
        stream_id: str,
        config: MediaConfig,
        on_qr_code: Callable[[str, str], None] | None = None,
        notify: SeatNotify | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.config = config
        self.title = ""  # the show's title, written on the slate
        self.on_air: set[str] = set()  # seats whose pictures are arriving
        self._host_seen = False
        self._notify = notify
        self.publishers: dict[str, Publisher] = {}
        self.stats = RoomStats()
        self.layout_mode = DEFAULT_LAYOUT
        self._compositor = Compositor(config.width, config.height)
        self.video_encoder = VideoEncoder(
            config.width, config.height, config.fps, config.video_bitrate, config.keyframe_interval
        )
        self._mixer = AudioMixer()
        self._audio_encoders: dict[str | None, AudioEncoder] = {}
        self._video_out = FrameFeed("video")
        # Relays of the viewers' feeds to other processes (see media/relay.py).
        self.taps: list[tuple[FrameSink, FrameSink]] = []
        self._audio_out: dict[str | None, FrameFeed] = {}
        self._video_thread = ThreadPoolExecutor(1, thread_name_prefix=f"video-{stream_id}")
        self._audio_thread = ThreadPoolExecutor(1, thread_name_prefix=f"audio-{stream_id}")
        # HLS, recording, simulcast: fed from the same encode, each on its own thread.
        self.outputs = OutputHub(config.width, config.height, config.fps)
        self.lower_third = LowerThirdPainter()
        loop = asyncio.get_running_loop()
        self._on_qr_code = on_qr_code
        self.qr_guard = QrGuard(lambda payload: loop.call_soon_threadsafe(self._qr_found, payload))
        self._tasks = [
            asyncio.ensure_future(self._video_clock()),
            asyncio.ensure_future(self._audio_clock()),
        ]

    @property
    def layout(self) -> list[str]:
        """Seats currently shown, left to right (`SLATE` stands in for a missing host)."""
        now = asyncio.get_running_loop().time()
        return [seat for seat, _ in self._sources(self._fresh_frames(now))]

    def install(self, publisher: Publisher) -> None:
        """Put a connected publisher on its seat; the caller removed any previous one."""
        self.publishers[publisher.seat] = publisher
        self._mixer.add(publisher.seat, publisher.audio)

    async def remove_publisher(self, publisher: Publisher) -> None:
        """Stop a publisher; its tile and voice leave the show at once."""
        if self.publishers.get(publisher.seat) is publisher:
            del self.publishers[publisher.seat]
            self._mixer.remove(publisher.seat)
            self._compositor.forget(publisher.seat)
        await publisher.stop()

    def subscribe(self, listener_seat: str | None) -> Subscription:
        """The feeds for a new listener; publishers hear everyone but themselves."""
        feed = listener_seat if listener_seat in SEATS else None
        audio = self._audio_out.get(feed)
        if audio is None:
            audio = self._audio_out[feed] = FrameFeed("audio")
        return Subscription(self._video_out, audio)

    def tap(self, sinks: tuple[FrameSink, FrameSink]) -> None:
        """Send the composite and the viewers' mix to `sinks` (video, audio) too."""
        video, audio = sinks
        self._video_out.add(video)
        self.subscribe(None).audio.add(audio)
        self.taps.append(sinks)
        self.request_keyframe()  # the other side starts at once

    def untap(self, sinks: tuple[FrameSink, FrameSink]) -> None:
        if sinks in self.taps:
            self.taps.remove(sinks)
            self._video_out.discard(sinks[0])
            self.subscribe(None).audio.discard(sinks[1])

    def request_keyframe(self) -> None:
        """A viewer joined or lost the picture (PLI/FIR)."""
        self.video_encoder.keyframes.request()

    def apply(self, choices: StreamChoices) -> None:
        """Layout, outputs and lower third as the domain chose them (loop thread)."""
        self.set_layout(choices.layout)
        self.set_outputs(choices.outputs or OutputPlan())
        self.lower_third.current = choices.lower_third

    def _qr_found(self, payload: str) -> None:
        if self._on_qr_code is not None:
            self._on_qr_code(self.stream_id, payload)

    def set_layout(self, layout: str) -> None:
        """Switch the layout mode live; the video thread applies it at the next frame."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}")
        self.layout_mode = layout

    def set_outputs(self, plan: OutputPlan) -> None:
        """Start or stop outputs; a new one starts at the next (requested) keyframe."""
        before = set(self.outputs.sinks)
        self.outputs.apply(plan)
        if set(self.outputs.sinks) - before:
            self.request_keyframe()

    @property
    def listeners(self) -> int:
        return len(self._video_out)

    @property
    def encoding(self) -> bool:
        """The composite is encoded while anyone watches or any output runs."""
        return bool(self._video_out) or self.outputs.active

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.outputs.close()  # their threads finish the playlist and the files
        self.qr_guard.close()
        for publisher in list(self.publishers.values()):
            await self.remove_publisher(publisher)
        self._video_thread.shutdown(wait=False)
        self._audio_thread.shutdown(wait=False)

    def _fresh_frames(self, now: float) -> list[tuple[str, av.VideoFrame]]:
        shown = []
        for seat in SEATS:
            publisher = self.publishers.get(seat)
            frame = publisher and publisher.fresh_frame(now, self.config.stall_hold)
            if frame is not None:
                shown.append((seat, frame))
        return shown

    def _sources(self, fresh: list[tuple[str, av.VideoFrame]]) -> list[tuple[str, av.VideoFrame]]:
        """What the composite shows: the slate takes the host's tile while the host is away."""
        if fresh and fresh[0][0] == "host":
            return fresh
        width, height = self._compositor.width, self._compositor.height
        area = areas(self.layout_mode, len(fresh) + 1, width, height)[0]
        text = SLATE_AGAIN if self._host_seen else SLATE_BEFORE
        return [(SLATE, slate_frame(area.width, area.height, self.title, text)), *fresh]

    def _track_on_air(self, fresh: list[tuple[str, av.VideoFrame]]) -> None:
        on_air = {seat for seat, _ in fresh}
        if on_air == self.on_air:
            return
        changed = on_air ^ self.on_air
        self.on_air = on_air
        self._host_seen = self._host_seen or "host" in on_air
        if self._notify is not None:
            for seat in sorted(changed):
                self._notify(seat, seat in on_air)

    def _compose_and_encode(
        self, sources: list[tuple[str, av.VideoFrame]], pts: int
    ) -> list[av.Packet]:
        started = time.perf_counter()
        layout = self.layout_mode
        size = output_size(layout, self.config.width, self.config.height)
        if size != (self._compositor.width, self._compositor.height):
            # Portrait and back: a new picture size, so a new x264 (starts with an IDR).
            self._compositor.resize(*size)
            self.video_encoder.resize(*size)
        composite = self._compositor.compose(self._sources(sources), layout)
        self.qr_guard.sample(composite)  # before the lower third: only what cameras show
        self.lower_third.paint(composite)
        packets = self.video_encoder.encode(composite, pts)
        COUNTERS.encode_seconds += time.perf_counter() - started
        COUNTERS.frames_encoded += 1
        self.outputs.video(packets, size)
        return packets

    async def _video_clock(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.config.fps
        start = deadline = loop.time()
        while True:
            now = loop.time()
            self.stats.video_ticks += 1
            fresh = self._fresh_frames(now)
            self._track_on_air(fresh)
            if self.encoding:
                pts = round((now - start) / VIDEO_CLOCK)
                packets = await self._off_loop(
                    self._video_thread, self._compose_and_encode, fresh, pts
                )
                self.stats.video_frames_encoded += 1
                self._video_out.publish(packets or [])
            deadline = max(deadline + period, loop.time())
            await asyncio.sleep(deadline - loop.time())

    def _encode_mixes(
        self, mixes: dict[str | None, np.ndarray], listened: set[str | None], pts: int
    ) -> dict:
        if None in mixes:
            self.outputs.audio(mixes[None], pts)  # AAC once, for every output
        encoded = {}
        for feed, mix in mixes.items():
            if feed not in listened:
                continue
            encoder = self._audio_encoders.get(feed)
            if encoder is None:
                encoder = self._audio_encoders[feed] = AudioEncoder()
            encoded[feed] = encoder.encode(pcm_frame(mix, pts))
        return encoded

    async def _audio_clock(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            # Mixing is cheap and touches buffers the loop fills: keep it here.
            listened = {feed for feed, fanout in self._audio_out.items() if fanout}
            wanted = listened | {None} if self.outputs.active else listened
            mixes = self._mixer.tick(list(wanted))
            pts = self.stats.audio_ticks * SAMPLES_PER_TICK
            self.stats.audio_ticks += 1
            if mixes:
                encoded = await self._off_loop(
                    self._audio_thread, self._encode_mixes, mixes, listened, pts
                )
                for feed, packets in (encoded or {}).items():
                    self._audio_out[feed].publish(packets)
            deadline = max(deadline + AUDIO_TICK, loop.time())
            await asyncio.sleep(deadline - loop.time())

    async def _off_loop(
        self, thread: ThreadPoolExecutor, work: Callable[..., T], *args: object
    ) -> T | None:
        """Run blocking PyAV work on `thread`; one failure must not end the show."""
        try:
            return await asyncio.get_running_loop().run_in_executor(thread, work, *args)
        except Exception:
            logger.exception("media work failed in stream %s", self.stream_id)
            return None
