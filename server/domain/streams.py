"""Streams: lifecycle (scheduled -> live -> ended), roles and the single cohost seat."""

from __future__ import annotations

import dataclasses
import inspect
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, cast

from server.domain.errors import ApiError, conflict, forbidden, invalid_field, not_found
from server.domain.events import CohostChanged, EventBus, StreamStatusChanged
from server.domain.times import epoch_ms, format_time, parse_time, utc_now
from server.domain.validation import text_field

Kind = Literal["video", "audio"]
Status = Literal["scheduled", "rehearsal", "live", "ended"]
Role = Literal["host", "cohost", "viewer"]

KINDS: tuple[str, ...] = ("video", "audio")
TITLE_MAX = 120
DESCRIPTION_MAX = 2000


@dataclass(frozen=True)
class Stream:
    """One stream as stored, plus the live viewer count filled in by the service."""

    id: str
    title: str
    description: str
    kind: Kind
    status: Status
    host: str
    cohost: str | None
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    viewers: int = 0
    sharer_commission_percent: int = 0
    cover: str | None = None  # file name under the covers folder
    pinned: dict[str, Any] | None = None  # {"text", "by", "at"}
    restarted_at: datetime | None = None
    live_ms: int = 0  # time live over the finished stretches
    slow_mode_seconds: int = 0
    blocked_words: tuple[str, ...] = ()  # never sent to clients
    raided_to: str | None = None
    reminders: int = 0

    @property
    def cover_url(self) -> str | None:
        return None if self.cover is None else f"/covers/{self.cover}"

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `stream` object (v1 fields, v2 lifecycle fields, `*_ms` times)."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "status": self.status,
            "host": self.host,
            "cohost": self.cohost,
            "viewers": self.viewers,
            "sharer_commission_percent": self.sharer_commission_percent,
            "scheduled_at": format_time(self.scheduled_at),
            "started_at": format_time(self.started_at),
            "ended_at": format_time(self.ended_at),
            "cover_url": self.cover_url,
            "reminders": self.reminders,
            "pinned": self.pinned,
            "restarted_at": format_time(self.restarted_at),
            "scheduled_at_ms": epoch_ms(self.scheduled_at),
            "started_at_ms": epoch_ms(self.started_at),
            "ended_at_ms": epoch_ms(self.ended_at),
            "restarted_at_ms": epoch_ms(self.restarted_at),
            "slow_mode_seconds": self.slow_mode_seconds,
            "raided_to": self.raided_to,
        }


class StreamStore(Protocol):
    """What the stream service needs from storage; each write is atomic."""

    async def insert_stream(self, stream: Stream) -> None: ...

    async def get_stream(self, stream_id: str) -> Stream | None: ...

    async def mark_live(self, stream_id: str, at: datetime) -> bool:
        """scheduled or rehearsal -> live; False when the stream was neither."""
        ...

    async def mark_rehearsal(self, stream_id: str) -> bool:
        """scheduled -> rehearsal; False when the stream was not scheduled."""
        ...

    async def mark_restarted(self, stream_id: str, at: datetime, ended_after: datetime) -> bool:
        """ended -> live if it ended after `ended_after` and was not paid out; False
        otherwise."""
        ...

    async def paid_out(self, stream_id: str) -> bool:
        """Whether the stream's revenue was paid out (it may not go live again)."""
        ...

    async def mark_ended(self, stream_id: str, at: datetime) -> tuple[bool, str | None]:
        """(scheduled|live) -> ended and free the seat; returns (changed, previous cohost)."""
        ...

    async def take_seat(self, stream_id: str, username: str) -> bool:
        """Seat `username` only if the seat is free and the stream not ended."""
        ...

    async def clear_seat(self, stream_id: str, expected: str | None) -> str | None:
        """Empty the seat (only if held by `expected`, when given); returns who left."""
        ...


def same_user(a: str | None, b: str | None) -> bool:
    """Usernames are unique case-insensitively, so compare them that way."""
    return a is not None and b is not None and a.casefold() == b.casefold()


def scheduled_at_field(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("scheduled_at", "must be an ISO 8601 string or null")
    try:
        return parse_time(value)
    except ValueError:
        raise invalid_field("scheduled_at", "must be an ISO 8601 time") from None


def kind_field(kind: object) -> Kind:
    if kind is None:
        return "video"
    if kind in KINDS:
        return cast(Kind, kind)
    raise invalid_field("kind", "must be 'video' or 'audio'")


# Another area's live fields of the `stream` object (e.g. the sharer commission).
Filler = Callable[[Stream], Awaitable[Stream]]


class StreamService:
    """Stream use cases; publishes StreamStatusChanged and CohostChanged on the bus."""

    def __init__(
        self,
        store: StreamStore,
        events: EventBus,
        restart_window_seconds: float = 7200,
        viewer_count: Callable[[str], int | Awaitable[int]] = lambda _stream_id: 0,
        fillers: Sequence[Filler] = (),
    ) -> None:
        self._store = store
        self._events = events
        self.restart_window = timedelta(seconds=restart_window_seconds)
        # Live audience size: the realtime presence count (a coroutine when the count
        # lives in Redis).
        self.viewer_count = viewer_count
        self._fillers = tuple(fillers)

    async def with_viewers(self, stream: Stream) -> Stream:
        count = self.viewer_count(stream.id)
        if inspect.isawaitable(count):
            count = await count
        stream = dataclasses.replace(stream, viewers=count)
        for fill in self._fillers:
            stream = await fill(stream)
        return stream

    async def create(
        self,
        host: str,
        title: object,
        description: object = "",
        kind: object = "video",
        scheduled_at: object = None,
    ) -> Stream:
        """A new scheduled stream hosted by `host`; 400 `invalid_field` on bad input."""
        description = "" if description is None else description
        stream = Stream(
            id=secrets.token_urlsafe(9),
            title=text_field("title", title, min_len=1, max_len=TITLE_MAX),
            description=text_field(
                "description", description, min_len=0, max_len=DESCRIPTION_MAX, multiline=True
            ),
            kind=kind_field(kind),
            status="scheduled",
            host=host,
            cohost=None,
            scheduled_at=scheduled_at_field(scheduled_at),
            started_at=None,
            ended_at=None,
            created_at=utc_now(),
        )
        await self._store.insert_stream(stream)
        return await self.with_viewers(stream)

    async def get(self, stream_id: str) -> Stream:
        """The stream, or 404 `stream_not_found`."""
        return await self.with_viewers(await self.stored(stream_id))

    async def stored(self, stream_id: str) -> Stream:
        """The stream as stored (status, host, cohost) without its live fields (viewers,
        fillers): enough for a role check on a hot path; 404 like `get`."""
        stream = await self._store.get_stream(stream_id)
        if stream is None:
            raise not_found(f"no stream {stream_id!r}", "stream_not_found")
        return stream

    async def _hosted(self, stream_id: str, user: str) -> Stream:
        stream = await self.get(stream_id)
        if not same_user(stream.host, user):
            raise forbidden("only the host may do this")
        return stream

    async def start(self, stream_id: str, user: str) -> Stream:
        """Go live (host only) from `scheduled` or `rehearsal`; from `ended` within the
        restart window (same id, chat and listings kept), later 409
        `restart_window_passed`; never once paid out (409 `already_paid`). Idempotent
        when live."""
        stream = await self._hosted(stream_id, user)
        if stream.status == "live":
            return stream
        now = utc_now()
        if stream.status == "ended":
            changed = await self._store.mark_restarted(stream_id, now, now - self.restart_window)
            if not changed:
                stream = await self.get(stream_id)
                if stream.status == "live":
                    return stream
                if stream.started_at is None:  # cancelled before it ever went live
                    raise conflict("stream_ended", "the stream has ended")
                if await self._store.paid_out(stream_id):
                    raise conflict(
                        "already_paid", "this show was paid out; it cannot go live again"
                    )
                raise conflict(
                    "restart_window_passed",
                    f"a show restarts only within {self.restart_window} of its end",
                )
        else:
            changed = await self._store.mark_live(stream_id, now)
        stream = await self.get(stream_id)
        if not changed:  # lost a race: ended or started meanwhile
            if stream.status == "ended":
                raise conflict("stream_ended", "the stream has ended")
            return stream
        await self._events.publish(StreamStatusChanged(stream))
        return stream

    async def rehearse(self, stream_id: str, user: str) -> Stream:
        """scheduled -> rehearsal (host only): media flows for host and cohost, viewers
        wait, nothing sells. Idempotent while rehearsing; 409 from another status."""
        stream = await self._hosted(stream_id, user)
        if stream.status == "rehearsal":
            return stream
        if not await self._store.mark_rehearsal(stream_id):
            stream = await self.get(stream_id)
            if stream.status == "rehearsal":
                return stream
            raise conflict("stream_not_scheduled", f"the stream is {stream.status}")
        stream = await self.get(stream_id)
        await self._events.publish(StreamStatusChanged(stream))
        return stream

    async def end(self, stream_id: str, user: str) -> Stream:
        """End the stream (host only) and free the cohost seat. Idempotent once ended."""
        await self._hosted(stream_id, user)
        changed, previous = await self._store.mark_ended(stream_id, utc_now())
        stream = await self.get(stream_id)
        if changed:
            if previous is not None:
                await self._events.publish(CohostChanged(stream_id, None, previous))
            await self._events.publish(StreamStatusChanged(stream))
        return stream

    @staticmethod
    def role_of(stream: Stream, username: str | None) -> Role:
        """What `username` (None: anonymous) is in this stream."""
        if same_user(stream.host, username):
            return "host"
        if same_user(stream.cohost, username):
            return "cohost"
        return "viewer"

    async def seat_cohost(self, stream_id: str, username: str) -> Stream:
        """Put `username` in the cohost seat atomically.

        409 `cohost_seat_taken` when someone else holds it, `stream_ended` after the
        end; 400 `invalid_field` for the host. Seating the current cohost again is a no-op.
        """
        stream = await self.get(stream_id)
        if same_user(stream.host, username):
            raise invalid_field("username", "the host cannot be their own cohost")
        if not await self._store.take_seat(stream_id, username):
            stream = await self.get(stream_id)
            if stream.status == "ended":
                raise conflict("stream_ended", "the stream has ended")
            if same_user(stream.cohost, username):
                return stream
            raise conflict("cohost_seat_taken", "the cohost seat is taken")
        await self._events.publish(CohostChanged(stream_id, username, None))
        return await self.get(stream_id)

    async def free_seat(self, stream_id: str, expected: str | None = None) -> str | None:
        """Empty the cohost seat; with `expected`, only if that user holds it.

        Returns who left (None when nothing changed); 404 for an unknown stream.
        """
        await self.get(stream_id)
        previous = await self._store.clear_seat(stream_id, expected)
        if previous is not None:
            await self._events.publish(CohostChanged(stream_id, None, previous))
        return previous


def require_role(stream: Stream, username: str | None, *roles: Role) -> Role:
    """The user's role if it is one of `roles`, else 403 `forbidden`."""
    role = StreamService.role_of(stream, username)
    if role not in roles:
        raise ApiError(403, "forbidden", f"only the {' or '.join(roles)} may do this")
    return role
