"""The cohost seat: the host invites, the invitee answers, the host removes or the cohost leaves.

The invite state and the seat claim are one atomic step of the SeatStore (a
Redis script when several processes run); the database seat is written after,
behind its own atomic guard (StreamService.seat_cohost). The database owns the
seat: the claim is the fast, cross-process gate in front of it, and a claim the
database does not back (a process died between the two writes) is given back
at the next invite instead of blocking the seat for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from server.domain.chat import UserLookup
from server.domain.errors import ApiError, conflict, invalid_field, not_found
from server.domain.events import (
    CohostChanged,
    Event,
    EventBus,
    InviteCancelled,
    InviteDeclined,
    InviteExpired,
    InviteSent,
)
from server.domain.streams import Stream, StreamService, require_role, same_user
from server.domain.validation import id_field

log = logging.getLogger(__name__)

# An answered or expired invite is remembered this long, so a late answer gets
# `invite_expired` rather than `invite_not_found`.
INVITE_GRACE_SECONDS = 600.0

Outcome = Literal["accepted", "declined", "expired", "seat_taken", "not_found"]


@dataclass(frozen=True)
class Invite:
    """An open offer of the cohost seat to `username`."""

    id: str
    stream_id: str
    host: str
    username: str
    expires_at: float  # epoch seconds

    def to_dict(self) -> dict[str, Any]:
        """The `cohost:invited` payload (and `pending_invite` of a join)."""
        return {
            "invite_id": self.id,
            "stream_id": self.stream_id,
            "host": self.host,
            "username": self.username,
            # extension: the invitee's popup counts down to it (server clock, ms)
            "expires_at_ms": int(self.expires_at * 1000),
        }

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Invite:
        return cls(
            **{k: record[k] for k in ("id", "stream_id", "host", "username")},
            expires_at=float(record["expires_at"]),
        )


class SeatStore(Protocol):
    """Invites and the seat claim; each method is one atomic step."""

    async def open_invite(self, invite: Invite, keep_seconds: float) -> bool:
        """Record `invite` (replacing the user's previous one in that stream) unless the
        seat is held; False when it is held."""
        ...

    async def pending_invite(self, stream_id: str, username: str, now: float) -> Invite | None:
        """The user's unexpired invite to this stream."""
        ...

    async def open_invites(self, stream_id: str, now: float) -> list[Invite]:
        """The stream's unanswered, unexpired invites, oldest first."""
        ...

    async def answer_invite(
        self, invite_id: str, username: str, accept: bool, now: float
    ) -> tuple[Outcome, Invite | None]:
        """Consume the invite if it is `username`'s; on accept, claim the seat for them
        unless someone else holds it."""
        ...

    async def get_invite(self, invite_id: str) -> Invite | None:
        """The invite if it is not answered yet (expired ones are kept for a grace period)."""
        ...

    async def release_seat(self, stream_id: str, username: str | None) -> bool:
        """Free the seat claim (only if `username` holds it, when given)."""
        ...

    async def seat_holder(self, stream_id: str) -> str | None: ...


class CohostService:
    """Invites and the seat. Publishes InviteSent/Declined/Expired; the seat changes
    themselves are published by StreamService as CohostChanged."""

    def __init__(
        self,
        streams: StreamService,
        seats: SeatStore,
        users: UserLookup,
        events: EventBus,
        invite_ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._streams = streams
        self._seats = seats
        self._users = users
        self._events = events
        self._ttl = invite_ttl
        self._clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        events.subscribe(self._on_event)

    async def invite(self, stream: Stream, host: str, username: object) -> Invite:
        """Offer the seat to `username`: host only; 409 when the seat is taken."""
        require_role(stream, host, "host")
        if not isinstance(username, str) or not username:
            raise invalid_field("username", "must be a username")
        found = await self._users.find(username.removeprefix("@"))
        if found is None:
            raise not_found(f"no user {username!r}", "user_not_found")
        if same_user(found, stream.host):
            raise invalid_field("username", "the host cannot be their own cohost")
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        if stream.cohost is not None:
            raise _seat_taken()
        invite = Invite(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            host=stream.host,
            username=found,
            expires_at=self._clock() + self._ttl,
        )
        ttl = self._ttl + INVITE_GRACE_SECONDS
        if not await self._seats.open_invite(invite, ttl):
            if not await self._drop_stale_claim(stream.id):
                raise _seat_taken()
            if not await self._seats.open_invite(invite, ttl):
                raise _seat_taken()
        self._schedule_expiry(invite)
        await self._events.publish(InviteSent(invite))
        return invite

    async def _drop_stale_claim(self, stream_id: str) -> bool:
        """Free a seat claim the database does not back; True if one was freed.

        An acceptance between its claim and its database write looks the same for
        those milliseconds: freeing its claim is harmless, since the database's guard
        still seats exactly one cohost."""
        holder = await self._seats.seat_holder(stream_id)
        if holder is None or (await self._streams.get(stream_id)).cohost is not None:
            return False
        log.warning("stream %s: seat claim of %s has no cohost behind it; freed", stream_id, holder)
        return await self._seats.release_seat(stream_id, holder)

    async def pending(self, stream_id: str, username: str | None) -> Invite | None:
        """The user's open invite to this stream, if any."""
        if username is None:
            return None
        return await self._seats.pending_invite(stream_id, username, self._clock())

    async def sent(self, stream: Stream, user: str | None) -> list[Invite]:
        """The host's unanswered invites to this stream (nobody else's business)."""
        if user is None or not same_user(user, stream.host):
            return []
        return await self._seats.open_invites(stream.id, self._clock())

    async def respond(self, user: str, raw_id: object, accept: object) -> Stream | None:
        """The invitee answers. Accept seats them (the stream afterwards); decline tells
        the host. 404 `invite_not_found`, 409 `invite_expired` / `cohost_seat_taken`."""
        invite_id = id_field("invite_id", raw_id, "an invite id")
        if not isinstance(accept, bool):
            raise invalid_field("accept", "must be true or false")
        outcome, invite = await self._seats.answer_invite(invite_id, user, accept, self._clock())
        self._cancel_expiry(invite_id)
        if outcome == "not_found" or invite is None:
            raise not_found("no such invite for you", "invite_not_found")
        if outcome == "expired":
            raise conflict("invite_expired", "the invite has expired")
        if outcome == "seat_taken":
            raise _seat_taken()
        if outcome == "declined":
            await self._events.publish(InviteDeclined(invite))
            return None
        try:
            return await self._streams.seat_cohost(invite.stream_id, invite.username)
        except ApiError:
            # The database refused (stream ended, or seated outside the invite flow):
            # give the claim back so the seat is not blocked.
            await self._seats.release_seat(invite.stream_id, invite.username)
            raise

    async def cancel(self, stream: Stream, host: str, raw_id: object) -> Invite:
        """The host withdraws an unanswered invite to this stream (the invitee's later
        answer gets 404 `invite_not_found`). 404 `invite_not_found` when there is no
        such open invite (answered, or another stream's); 409 `invite_expired`."""
        require_role(stream, host, "host")
        invite_id = id_field("invite_id", raw_id, "an invite id")
        invite = await self._seats.get_invite(invite_id)
        if invite is None or invite.stream_id != stream.id:
            raise not_found("no open invite with that id on this stream", "invite_not_found")
        # Taken back the way a decline takes it: atomically, so an acceptance racing
        # this either seats the invitee (we answer 404) or finds the invite gone.
        outcome, _ = await self._seats.answer_invite(
            invite_id, invite.username, False, self._clock()
        )
        if outcome == "not_found":
            raise not_found("the invite was answered meanwhile", "invite_not_found")
        self._cancel_expiry(invite_id)
        if outcome == "expired":
            raise conflict("invite_expired", "the invite has expired")
        await self._events.publish(InviteCancelled(invite))
        return invite

    async def remove(self, stream: Stream, host: str) -> str:
        """The host frees the seat; returns who was removed. 409 `no_cohost`."""
        require_role(stream, host, "host")
        return await self._free(stream, None)

    async def leave(self, stream: Stream, user: str) -> str:
        """The cohost gives up the seat."""
        require_role(stream, user, "cohost")
        return await self._free(stream, user)

    async def _free(self, stream: Stream, expected: str | None) -> str:
        previous = await self._streams.free_seat(stream.id, expected or stream.cohost)
        if previous is None:
            raise conflict("no_cohost", "nobody holds the cohost seat")
        return previous

    async def _on_event(self, event: Event) -> None:
        # However the database seat was freed (remove, leave, end of stream), free the claim.
        if isinstance(event, CohostChanged) and event.previous is not None:
            await self._seats.release_seat(event.stream_id, event.previous)

    def _schedule_expiry(self, invite: Invite) -> None:
        self._cancel_expiry(invite.id)
        delay = max(0.0, invite.expires_at - self._clock())
        self._timers[invite.id] = asyncio.get_running_loop().call_later(
            delay, self._spawn_expiry, invite.id
        )

    def _spawn_expiry(self, invite_id: str) -> None:
        self._timers.pop(invite_id, None)
        task = asyncio.create_task(self._expire(invite_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, invite_id: str) -> None:
        try:
            # Still unanswered: any answer from now on gets `invite_expired`.
            invite = await self._seats.get_invite(invite_id)
            if invite is not None:
                await self._events.publish(InviteExpired(invite))
        except Exception:
            log.exception("expiring invite %s failed", invite_id)

    def _cancel_expiry(self, invite_id: str) -> None:
        timer = self._timers.pop(invite_id, None)
        if timer is not None:
            timer.cancel()

    async def close(self) -> None:
        """Stop the expiry timers (invites stay recorded and expire by time)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _seat_taken() -> ApiError:
    return conflict("cohost_seat_taken", "the cohost seat is taken")
