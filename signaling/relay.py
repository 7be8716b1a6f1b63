"""Viewers on any process: the home's encoded media relayed to the others over Redis.

A WHEP viewer on a process that is not the stream's home is served there. That
process subscribes to the stream's frame channel and asks the home to relay
("watch", repeated every WATCH_INTERVAL while it has viewers). The home taps its
room (the composite and the viewers' mix, already packetized) and publishes every
frame; when no process listens any more (PUBLISH reaches nobody) it removes the
tap, so a stream nobody watches elsewhere costs nothing. Keyframe requests of
relayed viewers go back to the home's encoder. Frames are small (a few kB at
30 + 50 per second per stream), well within what Redis pub/sub carries.

When the home moves (it died and the host republished to another process), each
relaying process follows it: it looks the home up every WATCH_INTERVAL and sends
"watch" to the new one, or, when the new home is itself, taps its own room into the
relayed room. Viewers keep their relayed room and so their WebRTC sessions; the
relayed room switches them to the new source at its first keyframe and keeps their
timestamps running (media/relay.py).

Wire format of a frame message: `!cBIIH` (kind b"v"/b"a", keyframe, timestamp in
the codec clock, source: a random id of the home's tap, payload count), the
payload lengths (`!H` each), the payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from media.engine import MediaEngine
from media.relay import FeedTap, RelayedRoom, Upstream
from media.room import Room
from server.logs import STREAM_ID

log = logging.getLogger(__name__)

CONTROL = "costream:media:control"
WATCH_INTERVAL = 2.0  # a remote's "still watching", so a restarted home room re-taps
TAP_GRACE = 1.0  # a fresh tap may publish before the new subscriber is counted
LISTEN_RETRY_MIN, LISTEN_RETRY_MAX = 0.5, 5.0  # seconds between tries while Redis is down
MAX_BACKLOG = 90  # frames waiting for Redis (~1 s); beyond it the relay drops and re-keys
_HEADER = struct.Struct("!cBIIH")
_KINDS = {"video": b"v", "audio": b"a"}
_NAMES = {code: name for name, code in _KINDS.items()}


def frames_channel(stream_id: str) -> str:
    return f"costream:media:frames:{stream_id}"


def encode_frame(
    kind: str, payloads: list[bytes], timestamp: int, keyframe: bool, source: int
) -> bytes:
    head = _HEADER.pack(_KINDS[kind], keyframe, timestamp & 0xFFFFFFFF, source, len(payloads))
    sizes = struct.pack(f"!{len(payloads)}H", *map(len, payloads))
    return b"".join((head, sizes, *payloads))


def decode_frame(data: bytes) -> tuple[str, list[bytes], int, bool, int]:
    code, keyframe, timestamp, source, count = _HEADER.unpack_from(data)
    at = _HEADER.size
    sizes = struct.unpack_from(f"!{count}H", data, at)
    at += 2 * count
    payloads = []
    for size in sizes:
        payloads.append(data[at : at + size])
        at += size
    return _NAMES[code], payloads, timestamp, bool(keyframe), source


class _Outbound:
    """The home's tap of one stream and the task that publishes its frames in order."""

    def __init__(self, relay: MediaRelay, stream_id: str) -> None:
        self.stream_id = stream_id
        self._relay = relay
        self._channel = frames_channel(stream_id)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._source = secrets.randbits(32)  # a new tap is a new timeline for receivers
        self.sinks = (FeedTap("video", self._forward), FeedTap("audio", self._forward))
        self.room = relay.engine.tap(stream_id, self.sinks)
        self._since = time.monotonic()
        self.task = asyncio.create_task(self._publish())

    def _forward(self, kind: str, payloads: list[bytes], timestamp: int, keyframe: bool) -> None:
        if self._queue.qsize() >= MAX_BACKLOG:
            self.room.request_keyframe()  # Redis cannot keep up: drop, then restart clean
            return
        self._queue.put_nowait(encode_frame(kind, payloads, timestamp, keyframe, self._source))

    async def _publish(self) -> None:
        redis = self._relay.redis
        try:
            while True:
                batch = [await self._queue.get()]
                while not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                async with redis.pipeline(transaction=False) as pipe:
                    for data in batch:
                        pipe.publish(self._channel, data)
                    receivers = await pipe.execute()
                if receivers[-1] == 0 and time.monotonic() - self._since > TAP_GRACE:
                    return  # nobody listens elsewhere any more
        except Exception:
            log.exception("media relay of stream %s stopped", self.stream_id)
        finally:
            log.info("stopped relaying stream %s", self.stream_id)
            await self._relay.untap(self)


class _HomeLink:
    """A relayed room's link to the stream's home, followed wherever it moves.

    Another process: its frames over Redis, "watch" and keyframe requests to it. This
    process (the host republished here): its own room tapped into the relayed room.
    """

    def __init__(self, relay: MediaRelay, stream_id: str, home: str) -> None:
        self._relay, self._stream_id, self._home = relay, stream_id, home
        self._channel = frames_channel(stream_id)
        self._room: RelayedRoom | None = None
        self._local: tuple[Room, tuple[FeedTap, FeedTap]] | None = None
        self._subscribed = False
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def start(self, room: RelayedRoom) -> None:
        self._room = room
        self._relay.rooms[self._channel] = room
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        log.info("playing stream %s relayed from %s", self._stream_id, self._home)
        while True:
            try:
                await self._follow_once()
            except Exception:  # Redis unavailable: again at the next tick
                log.debug("cannot follow the home of %s now", self._stream_id, exc_info=True)
            await asyncio.sleep(WATCH_INTERVAL)

    async def _follow_once(self) -> None:
        """Move if the home did; from another process, subscribe and say "watch"."""
        home = None
        with contextlib.suppress(Exception):  # Redis unavailable: keep following
            home = await self._relay.locate(self._stream_id)
        moved = home is not None and home != self._home
        if moved:
            assert home is not None
            await self._move(home)
        if self._local is not None or self._stopped:
            return
        if not self._subscribed:
            await self._relay.pubsub.subscribe(self._channel)
            self._subscribed = True
        await self._relay.tell_home("watch", self._stream_id, self._home)
        if moved:
            self.request_keyframe()  # its tap may exist already (other processes watch)

    async def _move(self, home: str) -> None:
        """Follow the home to `home`, another process or this one."""
        log.info("stream %s moved home from %s to %s", self._stream_id, self._home, home)
        self._home, left = home, self._local
        if home == self._relay.url:
            await self._stop_remote()
            self._tap_local()
        else:
            assert self._room is not None
            self._local = None
            self._relay.rooms[self._channel] = self._room
        if left is not None:  # last: it may close the rooms (and stop this) if nobody is left
            await self._relay.engine.untap(self._stream_id, left[1])

    def _tap_local(self) -> None:
        room, source = self._room, secrets.randbits(32)
        assert room is not None

        def forward(kind: str, payloads: list[bytes], timestamp: int, keyframe: bool) -> None:
            room.deliver(kind, payloads, timestamp, keyframe, source)

        sinks = (FeedTap("video", forward), FeedTap("audio", forward))
        self._local = (self._relay.engine.tap(self._stream_id, sinks), sinks)

    async def _stop_remote(self) -> None:
        self._relay.rooms.pop(self._channel, None)
        self._subscribed = False
        with contextlib.suppress(Exception):  # Redis gone: nothing left to stop
            await self._relay.pubsub.unsubscribe(self._channel)

    def request_keyframe(self) -> None:
        if self._local is not None:
            self._local[0].request_keyframe()
        else:
            self._relay.spawn(self._relay.tell_home("keyframe", self._stream_id, self._home))

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()  # also from inside it (a move that emptied the rooms)
            if self._task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        local, self._local = self._local, None
        if local is not None:
            await self._relay.engine.untap(self._stream_id, local[1])
        else:
            await self._stop_remote()


class MediaRelay:
    """This process's end of the relay: home for some streams, remote for others."""

    def __init__(
        self,
        redis_url: str,
        engine: MediaEngine,
        url: str,
        locate: Callable[[str], Awaitable[str | None]],
    ) -> None:
        self._redis_url = redis_url
        self.engine = engine
        self.url = url.rstrip("/")
        self.locate = locate  # a stream's home now (StreamHomes.current)
        self.rooms: dict[str, RelayedRoom] = {}  # by frame channel
        self._outbound: dict[str, _Outbound] = {}
        self._redis: Redis | None = None
        self._pubsub: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "the media relay is not started"
        return self._redis

    @property
    def pubsub(self) -> Any:
        return self._pubsub

    def upstream(self, stream_id: str, home: str) -> Callable[[], Upstream]:
        """What `MediaEngine.play` needs to serve a viewer of a stream homed at `home`."""
        return lambda: _HomeLink(self, stream_id, home)

    async def start(self) -> None:
        self._redis = Redis.from_url(self._redis_url)  # bytes: frames are binary
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(CONTROL)  # always one subscription: listen() never ends
        self.spawn(self._listen())

    async def stop(self) -> None:
        for outbound in list(self._outbound.values()):
            outbound.task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    def spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def tell_home(self, kind: str, stream_id: str, home: str) -> None:
        message = json.dumps({"type": kind, "stream_id": stream_id, "home": home})
        with contextlib.suppress(Exception):  # logged by the store's own failures
            await self.redis.publish(CONTROL, message)

    async def _listen(self) -> None:
        """Handle control and frame messages; when Redis goes away, wait and listen again
        (redis-py resubscribes every channel on reconnect), so relayed viewers recover
        without a restart once Redis is back."""
        pause = LISTEN_RETRY_MIN
        while True:
            try:
                async for message in self._pubsub.listen():
                    pause = LISTEN_RETRY_MIN
                    await self._handle(message)
            except (ConnectionError, OSError, RedisError) as error:
                log.warning("media relay lost Redis (%s); listening again in %.1f s", error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, LISTEN_RETRY_MAX)

    async def _handle(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode()
        try:
            if channel == CONTROL:
                await self._on_control(json.loads(message["data"]))
            elif (room := self.rooms.get(channel)) is not None:
                room.deliver(*decode_frame(message["data"]))
        except Exception:
            log.exception("media relay: cannot handle a message on %s", channel)

    async def _on_control(self, data: dict[str, str]) -> None:
        logged = STREAM_ID.set(data["stream_id"])  # also for the tasks started here
        try:
            await self._control(data)
        finally:
            STREAM_ID.reset(logged)

    async def _control(self, data: dict[str, str]) -> None:
        if data["home"] != self.url:
            return
        stream_id = data["stream_id"]
        outbound = self._outbound.get(stream_id)
        if outbound is not None and outbound.room is not self.engine.rooms.get(stream_id):
            outbound.task.cancel()  # the room was closed and made again: tap the new one
            outbound = None
        if data["type"] == "watch" and outbound is None:
            log.info("relaying stream %s to other processes", stream_id)
            outbound = self._outbound[stream_id] = _Outbound(self, stream_id)
            self._tasks.add(outbound.task)
            outbound.task.add_done_callback(self._tasks.discard)
        elif data["type"] == "keyframe" and outbound is not None:
            outbound.room.request_keyframe()

    async def untap(self, outbound: _Outbound) -> None:
        if self._outbound.get(outbound.stream_id) is outbound:
            del self._outbound[outbound.stream_id]
        if self.engine.rooms.get(outbound.stream_id) is outbound.room:
            await self.engine.untap(outbound.stream_id, outbound.sinks)
