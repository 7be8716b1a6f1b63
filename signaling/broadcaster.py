"""Domain events -> Socket.IO emits. The only place that decides who hears what.

Rooms: `stream:{id}` (everyone joined), `user:{name}` (every connection of a
signed-in user, anywhere), `stream:{id}:user:{name}` (that user in that stream).
Emits to rooms reach other processes through the client manager (Redis).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

from server.domain.chat import user_key
from server.domain.cohost import Invite
from server.domain.events import (
    AuctionEnded,
    AuctionOutbid,
    AuctionStarted,
    AuctionUpdated,
    ChatHidden,
    ChatPosted,
    ChatSettingsChanged,
    CohostChanged,
    CohostDropped,
    Event,
    EventBus,
    GiveawayEnded,
    GiveawayStarted,
    GiveawayUpdated,
    InviteCancelled,
    InviteDeclined,
    InviteExpired,
    InviteSent,
    ListingCreated,
    ListingPresented,
    ListingUpdated,
    ModeratorsChanged,
    OrderPlaced,
    Pinned,
    PresenceChanged,
    QrCodeShown,
    Raided,
    RemindersDue,
    SeatMediaChanged,
    StreamStatusChanged,
    UserMuted,
)
from server.domain.presence import PresenceService

log = logging.getLogger(__name__)

# `viewers` goes out at most this often per stream (per process).
VIEWERS_INTERVAL = 0.25


def stream_room(stream_id: str) -> str:
    return f"stream:{stream_id}"


def user_room(username: str) -> str:
    return f"user:{user_key(username)}"


def seat_room(stream_id: str, username: str) -> str:
    """One user's connections in one stream (where `cohost:invited` is delivered)."""
    return f"stream:{stream_id}:user:{user_key(username)}"


def _answer(invite: Invite) -> dict[str, Any]:
    """What the host learns about an invite that was declined or expired."""
    return {"invite_id": invite.id, "username": invite.username, "stream_id": invite.stream_id}


class Broadcaster:
    """Subscribes to the bus and emits the protocol's server -> client events."""

    def __init__(self, sio: socketio.AsyncServer, presence: PresenceService) -> None:
        self._sio = sio
        self._presence = presence
        self._dirty: set[str] = set()
        self._sent_counts: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def follow(self, events: EventBus) -> None:
        events.subscribe(self.on_event)

    async def _emit(self, event: str, data: dict[str, Any], room: str | list[str]) -> None:
        await self._sio.emit(event, data, to=room)

    async def on_event(self, event: Event) -> None:
        match event:
            case StreamStatusChanged(stream=stream):
                await self._emit(
                    "stream:status", {"stream": stream.to_dict()}, stream_room(stream.id)
                )
            case CohostChanged(stream_id=stream_id, cohost=cohost, previous=previous):
                await self._emit(
                    "cohost:changed",
                    {"cohost": cohost, "stream_id": stream_id},
                    stream_room(stream_id),
                )
                if previous is not None:
                    await self._emit(
                        "cohost:removed", {"stream_id": stream_id}, user_room(previous)
                    )
            case SeatMediaChanged():
                await self._seat_media(event)
            case CohostDropped(stream_id=stream_id, username=username, host=host):
                await self._emit(
                    "cohost:dropped",
                    {"stream_id": stream_id, "username": username, "reason": "media_lost"},
                    seat_room(stream_id, host),
                )
            case ChatPosted(message=message):
                payload = message.to_dict()
                await self._emit("chat:message", payload, stream_room(message.stream_id))
                for name in message.mentions:
                    if user_key(name) != user_key(message.user):
                        await self._emit("mention", {"message": payload}, user_room(name))
            case ChatHidden(stream_id=stream_id, message_id=message_id):
                await self._emit(
                    "chat:hidden",
                    {"id": message_id, "stream_id": stream_id},
                    stream_room(stream_id),
                )
            case UserMuted(stream_id=stream_id, username=username, muted=muted):
                name = "user:muted" if muted else "user:unmuted"
                await self._emit(name, {"stream_id": stream_id}, user_room(username))
            case InviteSent(invite=invite):
                await self._emit(
                    "cohost:invited", invite.to_dict(), seat_room(invite.stream_id, invite.username)
                )
                # Every tab of the host's shows it pending, not only the one that sent it.
                await self._emit("cohost:invite_sent", invite.to_dict(), user_room(invite.host))
            case InviteDeclined(invite=invite):
                await self._emit("cohost:declined", _answer(invite), user_room(invite.host))
            case InviteExpired(invite=invite):
                # The invitee's popup closes too (an answer now would be refused).
                room = seat_room(invite.stream_id, invite.username)
                await self._emit("cohost:invite_expired", invite.to_dict(), room)
                await self._emit("cohost:invite_expired", _answer(invite), user_room(invite.host))
            case InviteCancelled(invite=invite):
                # The invitee's popup closes; the host's other tabs stop waiting.
                room = seat_room(invite.stream_id, invite.username)
                await self._emit("cohost:invite_cancelled", invite.to_dict(), room)
                await self._emit("cohost:invite_cancelled", _answer(invite), user_room(invite.host))
            case ListingCreated(listing=listing):
                await self._listing("listing:created", listing.stream_id, listing.to_dict())
            case ListingUpdated(listing=listing):
                await self._listing("listing:updated", listing.stream_id, listing.to_dict())
            case ListingPresented(listing=listing):
                await self._listing("listing:presenting", listing.stream_id, listing.to_dict())
            case OrderPlaced(order=order):
                # The buyer is never the host (buying is refused to the host), so each
                # connection is in at most one of the two rooms.
                payload = {"order": order.to_dict()}
                await self._emit("order:created", payload, user_room(order.buyer))
                await self._emit("order:created", payload, user_room(order.seller))
            case QrCodeShown(stream_id=stream_id, host=host, payload=payload, detected_at=at):
                warning = {"stream_id": stream_id, "payload": payload, "detected_at": at}
                await self._emit("qr:detected", warning, user_room(host))
            case AuctionStarted(auction=auction):
                await self._stream_event("auction:started", auction.stream_id, auction=auction)
            case AuctionUpdated(auction=auction):
                await self._stream_event("auction:updated", auction.stream_id, auction=auction)
            case AuctionOutbid(auction=auction, usernames=usernames):
                # One emit to all their rooms: encoded once, one delivery per connection.
                rooms = [user_room(username) for username in usernames]
                await self._emit("auction:outbid", {"auction": auction.to_dict()}, rooms)
            case AuctionEnded(auction=auction, order=order):
                payload = {"auction": auction.to_dict()}
                if order is not None:
                    payload["order"] = order.to_dict()
                await self._emit("auction:ended", payload, stream_room(auction.stream_id))
            case GiveawayStarted(giveaway=giveaway):
                await self._stream_event("giveaway:started", giveaway.stream_id, giveaway=giveaway)
            case GiveawayUpdated(giveaway=giveaway):
                await self._stream_event("giveaway:updated", giveaway.stream_id, giveaway=giveaway)
            case GiveawayEnded(giveaway=giveaway):
                await self._stream_event("giveaway:ended", giveaway.stream_id, giveaway=giveaway)
            case PresenceChanged(stream_id=stream_id):
                self._viewers_later(stream_id)
            case Pinned(stream_id=stream_id, pinned=pinned):
                payload = {"pinned": pinned, "stream_id": stream_id}
                await self._emit("chat:pinned", payload, stream_room(stream_id))
            case ModeratorsChanged(stream_id=stream_id, username=username, appointed=appointed):
                payload = {"stream_id": stream_id, "username": username, "moderator": appointed}
                await self._emit("moderator:changed", payload, stream_room(stream_id))
            case ChatSettingsChanged(stream_id=stream_id, slow_mode_seconds=slow):
                payload = {"stream_id": stream_id, "slow_mode_seconds": slow}
                await self._emit("chat:settings", payload, stream_room(stream_id))
            case Raided(stream_id=stream_id, target=target):
                payload = {"to": target.to_dict(), "stream_id": stream_id}
                await self._emit("raid", payload, stream_room(stream_id))
            case RemindersDue(stream=stream, usernames=usernames):
                # One emit for the batch: each connection of each user gets it once.
                rooms = [user_room(name) for name in usernames]
                if rooms:
                    await self._emit("reminder", {"stream": stream.to_dict()}, rooms)

    async def _seat_media(self, event: SeatMediaChanged) -> None:
        # Everyone sees who is reconnecting; the host also gets the cohost's state in
        # the same shape as the cohost page's own `cohost:media` reports.
        state = "connected" if event.on_air else "reconnecting"
        payload = {"stream_id": event.stream_id, "username": event.username, "state": state}
        await self._emit(
            "stage:media", {**payload, "seat": event.seat}, stream_room(event.stream_id)
        )
        if event.seat == "cohost" and event.username is not None:
            await self._emit("cohost:media", payload, seat_room(event.stream_id, event.host))

    async def _listing(self, event: str, stream_id: str, listing: dict[str, Any]) -> None:
        await self._emit(event, {"listing": listing}, stream_room(stream_id))

    async def _stream_event(self, event: str, stream_id: str, **objects: Any) -> None:
        """`{name: object.to_dict()}` to everyone in the stream."""
        payload = {name: value.to_dict() for name, value in objects.items()}
        await self._emit(event, payload, stream_room(stream_id))

    def _viewers_later(self, stream_id: str) -> None:
        # Coalesce: a burst of joins and leaves becomes one `viewers` per interval.
        if stream_id in self._dirty:
            return
        self._dirty.add(stream_id)
        task = asyncio.create_task(self._send_viewers(stream_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_viewers(self, stream_id: str) -> None:
        try:
            await asyncio.sleep(VIEWERS_INTERVAL)
            self._dirty.discard(stream_id)
            count = await self._presence.count(stream_id)
            if self._sent_counts.get(stream_id) != count:
                self._sent_counts[stream_id] = count
                await self._emit("viewers", {"count": count}, stream_room(stream_id))
            if count == 0:
                self._sent_counts.pop(stream_id, None)
        except Exception:
            log.exception("viewers update for %s failed", stream_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
