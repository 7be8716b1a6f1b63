"""Moderation by the host or a moderator: hide a message for everyone, mute a user."""

from __future__ import annotations

from server.domain.chat import ChatLog, ModeratorLookup, MuteStore, NoModerators, UserLookup
from server.domain.errors import forbidden, invalid_field, not_found
from server.domain.events import ChatHidden, EventBus, UserMuted
from server.domain.streams import Stream, require_role, same_user


class ModerationService:
    """The host's tools; every call checks that the actor hosts the stream."""

    def __init__(
        self,
        log: ChatLog,
        mutes: MuteStore,
        users: UserLookup,
        events: EventBus,
        moderators: ModeratorLookup | None = None,
    ) -> None:
        self._log = log
        self._mutes = mutes
        self._users = users
        self._events = events
        self._moderators = moderators or NoModerators()

    async def _may_moderate(self, stream: Stream, actor: str) -> bool:
        """The host, or a moderator (True); anyone else gets 403."""
        if same_user(actor, stream.host):
            return False
        if not await self._moderators.is_moderator(stream.id, actor):
            require_role(stream, actor, "host")
        return True

    async def hide(self, stream: Stream, actor: str, message_id: object) -> None:
        """Remove a message from history and from every screen; 404 `message_not_found`."""
        await self._may_moderate(stream, actor)
        if not isinstance(message_id, str) or not 1 <= len(message_id) <= 64:
            raise invalid_field("message_id", "must be a message id")
        if not await self._log.hide_chat(stream.id, message_id):
            raise not_found(f"no message {message_id!r} in this stream", "message_not_found")
        await self._events.publish(ChatHidden(stream.id, message_id))

    async def set_muted(self, stream: Stream, actor: str, username: object, muted: bool) -> str:
        """Mute or unmute `username` in `stream`; returns the canonical username."""
        as_moderator = await self._may_moderate(stream, actor)
        if not isinstance(username, str) or not username:
            raise invalid_field("username", "must be a username")
        found = await self._users.find(username)
        if found is None:
            raise not_found(f"no user {username!r}", "user_not_found")
        if same_user(found, stream.host):
            raise invalid_field("username", "the host cannot be muted")
        if as_moderator and same_user(found, stream.cohost):
            raise forbidden("only the host may mute the cohost")
        await self._mutes.set_muted(stream.id, found, muted)
        await self._events.publish(UserMuted(stream.id, found, muted))
        return found
