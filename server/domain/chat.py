"""Live chat: plain-text messages with @mentions, a per-user rate limit, kept history."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from server.domain.errors import ApiError, bad_request, conflict, forbidden
from server.domain.events import ChatPosted, EventBus
from server.domain.streams import Stream, same_user
from server.domain.times import format_time, utc_now
from server.domain.validation import text_field

TEXT_MAX = 500
# Mention lookups per message: bounds the database work a single message can cause.
MENTIONS_MAX = 10
# `@name` not glued to a preceding word character (so e-mail addresses are not mentions).
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class ChatMessage:
    """One accepted chat message."""

    id: str
    stream_id: str
    user: str
    text: str
    mentions: tuple[str, ...]
    ts: datetime

    def to_dict(self) -> dict[str, Any]:
        """The protocol's `chat:message` payload."""
        return {
            "id": self.id,
            "stream_id": self.stream_id,
            "user": self.user,
            "text": self.text,
            "mentions": list(self.mentions),
            "ts": format_time(self.ts),
        }


class ChatLog(Protocol):
    """Persistent chat history (SQLite)."""

    async def add_chat(self, message: ChatMessage, keep: int) -> None:
        """Store `message`, keeping only the newest `keep` of its stream."""
        ...

    async def recent_chat(self, stream_id: str, limit: int) -> list[ChatMessage]:
        """The newest `limit` visible messages, oldest first."""
        ...

    async def hide_chat(self, stream_id: str, message_id: str) -> bool:
        """Remove a message from the history; False when it is unknown."""
        ...


class RateLimiter(Protocol):
    """A sliding-window counter, atomic across processes when shared."""

    async def hit(self, key: str, limit: int, window: float) -> float:
        """Count one action; 0 when allowed, else the seconds until one is allowed."""
        ...


class MuteStore(Protocol):
    """Who is muted in which stream."""

    async def set_muted(self, stream_id: str, username: str, muted: bool) -> None: ...

    async def is_muted(self, stream_id: str, username: str) -> bool: ...


class ModeratorLookup(Protocol):
    """Who the host appointed to moderate a stream."""

    async def is_moderator(self, stream_id: str, username: str) -> bool: ...


class NoModerators:
    """A ModeratorLookup for setups without moderators."""

    async def is_moderator(self, stream_id: str, username: str) -> bool:
        return False


class UserLookup(Protocol):
    """Existing accounts (the AccountService)."""

    async def find(self, username: str) -> str | None:
        """The canonical spelling of an existing username, else None."""
        ...


def user_key(username: str) -> str:
    """Usernames are ASCII and unique case-insensitively: this is their identity."""
    return username.lower()


def chat_text(value: object) -> str:
    """Validated chat text: one line of 1-500 characters. A newline would render as a
    fake line (from the host, say) under the author's."""
    return text_field("text", value, min_len=1, max_len=TEXT_MAX)


def blocked_word_in(text: str, words: tuple[str, ...]) -> str | None:
    """The first blocked word `text` contains as a whole word (case-insensitively)."""
    folded = text.casefold()
    for word in words:
        if re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", folded):
            return word
    return None


def mention_candidates(text: str) -> list[str]:
    """Distinct `@name` tokens (case-insensitively), in order of appearance."""
    seen: dict[str, str] = {}
    for name in MENTION_RE.findall(text):
        seen.setdefault(user_key(name), name)
    return list(seen.values())[:MENTIONS_MAX]


class ChatService:
    """Send and read chat; publishes ChatPosted."""

    def __init__(
        self,
        log: ChatLog,
        limiter: RateLimiter,
        mutes: MuteStore,
        users: UserLookup,
        events: EventBus,
        *,
        rate_limit: int,
        rate_window: float,
        history: int,
        moderators: ModeratorLookup | None = None,
    ) -> None:
        self._log = log
        self._limiter = limiter
        self._mutes = mutes
        self._users = users
        self._events = events
        self._rate_limit = rate_limit
        self._rate_window = rate_window
        self._history = history
        self._moderators = moderators or NoModerators()

    async def send(self, stream: Stream, user: str, text: object) -> ChatMessage:
        """Post `text` as `user`: 400 bad text or `blocked_word`, 403 `muted`, 409 ended
        (or, in rehearsal, anyone but host and cohost: `stream_not_live`), 429
        `rate_limited` or `slow_mode`."""
        clean = chat_text(text)
        if stream.status == "ended":
            raise conflict("stream_ended", "the stream has ended")
        staff = same_user(user, stream.host) or same_user(user, stream.cohost)
        if stream.status == "rehearsal" and not staff:
            raise conflict("stream_not_live", "only the host and cohost chat in a rehearsal")
        if await self._mutes.is_muted(stream.id, user):
            raise forbidden("the host muted you in this stream", "muted")
        if not staff and (word := blocked_word_in(clean, stream.blocked_words)) is not None:
            raise bad_request(f"text: {word!r} is not allowed in this chat", "blocked_word")
        slow = stream.slow_mode_seconds
        if slow and not staff and not await self._moderators.is_moderator(stream.id, user):
            # Slow mode replaces the rate limit: one counter, so a refusal counts nothing.
            wait = await self._limiter.hit(f"slow:{stream.id}:{user_key(user)}", 1, slow)
            if wait > 0:
                raise ApiError(
                    429, "slow_mode", f"slow mode: one message per {slow} s; retry in {wait:.1f} s"
                )
        else:
            wait = await self._limiter.hit(
                f"chat:{stream.id}:{user_key(user)}", self._rate_limit, self._rate_window
            )
            if wait > 0:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"at most {self._rate_limit} messages per {self._rate_window:g} s; "
                    f"retry in {wait:.1f} s",
                )
        mentions = []
        for name in mention_candidates(clean):
            found = await self._users.find(name)
            if found is not None:
                mentions.append(found)
        message = ChatMessage(
            id=secrets.token_urlsafe(9),
            stream_id=stream.id,
            user=user,
            text=clean,
            mentions=tuple(mentions),
            ts=utc_now(),
        )
        await self._log.add_chat(message, self._history)
        await self._events.publish(ChatPosted(message))
        return message

    async def history(self, stream_id: str) -> list[ChatMessage]:
        """The recent visible messages of a stream, oldest first."""
        return await self._log.recent_chat(stream_id, self._history)

    async def is_muted(self, stream_id: str, user: str | None) -> bool:
        return user is not None and await self._mutes.is_muted(stream_id, user)
