"""Socket.IO transport: each client event -> validate the payload -> one domain call -> ack.

Acks are `{"ok": true, ...}` or `{"ok": false, "error": {"code", "message"}}`; nothing a
client sends can break its connection, the stream or the server. Who receives
server -> client events is decided by signaling.broadcaster.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from aiohttp import web

from server.auth import TokenClaims
from server.counters import count_error
from server.domain.errors import ApiError, invalid_field, unauthorized
from server.domain.streams import Stream, StreamService, require_role
from server.domain.times import now_ms
from server.http import NODE_MODULES, vendor_files
from server.keys import (
    AUCTIONS,
    AUTH,
    CHAT,
    COHOST,
    COMMERCE,
    GIVEAWAYS,
    LIFECYCLE,
    LIVE,
    MEDIA,
    MODERATION,
    PRESENCE,
    SESSIONS,
    SETTINGS,
    SHARERS,
    STREAMS,
)
from server.logs import STREAM_ID
from signaling.broadcaster import seat_room, stream_room, user_room
from signaling.fanout import (
    QUEUE_LIMIT,
    DirectFanout,
    DirectRedisFanout,
    PromptServer,
    use_prompt_sockets,
)

log = logging.getLogger(__name__)

# What a cohost's page reports of its WHIP session (relayed to the host).
COHOST_MEDIA_STATES = frozenset(
    {"connecting", "connected", "reconnecting", "failed", "closed", "camera_blocked"}
)


# Events taken one at a time per connection, in order (PromptServer): a bid judged in
# this process runs in the connection's reader (it waits at most for a group commit),
# a bid forwarded to another process's judge in the connection's lane.
ORDERED_EVENTS = frozenset({"auction:bid"})


class Undecodable:
    """The event name of a Socket.IO packet whose payload could not be decoded (see
    BoundedJson): not a string, so no client can send it and no handler has it."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __str__(self) -> str:
        return f"({self.why})"


TOO_DEEP = Undecodable("the payload is nested too deeply")
NOT_JSON = Undecodable("the payload is not JSON")


class JsonPacket(socketio.packet.Packet):
    """Socket.IO packets whose data is JSON, never bytes: what this server sends.

    The stock packet walks every payload it is built with looking for bytes to send
    as attachments; for a bid's ack and each `auction:outbid`, that walk cost about
    as much as encoding them. Bytes given here fail loudly in `json.dumps`. Binary
    packets clients send still decode (decoding never asks).
    """

    uses_binary_events = False

    def decode(self, encoded_packet: str | bytes) -> int:
        """python-socketio's, except that a payload that is not JSON becomes the event
        NOT_JSON (answered with `invalid_payload`, the packet's id read by then) where
        the exception left the client's ack hanging and logged a traceback. Not in
        BoundedJson: Engine.IO shares that module and needs its ValueError."""
        try:
            return super().decode(encoded_packet)
        except json.JSONDecodeError:
            self.data = [NOT_JSON]
            return 0


class BoundedJson:
    """The json module Socket.IO decodes packets with, except that a payload nested too
    deeply to decode (RecursionError) becomes the event TOO_DEEP, answered with
    `invalid_payload`, instead of an exception that leaves the client's ack hanging."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        try:
            return json.loads(text, *args, **kwargs)
        except RecursionError:
            return [TOO_DEEP]


@dataclass
class Conn:
    """One Socket.IO connection of this process."""

    sid: str
    user: str | None  # None: anonymous viewer
    stream_id: str | None = None  # the stream joined, if any
    # The signed-in token's claims, re-checked on every event; its expiry timer.
    claims: TokenClaims | None = None
    expiry: asyncio.TimerHandle | None = None


Payload = dict[str, Any]
Handler = Callable[[Conn, Payload], Awaitable[Payload]]


def failure(error: ApiError) -> Payload:
    count_error(error.code, "socketio")
    return {"ok": False, "error": error.to_dict()}


def _payload(args: tuple[Any, ...]) -> Payload:
    """The single JSON-object argument of an event (none means `{}`)."""
    if not args:
        return {}
    if len(args) != 1 or not isinstance(args[0], dict):
        raise ApiError(400, "invalid_payload", "send one JSON object as the payload")
    return args[0]


def _stream_id(payload: Payload) -> str:
    value = payload.get("stream_id")
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise invalid_field("stream_id", "must be a stream id")
    return value


def _signed_in(conn: Conn) -> str:
    if conn.user is None:
        raise unauthorized("sign in to do this (connect with auth: {token})")
    return conn.user


class Realtime:
    """The Socket.IO server's handlers; one instance per app."""

    def __init__(self, app: web.Application, sio: socketio.AsyncServer) -> None:
        self.app = app
        self.sio = sio
        self.conns: dict[str, Conn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("*", self.unknown)
        for event, handler in {
            "join": self.join,
            "leave": self.leave,
            "chat:send": self.chat_send,
            "chat:hide": self.chat_hide,
            "user:suggest": self.user_suggest,
            "user:mute": self.user_mute,
            "user:unmute": self.user_unmute,
            "cohost:invite": self.cohost_invite,
            "cohost:respond": self.cohost_respond,
            "cohost:remove": self.cohost_remove,
            "cohost:cancel": self.cohost_cancel,
            "cohost:leave": self.cohost_leave,
            "cohost:media": self.cohost_media,
            "auction:bid": self.auction_bid,
            "giveaway:enter": self.giveaway_enter,
        }.items():
            sio.on(event, self._acked(handler))
        if isinstance(sio, PromptServer):
            sio.quick = self._judged_here

    def _judged_here(self, data: list[Any]) -> bool:
        """Whether an `auction:bid` ([name, payload]) goes to a judge in this process."""
        payload = data[1] if len(data) == 2 else None
        listing_id = payload.get("listing_id") if isinstance(payload, dict) else None
        return isinstance(listing_id, str) and self.app[AUCTIONS].judged_here(listing_id)

    def _acked(self, handler: Handler) -> Callable[..., Awaitable[Payload]]:
        """Wrap a handler: payload check, domain errors and crashes become error acks."""

        async def event(sid: str, *args: Any) -> Payload:
            conn = self.conns.get(sid)
            logged = STREAM_ID.set(conn.stream_id if conn is not None else None)
            try:
                if conn is None:  # raced with its disconnect
                    raise ApiError(400, "not_connected", "the connection is closing")
                await self._recheck_token(conn)
                return {"ok": True, **await handler(conn, _payload(args))}
            except ApiError as error:
                return failure(error)
            except Exception:
                log.exception("realtime handler %s failed", handler.__name__)
                return failure(ApiError(500, "internal_error", "internal server error"))
            finally:
                STREAM_ID.reset(logged)

        return event

    @property
    def _streams(self) -> StreamService:
        return self.app[STREAMS]

    async def _joined(self, conn: Conn) -> Stream:
        """The connection's stream as it is now (roles may have changed since the join)."""
        if conn.stream_id is None:
            raise ApiError(409, "not_joined", "join a stream first")
        return await self._streams.get(conn.stream_id)

    # -- connection ----------------------------------------------------------------------

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        conn = Conn(sid, None)
        if token not in (None, ""):
            claims = await self.app[SESSIONS].check(token) if isinstance(token, str) else None
            if claims is None:
                # Socket.IO's shape: the client's connect_error gets `message` and `data`.
                message = "the token is invalid or expired"
                raise socketio.exceptions.ConnectionRefusedError(
                    message, {"code": "invalid_token", "message": message}
                )
            conn = Conn(sid, claims.username, claims=claims)
            await self.sio.enter_room(sid, user_room(claims.username))
            # At expiry the connection drops to anonymous by itself, events or not.
            delay = max(0.0, claims.expires - self.app[AUTH].now())
            conn.expiry = asyncio.get_running_loop().call_later(
                delay, lambda: self._spawn(self._drop_auth(conn, "expired"))
            )
        self.conns[sid] = conn

    async def disconnect(self, sid: str, *reason: Any) -> None:
        conn = self.conns.pop(sid, None)
        if conn is not None:
            if conn.expiry is not None:
                conn.expiry.cancel()
            try:
                await self.app[PRESENCE].leave(sid)
            except ApiError as error:  # Redis down: the entry expires with its TTL
                log.warning("presence of %s not removed: %s", sid, error.message)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recheck_token(self, conn: Conn) -> None:
        """A signed-in connection whose token expired or was revoked (logout, password
        change, on any process) continues anonymous from this event on."""
        if conn.claims is not None and await self.app[SESSIONS].still_valid(conn.claims) is None:
            expired = self.app[AUTH].now() >= conn.claims.expires
            await self._drop_auth(conn, "expired" if expired else "revoked")

    async def _drop_auth(self, conn: Conn, reason: str) -> None:
        """Make the connection anonymous and tell its client (`auth:expired`)."""
        user = conn.user
        if user is None or self.conns.get(conn.sid) is not conn:
            return
        conn.user, conn.claims = None, None
        if conn.expiry is not None:
            conn.expiry.cancel()
            conn.expiry = None
        await self.sio.leave_room(conn.sid, user_room(user))
        if conn.stream_id is not None:
            await self.sio.leave_room(conn.sid, seat_room(conn.stream_id, user))
            await self.app[PRESENCE].join(conn.stream_id, conn.sid, None)
        await self.sio.emit(
            "auth:expired",
            {"reason": reason, "message": f"your session {reason}; sign in again"},
            to=conn.sid,
        )

    async def unknown(self, event: Any, sid: str, *args: Any) -> Payload:
        """Any event without a handler (the catch-all): a name no handler has, one a
        client may not use (see PromptServer), or a packet too deep to decode."""
        if isinstance(event, Undecodable):
            return failure(ApiError(400, "invalid_payload", event.why))
        return failure(ApiError(400, "unknown_event", f"no such event {str(event)[:64]!r}"))

    # -- rooms ---------------------------------------------------------------------------

    async def join(self, conn: Conn, payload: Payload) -> Payload:
        stream = await self._streams.get(_stream_id(payload))
        await self._leave_stream(conn)
        conn.stream_id = stream.id
        await self.sio.enter_room(conn.sid, stream_room(stream.id))
        if conn.user is not None:
            await self.sio.enter_room(conn.sid, seat_room(stream.id, conn.user))
        await self.app[PRESENCE].join(stream.id, conn.sid, conn.user)
        referral = await self.app[SHARERS].on_join(stream, conn.user, payload.get("ref"))
        stream = await self._streams.get(stream.id)  # the viewer count now includes us
        invite = await self.app[COHOST].pending(stream.id, conn.user)
        if invite is not None:
            await self.sio.emit("cohost:invited", invite.to_dict(), to=conn.sid)
        chat = await self.app[CHAT].history(stream.id)
        # Bounded whatever the stream holds: the newest; older ones page over REST.
        listings, listings_more = await self.app[COMMERCE].newest_listings(
            stream.id, self.app[SETTINGS].join_listings_limit
        )
        role = StreamService.role_of(stream, conn.user)
        auction = await self.app[AUCTIONS].running(stream.id)
        giveaway = await self.app[GIVEAWAYS].open_in(stream.id)
        return {
            "role": role,
            "publishing": self._publishing(stream.id, role),
            "stream": stream.to_dict(),
            "chat": [message.to_dict() for message in chat],
            "listings": [listing.to_dict() for listing in listings],
            "listings_more": listings_more,
            "user": conn.user,
            "cohost": stream.cohost,
            "pending_invite": invite.to_dict() if invite else None,
            # The host's own unanswered invites (a reload or a second tab shows them).
            "sent_invites": [i.to_dict() for i in await self.app[COHOST].sent(stream, conn.user)],
            "muted": await self.app[CHAT].is_muted(stream.id, conn.user),
            "auction": None if auction is None else auction.to_dict(),
            "giveaway": None if giveaway is None else giveaway.to_dict(),
            # The server's clock, so pages count down to `ends_at_ms` without drift.
            "now_ms": now_ms(),
            **referral.to_dict(),
            "pinned": stream.pinned,
            "slow_mode_seconds": stream.slow_mode_seconds,
            "moderator": await self.app[LIFECYCLE].is_moderator(stream, conn.user),
            "reminded": await self.app[LIFECYCLE].reminded(stream.id, conn.user),
        }

    def _publishing(self, stream_id: str, role: str) -> bool | None:
        """For the host and cohost: whether their pictures reach the composite now, so a
        page that rejoins (after a restart, say) knows to publish again. None when this
        process cannot tell (a viewer, or another process is the stream's home)."""
        if role == "viewer":
            return None
        engine = self.app[MEDIA]
        if stream_id not in engine.rooms and self.app[LIVE].shared:
            return None
        return engine.on_air(stream_id, role)

    async def leave(self, conn: Conn, payload: Payload) -> Payload:
        await self._leave_stream(conn)
        return {}

    async def _leave_stream(self, conn: Conn) -> None:
        if conn.stream_id is None:
            return
        await self.sio.leave_room(conn.sid, stream_room(conn.stream_id))
        if conn.user is not None:
            await self.sio.leave_room(conn.sid, seat_room(conn.stream_id, conn.user))
        conn.stream_id = None
        await self.app[PRESENCE].leave(conn.sid)

    # -- chat ----------------------------------------------------------------------------

    async def chat_send(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        message = await self.app[CHAT].send(await self._joined(conn), user, payload.get("text"))
        return {"message": message.to_dict()}

    async def chat_hide(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        await self.app[MODERATION].hide(await self._joined(conn), user, payload.get("message_id"))
        return {}

    async def user_suggest(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        stream = await self._joined(conn)
        return {"users": await self.app[PRESENCE].suggest(stream.id, user, payload.get("prefix"))}

    async def _set_muted(self, conn: Conn, payload: Payload, muted: bool) -> Payload:
        user = _signed_in(conn)
        stream = await self._joined(conn)
        name = await self.app[MODERATION].set_muted(stream, user, payload.get("username"), muted)
        return {"username": name, "muted": muted}

    async def user_mute(self, conn: Conn, payload: Payload) -> Payload:
        return await self._set_muted(conn, payload, True)

    async def user_unmute(self, conn: Conn, payload: Payload) -> Payload:
        return await self._set_muted(conn, payload, False)

    # -- the cohost seat -----------------------------------------------------------------

    async def cohost_invite(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        invite = await self.app[COHOST].invite(
            await self._joined(conn), user, payload.get("username")
        )
        sent = invite.to_dict()
        # extension: expires_at_ms, which the studio counts down to
        return {
            "invite": {
                "id": sent["invite_id"],
                "username": sent["username"],
                "expires_at_ms": sent["expires_at_ms"],
            }
        }

    async def cohost_respond(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        stream = await self.app[COHOST].respond(
            user, payload.get("invite_id"), payload.get("accept")
        )
        return {"stream": stream.to_dict()} if stream is not None else {}

    async def cohost_remove(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        removed = await self.app[COHOST].remove(await self._joined(conn), user)
        return {"removed": removed}

    async def cohost_cancel(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        stream = await self._joined(conn)
        invite = await self.app[COHOST].cancel(stream, user, payload.get("invite_id"))
        return {"invite_id": invite.id, "username": invite.username}

    async def cohost_leave(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        await self.app[COHOST].leave(await self._joined(conn), user)
        return {}

    async def cohost_media(self, conn: Conn, payload: Payload) -> Payload:
        """The seated cohost reports their publishing state; the host sees it."""
        user = _signed_in(conn)
        stream = await self._joined(conn)
        require_role(stream, user, "cohost")
        state = payload.get("state")
        if state not in COHOST_MEDIA_STATES:
            raise invalid_field("state", f"one of {', '.join(sorted(COHOST_MEDIA_STATES))}")
        report = {"stream_id": stream.id, "username": stream.cohost, "state": state}
        await self.sio.emit("cohost:media", report, room=seat_room(stream.id, stream.host))
        return {}

    # -- selling ---------------------------------------------------------------------------

    async def auction_bid(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        listing_id = payload.get("listing_id")
        if not isinstance(listing_id, str) or not 1 <= len(listing_id) <= 64:
            raise invalid_field("listing_id", "must be a listing id")
        auction = await self.app[AUCTIONS].bid(
            listing_id, user, payload.get("amount_cents"), payload.get("max_cents")
        )
        return {"auction": auction}

    async def giveaway_enter(self, conn: Conn, payload: Payload) -> Payload:
        user = _signed_in(conn)
        giveaway = await self.app[GIVEAWAYS].enter(payload.get("giveaway_id"), user, conn.stream_id)
        return {"giveaway": giveaway.to_dict()}


def create_server(
    redis_url: str | None,
    redis_timeout: float = 2.0,
    batch_ms: int = 0,
    batch_min_receivers: int = 1,
    queue_limit: int = QUEUE_LIMIT,
) -> socketio.AsyncServer:
    """The Socket.IO server; with Redis its emits reach every process's clients.

    Emits travel through Redis even to this process's clients: while Redis is down
    they are dropped (publishing gives up after `redis_timeout`, it never hangs), and
    the manager's listener resubscribes by itself once Redis is back. `batch_ms` > 0
    coalesces emits to `batch_min_receivers` or more (signaling/fanout.py). A client
    with `queue_limit` packets waiting for it is dropped.
    """
    use_prompt_sockets()
    bounded = {"socket_timeout": redis_timeout, "socket_connect_timeout": redis_timeout}
    manager = DirectRedisFanout(redis_url, redis_options=bounded) if redis_url else DirectFanout()
    manager.batch_seconds = batch_ms / 1000
    manager.batch_min_receivers = batch_min_receivers
    server = PromptServer(
        async_mode="aiohttp",
        client_manager=manager,
        serializer=JsonPacket,
        json=BoundedJson,
        cors_allowed_origins=None,  # same origin only (clients without Origin are fine)
        logger=False,
        engineio_logger=False,
    )
    server.ordered_events = ORDERED_EVENTS
    server.eio.queue_limit = queue_limit  # read by PromptSocket._queue
    return server


def setup(app: web.Application, sio: socketio.AsyncServer) -> Realtime:
    """Attach Socket.IO at /socket.io/ and serve the browser client under /vendor/socket.io/."""
    realtime = Realtime(app, sio)
    sio.attach(app)
    app.router.add_get(
        "/vendor/socket.io/{file}", vendor_files(NODE_MODULES / "socket.io-client" / "dist")
    )
    return realtime
