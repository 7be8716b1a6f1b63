"""The media engine: rooms per stream, WHIP publish and WHEP play sessions.

Callers (signaling) decide who may publish or play; the engine only knows
stream ids, seats ("host", "cohost") and session ids.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.sdp import SessionDescription

from media.config import MediaConfig
from media.errors import MediaError
from media.fanout import FrameSink
from media.ice import announce_public_address, restrict_host_addresses, rtc_configuration
from media.layout import LAYOUTS
from media.outputs import MuxSink, OutputPlan
from media.outputs.overlay import LowerThird
from media.publisher import Publisher
from media.relay import RelayedRoom, Upstream
from media.room import Room, StreamChoices, Subscription
from media.rtpsender import FanoutSender

logger = logging.getLogger(__name__)

PUBLISH = "publish"
PLAY = "play"
# seat_listener(stream_id, seat, on_air): a seat's pictures started or stopped arriving.
SeatListener = Callable[[str, str, bool], Awaitable[None]]


@dataclass(eq=False)
class MediaSession:
    """One WHIP or WHEP peer connection, addressed by an unguessable id."""

    stream_id: str
    kind: str  # PUBLISH or PLAY
    seat: str | None  # the publishing seat, or the listener's seat (None: viewer)
    owner: str | None
    pc: RTCPeerConnection
    # Who opened it when anonymous (the client address): session caps count by it.
    client: str | None = None
    relayed: bool = False  # a viewer fed by the stream's relayed room
    answer: str = ""
    id: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    cleanup: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def log(self) -> dict[str, str]:
        """`extra` for log records about this session (structured logs show the stream)."""
        return {"stream_id": self.stream_id}


def check_offer(offer: str) -> None:
    """Refuse an SDP offer that aiortc cannot parse or that carries no media."""
    try:
        description = SessionDescription.parse(offer)
    except Exception as error:  # aiortc's parser asserts and indexes freely
        raise MediaError("invalid_sdp", "the SDP offer cannot be parsed") from error
    if not any(media.kind in ("audio", "video") for media in description.media):
        raise MediaError("invalid_sdp", "the offer has no audio or video")


async def _stop_transports(pc: RTCPeerConnection) -> None:
    """What RTCPeerConnection.close() stops, for a peer whose close() failed on a
    transceiver without transport: free every DTLS/ICE transport (and UDP socket) that
    does exist."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is not None:
            for transport in (dtls, dtls.transport):
                try:
                    await transport.stop()
                except Exception:
                    logger.debug("stopping a transport failed", exc_info=True)


class MediaEngine:
    """Owns every room and session of this process."""

    def __init__(
        self,
        config: MediaConfig,
        seat_listener: SeatListener | None = None,
        on_qr_code: Callable[[str, str], None] | None = None,
    ) -> None:
        """`seat_listener` hears when a seat's pictures start or stop arriving;
        `on_qr_code(stream_id, payload)`, called on the loop, when a stream's picture
        shows a QR code."""
        self.config = config
        self.rooms: dict[str, Room] = {}
        # Streams whose home is another process, served here from relayed frames.
        self.relayed: dict[str, RelayedRoom] = {}
        self.sessions: dict[str, MediaSession] = {}
        self._publishing: dict[tuple[str, str], MediaSession] = {}
        self._seat_listener = seat_listener
        self._notices: set[asyncio.Task[None]] = set()
        self._expiring: set[asyncio.Task[bool]] = set()
        self._choices: dict[str, StreamChoices] = {}
        self._on_qr_code = on_qr_code
        restrict_host_addresses(config.ice_host_addresses)

    def room(self, stream_id: str, title: str | None = None) -> Room:
        """The stream's room, opened on first use; `title` goes on its slate."""
        room = self.rooms.get(stream_id)
        if room is None:
            room = self.rooms[stream_id] = Room(
                stream_id,
                self.config,
                self._qr_found,
                lambda seat, on_air: self._seat_changed(stream_id, seat, on_air),
            )
            room.apply(self._choices.get(stream_id) or StreamChoices())
        if title is not None:
            room.title = title
        return room

    def on_air(self, stream_id: str, seat: str) -> bool:
        """Whether `seat`'s pictures are arriving at this process now."""
        room = self.rooms.get(stream_id)
        return room is not None and seat in room.on_air

    def _seat_changed(self, stream_id: str, seat: str, on_air: bool) -> None:
        if self._seat_listener is None:
            return
        task = asyncio.ensure_future(self._tell_seat_listener(stream_id, seat, on_air))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    def _choose(self, stream_id: str, **changes: object) -> None:
        """Remember a stream's choices (kept while its room comes and goes), apply them."""
        choices = dataclasses.replace(self._choices.get(stream_id) or StreamChoices(), **changes)
        self._choices[stream_id] = choices
        room = self.rooms.get(stream_id)
        if room is not None:
            room.apply(choices)

    def set_outputs(self, stream_id: str, plan: OutputPlan | None) -> None:
        """The outputs of a live stream (None: none)."""
        self._choose(stream_id, outputs=plan)

    def set_layout(self, stream_id: str, layout: str) -> None:
        """The stream's layout mode (media/layout.py LAYOUTS), applied live."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}")
        self._choose(stream_id, layout=layout)

    def set_lower_third(self, stream_id: str, lower_third: LowerThird | None) -> None:
        """The item on stage drawn into the composite (None: no bar)."""
        self._choose(stream_id, lower_third=lower_third)

    def output_plan(self, stream_id: str) -> OutputPlan | None:
        choices = self._choices.get(stream_id)
        return choices.outputs if choices is not None else None

    def _qr_found(self, stream_id: str, payload: str) -> None:
        if self._on_qr_code is not None:
            self._on_qr_code(stream_id, payload)

    def output(self, stream_id: str, key: str) -> MuxSink | None:
        """A running output of the stream ("hls", "recording", "rtmp:<id>")."""
        room = self.rooms.get(stream_id)
        return room.outputs.sink(key) if room is not None else None

    def session(self, session_id: str) -> MediaSession | None:
        return self.sessions.get(session_id)

    async def _tell_seat_listener(self, stream_id: str, seat: str, on_air: bool) -> None:
        assert self._seat_listener is not None
        try:
            await self._seat_listener(stream_id, seat, on_air)
        except Exception:  # the show goes on; the listener's failure is only logged
            logger.exception("seat listener failed for %s %s", stream_id, seat)

    async def publish(
        self,
        stream_id: str,
        seat: str,
        offer: str,
        owner: str | None = None,
        title: str | None = None,
        client: str | None = None,
    ) -> MediaSession:
        """Accept a WHIP offer for `seat`; a previous session of the seat is replaced.

        The previous session stays on air until the new offer is answered, so a
        bad offer changes nothing.
        """
        check_offer(offer)
        room = self.room(stream_id, title)
        session = self._new_session(stream_id, PUBLISH, seat, owner, client)
        publisher = Publisher(seat)
        session.pc.on("track", publisher.attach)
        session.cleanup.append(lambda: room.remove_publisher(publisher))
        await self._answer(session, offer)
        previous = self._publishing.get((stream_id, seat))
        if previous is not None:
            await self.close_session(previous.id)
        room.install(publisher)
        self._publishing[(stream_id, seat)] = session
        logger.info(
            "%s publishes on %s (session %s)", owner, seat, session.id[:8], extra=session.log
        )
        return session

    async def play(
        self,
        stream_id: str,
        offer: str,
        listener_seat: str | None = None,
        owner: str | None = None,
        title: str | None = None,
        upstream: Callable[[], Upstream] | None = None,
        audio_only: bool = False,
        client: str | None = None,
    ) -> MediaSession:
        """Accept a WHEP offer: the composite and the listener's audio feed.

        With `upstream` the stream is encoded on another process: the viewer is
        fed the frames relayed from there (the first such viewer starts it).
        `audio_only`: the audio mix alone; the offered video is answered inactive, so
        no picture is composed or sent for this listener.
        """
        check_offer(offer)
        room: Room | RelayedRoom
        if upstream is None:
            room = self.room(stream_id, title)
        else:
            room = self.relayed.get(stream_id) or RelayedRoom(stream_id, upstream())
            self.relayed[stream_id] = room
        session = self._new_session(stream_id, PLAY, listener_seat, owner, client)
        session.relayed = upstream is not None
        self._add_senders(session.pc, room, room.subscribe(listener_seat), audio_only)
        await self._answer(session, offer)
        where = "here" if upstream is None else "relayed"
        logger.info(
            "%s plays, encoded %s (session %s)",
            owner or "a viewer",
            where,
            session.id[:8],
            extra=session.log,
        )
        return session

    async def close_session(self, session_id: str) -> bool:
        """Close and free a session; False if it was unknown (already gone)."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        key = (session.stream_id, session.seat or "")
        if self._publishing.get(key) is session:
            del self._publishing[key]
        for step in session.cleanup:
            result = step()
            if result is not None:
                await result
        try:
            await session.pc.close()
        except Exception:  # aiortc fails closing a peer left half set up by a bad offer
            logger.info("closing session %s half set up", session.id, exc_info=True)
            await _stop_transports(session.pc)
        session.closed.set()
        logger.info("session %s (%s) closed", session.id[:8], session.kind, extra=session.log)
        await self._close_if_unused(session.stream_id)
        return True

    def tap(self, stream_id: str, sinks: tuple[FrameSink, FrameSink]) -> Room:
        """Relay the stream's composite and viewers' mix to `sinks` (other processes).

        The room lives (and encodes) while tapped, even with no session here.
        """
        room = self.room(stream_id)
        room.tap(sinks)
        return room

    async def untap(self, stream_id: str, sinks: tuple[FrameSink, FrameSink]) -> None:
        room = self.rooms.get(stream_id)
        if room is not None:
            room.untap(sinks)
            await self._close_if_unused(stream_id)

    async def _close_if_unused(self, stream_id: str) -> None:
        """Free what nobody uses: the relayed room without its viewers (it may tap this
        process's room, once the home moved here), then the room without sessions and
        relays, and their threads."""
        sessions = [s for s in self.sessions.values() if s.stream_id == stream_id]
        if not any(s.relayed for s in sessions) and stream_id in self.relayed:
            await self.relayed.pop(stream_id).close()
        room = self.rooms.get(stream_id)
        if not sessions and room is not None and not room.taps:
            await self._close_room(stream_id)

    async def drop_seat(self, stream_id: str, seat: str) -> None:
        """Disconnect whoever publishes on `seat` (the cohost was removed)."""
        session = self._publishing.get((stream_id, seat))
        if session is not None:
            await self.close_session(session.id)

    async def close_stream(self, stream_id: str) -> None:
        """End every session of a stream and free its room."""
        self._choices.pop(stream_id, None)
        for session in [s for s in self.sessions.values() if s.stream_id == stream_id]:
            await self.close_session(session.id)
        await self._close_room(stream_id)

    async def _close_room(self, stream_id: str) -> None:
        for rooms in (self.rooms, self.relayed):
            room = rooms.pop(stream_id, None)
            if room is not None:
                await room.close()

    async def close(self) -> None:
        # Shutting down is not a publisher dropping: no more seat reports, and none
        # pending (their listener reads storage, which closes right after media).
        self._seat_listener = None
        for notice in list(self._notices):
            notice.cancel()
        streams = [*self.rooms, *self.relayed, *(s.stream_id for s in self.sessions.values())]
        for stream_id in streams:
            await self.close_stream(stream_id)

    def _new_session(
        self, stream_id: str, kind: str, seat: str | None, owner: str | None, client: str | None
    ) -> MediaSession:
        pc = RTCPeerConnection(rtc_configuration(self.config))
        session = MediaSession(stream_id, kind, seat, owner, pc, client)
        self.sessions[session.id] = session
        # An offer without a usable candidate never connects nor fails: without this
        # deadline its peer connection, UDP socket and ICE polling would live forever.
        deadline = asyncio.get_running_loop().call_later(
            self.config.connect_timeout, self._expire_unconnected, session
        )
        session.cleanup.append(deadline.cancel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close_session(session.id)

        return session

    def _expire_unconnected(self, session: MediaSession) -> None:
        if session.pc.connectionState != "connected" and session.id in self.sessions:
            logger.info("closing %s session %s: not connected in time", session.kind, session.id)
            task = asyncio.ensure_future(self.close_session(session.id))
            self._expiring.add(task)
            task.add_done_callback(self._expiring.discard)

    def sessions_where(
        self,
        stream_id: str | None = None,
        owner: str | None = None,
        client: str | None = None,
    ) -> list[MediaSession]:
        """Open sessions of a stream, of a user (any case), or of an anonymous client."""
        found = list(self.sessions.values())
        if stream_id is not None:
            found = [s for s in found if s.stream_id == stream_id]
        if owner is not None:
            key = owner.casefold()
            found = [s for s in found if s.owner is not None and s.owner.casefold() == key]
        if client is not None:
            found = [s for s in found if s.owner is None and s.client == client]
        return found

    def seat_health(self, stream_id: str, seat: str, within: float = 3.0) -> tuple[bool, bool]:
        """(pictures arriving, sound in the last `within` s) for a seat of this process."""
        room = self.rooms.get(stream_id)
        publisher = room.publishers.get(seat) if room is not None else None
        if publisher is None:
            return False, False
        now = asyncio.get_running_loop().time()
        return (
            publisher.fresh_frame(now, self.config.stall_hold) is not None,
            publisher.sounding(now, within),
        )

    def _add_senders(
        self,
        pc: RTCPeerConnection,
        room: Room | RelayedRoom,
        subscription: Subscription,
        audio_only: bool,
    ) -> None:
        if not audio_only:
            self._add_video_sender(pc, room, subscription)
        audio = pc.addTransceiver("audio", direction="sendonly")
        FanoutSender.adopt(audio.sender, subscription.audio, lambda: None)

    def _add_video_sender(
        self, pc: RTCPeerConnection, room: Room | RelayedRoom, subscription: Subscription
    ) -> None:
        video = pc.addTransceiver("video", direction="sendonly")
        # The shared encoder is H264: offer nothing else (RTX kept for NACK).
        video.setCodecPreferences(
            [
                codec
                for codec in RTCRtpSender.getCapabilities("video").codecs
                if codec.mimeType in ("video/H264", "video/rtx")
            ]
        )
        FanoutSender.adopt(video.sender, subscription.video, room.request_keyframe)

    async def _answer(self, session: MediaSession, offer: str) -> None:
        pc = session.pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as error:  # aiortc asserts on offers it cannot use
            await self.close_session(session.id)
            if isinstance(error, OperationError):
                raise MediaError("unsupported_codec", "no codec in common") from error
            raise MediaError("invalid_sdp", "the SDP offer cannot be used") from error
        session.answer = announce_public_address(
            pc.localDescription.sdp, self.config.ice_public_address
        )
