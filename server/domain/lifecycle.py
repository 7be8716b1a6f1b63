"""Around the camera: details before live, cover, pin, moderators, chat settings, raid,
discovery. Going live, rehearsing and restarting are StreamService's."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from server.domain.errors import conflict, invalid_field, not_found
from server.domain.events import (
    ChatSettingsChanged,
    EventBus,
    ModeratorsChanged,
    Pinned,
    Raided,
)
from server.domain.streams import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    Stream,
    StreamService,
    kind_field,
    require_role,
    same_user,
    scheduled_at_field,
)
from server.domain.times import format_time, utc_now
from server.domain.validation import int_field, text_field

if TYPE_CHECKING:
    from server.stores.sql_lifecycle import LifecycleStore

PIN_MAX = 200
SLOW_MODE_MAX = 3600
BLOCKED_WORDS_MAX = 100
BLOCKED_WORD_MAX = 40
LIST_LIMIT = 50
DISCOVERABLE = ("live", "scheduled")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _blocked_words(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > BLOCKED_WORDS_MAX:
        raise invalid_field("blocked_words", f"must be a list of at most {BLOCKED_WORDS_MAX}")
    words: dict[str, str] = {}
    for item in value:
        word = text_field("blocked_words", item, min_len=1, max_len=BLOCKED_WORD_MAX)
        words.setdefault(word.casefold(), word)
    return tuple(words.values())


def email_field(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 254 or not EMAIL_RE.fullmatch(value):
        raise invalid_field("email", "must be an e-mail address")
    return value


class LifecycleService:
    """Lifecycle use cases; every refusal changes nothing."""

    def __init__(
        self, streams: StreamService, store: LifecycleStore, users: Any, events: EventBus
    ) -> None:
        self._streams = streams
        self._store = store
        self._users = users  # AccountService: find(username) -> canonical or None
        self._events = events

    async def _before_live(self, stream_id: str, user: str) -> Stream:
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        if stream.status not in ("scheduled", "rehearsal"):
            raise conflict("stream_not_editable", f"the stream is {stream.status}")
        return stream

    async def update_details(self, stream_id: str, user: str, body: dict[str, Any]) -> Stream:
        """PATCH title/description/kind/scheduled_at (host, before live)."""
        await self._before_live(stream_id, user)
        fields: dict[str, Any] = {}
        if "title" in body:
            fields["title"] = text_field("title", body["title"], min_len=1, max_len=TITLE_MAX)
        if "description" in body:
            fields["description"] = text_field(
                "description",
                body["description"] if body["description"] is not None else "",
                min_len=0,
                max_len=DESCRIPTION_MAX,
                multiline=True,
            )
        if "kind" in body:
            fields["kind"] = kind_field(body["kind"])
        if "scheduled_at" in body:
            fields["scheduled_at"] = scheduled_at_field(body["scheduled_at"])
        if fields and not await self._store.update_details(stream_id, fields):
            raise conflict("stream_not_editable", "the stream went live meanwhile")
        return await self._streams.get(stream_id)

    async def editable_by_host(self, stream_id: str, user: str) -> Stream:
        """The stream when `user` hosts it (the cover may change at any time)."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        return stream

    async def set_cover(self, stream_id: str, cover: str) -> tuple[Stream, str | None]:
        """Point the stream at a stored cover file; returns (stream, previous file)."""
        previous = await self._store.set_cover(stream_id, cover)
        return await self._streams.get(stream_id), previous

    # -- reminders -----------------------------------------------------------------------

    async def remind(self, stream_id: str, user: str, email: object) -> int:
        address = email_field(email)
        stream = await self._streams.get(stream_id)
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        return await self._store.add_reminder(stream.id, user, address, utc_now())

    async def forget_reminder(self, stream_id: str, user: str) -> int:
        stream = await self._streams.get(stream_id)
        return await self._store.remove_reminder(stream.id, user)

    async def reminded(self, stream_id: str, user: str | None) -> bool:
        return user is not None and await self._store.has_reminder(stream_id, user)

    # -- the room: pin, moderators, chat settings ----------------------------------------

    async def pin(self, stream_id: str, user: str, text: object) -> Stream:
        stream = await self._streams.get(stream_id)
        role = require_role(stream, user, "host", "cohost")
        clean = text_field("text", text, min_len=1, max_len=PIN_MAX)
        by = stream.host if role == "host" else stream.cohost
        pinned = {"text": clean, "by": by, "at": format_time(utc_now())}
        await self._store.set_pinned(stream.id, pinned)
        await self._events.publish(Pinned(stream.id, pinned))
        return await self._streams.get(stream.id)

    async def unpin(self, stream_id: str, user: str) -> Stream:
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host", "cohost")
        await self._store.set_pinned(stream.id, None)
        await self._events.publish(Pinned(stream.id, None))
        return await self._streams.get(stream.id)

    async def is_moderator(self, stream: Stream, user: str | None) -> bool:
        return user is not None and await self._store.is_moderator(stream.id, user)

    async def moderators(self, stream_id: str) -> list[str]:
        return await self._store.moderators(stream_id)

    async def set_moderator(
        self, stream_id: str, user: str, username: str, appointed: bool
    ) -> list[str]:
        """Appoint or dismiss a moderator (host); returns the moderators now."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        found = await self._users.find(username)
        if found is None:
            raise not_found(f"no user {username!r}", "user_not_found")
        if same_user(found, stream.host):
            raise invalid_field("username", "the host moderates already")
        if appointed:
            await self._store.add_moderator(stream.id, found)
        else:
            await self._store.remove_moderator(stream.id, found)
        moderators = await self._store.moderators(stream.id)
        await self._events.publish(ModeratorsChanged(stream.id, found, appointed))
        return moderators

    async def require_moderation(self, stream: Stream, user: str) -> None:
        """Host, or a moderator of this stream; else 403."""
        if same_user(stream.host, user) or await self.is_moderator(stream, user):
            return
        require_role(stream, user, "host")  # raises the protocol's 403

    async def update_chat(self, stream_id: str, user: str, body: dict[str, Any]) -> Stream:
        """PATCH slow mode and blocked words (host or moderator)."""
        stream = await self._streams.get(stream_id)
        await self.require_moderation(stream, user)
        slow = stream.slow_mode_seconds
        words = stream.blocked_words
        if "slow_mode_seconds" in body:
            slow = int_field(
                "slow_mode_seconds", body["slow_mode_seconds"], low=0, high=SLOW_MODE_MAX
            )
        if "blocked_words" in body:
            words = _blocked_words(body["blocked_words"])
        await self._store.set_chat_settings(stream.id, slow, words)
        await self._events.publish(ChatSettingsChanged(stream.id, slow))
        return await self._streams.get(stream.id)

    # -- raid ----------------------------------------------------------------------------

    async def raid(self, stream_id: str, user: str, to_stream_id: object) -> Stream:
        """Send this show's viewers to another live show, then end this one."""
        stream = await self._streams.get(stream_id)
        require_role(stream, user, "host")
        if not isinstance(to_stream_id, str) or not 1 <= len(to_stream_id) <= 64:
            raise invalid_field("to_stream_id", "must be a stream id")
        if to_stream_id == stream.id:
            raise invalid_field("to_stream_id", "a show cannot raid itself")
        target = await self._streams.get(to_stream_id)
        for show in (stream, target):
            if show.status != "live":
                raise conflict("stream_not_live", f"stream {show.id} is {show.status}")
        await self._store.set_raided(stream.id, target.id)
        await self._events.publish(Raided(stream.id, target))
        return await self._streams.end(stream.id, user)

    # -- discovery -----------------------------------------------------------------------

    async def discover(self, status: str | None) -> list[Stream]:
        """Live and scheduled shows (or one of the two), with viewer counts."""
        if status is not None and status not in DISCOVERABLE:
            raise invalid_field("status", "must be 'live' or 'scheduled'")
        found: list[Stream] = []
        for wanted in (status,) if status else DISCOVERABLE:
            for stream in await self._store.streams_with_status(wanted, LIST_LIMIT):
                found.append(await self._streams.with_viewers(stream))
        return found
