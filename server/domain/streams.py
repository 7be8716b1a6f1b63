"""Streams: lifecycle (scheduled -> live -> ended), roles and the single cohost seat."""

from __future__ import annotations

import dataclasses
import inspect
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, cast

from server.domain.errors import ApiError, conflict, forbidden, invalid_field, not_found
from server.domain.times import format_time, parse_time, utc_now
from server.domain.validation import text_field
from server.events import CohostChanged, EventBus, StreamStatusChanged

Kind = Literal["video", "audio"]
Status = Literal["scheduled", "live", "ended"]
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

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `stream` object."""
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
        }


class StreamStore(Protocol):
    """What the stream service needs from storage; each write is atomic."""

    async def insert_stream(self, stream: Stream) -> None: ...

    async def get_stream(self, stream_id: str) -> Stream | None: ...

    async def mark_live(self, stream_id: str, at: datetime) -> bool:
        """scheduled -> live; False when the stream was not scheduled."""
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


def _scheduled_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_field("scheduled_at", "must be an ISO 8601 string or null")
    try:
        return parse_time(value)
    except ValueError:
        raise invalid_field("scheduled_at", "must be an ISO 8601 time") from None


def _kind(kind: object) -> Kind:
    if kind is None:
        return "video"
    if kind in KINDS:
        return cast(Kind, kind)
    raise invalid_field("kind", "must be 'video' or 'audio'")


class StreamService:
    """Stream use cases; publishes StreamStatusChanged and CohostChanged on the bus."""

    def __init__(self, store: StreamStore, events: EventBus) -> None:
        self._store = store
        self._events = events
        # Live audience size; the realtime layer replaces this with its presence count
        # (a coroutine when the count lives in Redis).
        self.viewer_count: Callable[[str], int | Awaitable[int]] = lambda _stream_id: 0
        # Other areas' live fields of the `stream` object (e.g. the sharer commission).
        self.fillers: list[Callable[[Stream], Awaitable[Stream]]] = []

    async def _fill(self, stream: Stream) -> Stream:
        count = self.viewer_count(stream.id)
        if inspect.isawaitable(count):
            count = await count
        stream = dataclasses.replace(stream, viewers=count)
        for fill in self.fillers:
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
            kind=_kind(kind),
            status="scheduled",
            host=host,
            cohost=None,
            scheduled_at=_scheduled_at(scheduled_at),
            started_at=None,
            ended_at=None,
            created_at=utc_now(),
        )
        await self._store.insert_stream(stream)
        return await self._fill(stream)

    async def get(self, stream_id: str) -> Stream:
        """The stream, or 404 `stream_not_found`."""
        stream = await self._store.get_stream(stream_id)
        if stream is None:
            raise not_found(f"no stream {stream_id!r}", "stream_not_found")
        return await self._fill(stream)

    async def _hosted(self, stream_id: str, user: str) -> Stream:
        stream = await self.get(stream_id)
        if not same_user(stream.host, user):
            raise forbidden("only the host may do this")
        return stream

    async def start(self, stream_id: str, user: str) -> Stream:
        """Go live (host only). Idempotent when live; 409 `stream_ended` once ended."""
        stream = await self._hosted(stream_id, user)
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        if stream.status == "live":
            return stream
        changed = await self._store.mark_live(stream_id, utc_now())
        stream = await self.get(stream_id)
        if not changed:  # lost a race: ended or started meanwhile
            if stream.status == "ended":
                raise conflict("stream_ended", "the stream has ended")
            return stream
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
