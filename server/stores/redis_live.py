"""Realtime state in Redis, shared by every Costream process.

Each rule that must hold across processes (one cohost, one answer per invite, the
rate limit) is a single Lua script, so Redis runs it atomically.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from redis.asyncio import Redis

from server.domain.chat import user_key
from server.domain.cohost import Invite, Outcome

PREFIX = "costream:"

# KEYS: seat, invite, invite_for. ARGV: invite json, invite id, ttl ms, invite key prefix.
_OPEN_INVITE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local old = redis.call('GET', KEYS[3])
if old then redis.call('DEL', ARGV[4] .. old) end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS: invite. ARGV: user key, now, accept (1/0), prefix.
_ANSWER_INVITE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'not_found', ''} end
local invite = cjson.decode(raw)
if string.lower(invite.username) ~= ARGV[1] then return {'not_found', ''} end
redis.call('DEL', KEYS[1])
local for_key = ARGV[4] .. 'invite_for:' .. invite.stream_id .. ':' .. ARGV[1]
if redis.call('GET', for_key) == invite.id then redis.call('DEL', for_key) end
if tonumber(invite.expires_at) <= tonumber(ARGV[2]) then return {'expired', raw} end
if ARGV[3] ~= '1' then return {'declined', raw} end
local seat = ARGV[4] .. 'seat:' .. invite.stream_id
local holder = redis.call('GET', seat)
if holder and string.lower(holder) ~= ARGV[1] then return {'seat_taken', raw} end
redis.call('SET', seat, invite.username)
return {'accepted', raw}
"""

# KEYS: seat. ARGV: user key or ''.
_RELEASE_SEAT = """
local holder = redis.call('GET', KEYS[1])
if not holder then return 0 end
if ARGV[1] ~= '' and string.lower(holder) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: hits (sorted set). ARGV: window ms, limit, unique member. Redis's own clock, so
# processes on machines with skewed clocks still count the same window.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


def _key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


class RedisLiveStore:
    """Implements server.stores.LiveStore on one Redis database."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._redis: Redis | None = None
        self._scripts: dict[str, Any] = {}

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the Redis store is not open")
        return self._redis

    async def open(self) -> None:
        self._redis = Redis.from_url(self.url, decode_responses=True)
        await self._redis.ping()  # fail start-up, not the first request
        for name, source in {
            "open_invite": _OPEN_INVITE,
            "answer_invite": _ANSWER_INVITE,
            "release_seat": _RELEASE_SEAT,
            "hit": _HIT,
        }.items():
            self._scripts[name] = self._redis.register_script(source)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self._scripts[name](keys=keys, args=args)

    # -- invites and the seat ------------------------------------------------------------

    async def open_invite(self, invite: Invite, keep_seconds: float) -> bool:
        opened = await self._run(
            "open_invite",
            [
                _key("seat", invite.stream_id),
                _key("invite", invite.id),
                _key("invite_for", invite.stream_id, user_key(invite.username)),
            ],
            [
                json.dumps(invite.to_record()),
                invite.id,
                int(keep_seconds * 1000),
                PREFIX + "invite:",
            ],
        )
        return bool(opened)

    async def pending_invite(self, stream_id: str, username: str, now: float) -> Invite | None:
        invite_id = await self.redis.get(_key("invite_for", stream_id, user_key(username)))
        raw = await self.redis.get(_key("invite", invite_id)) if invite_id else None
        if not raw:
            return None
        invite = Invite.from_record(json.loads(raw))
        return invite if invite.expires_at > now else None

    async def answer_invite(
        self, invite_id: str, username: str, accept: bool, now: float
    ) -> tuple[Outcome, Invite | None]:
        outcome, raw = await self._run(
            "answer_invite",
            [_key("invite", invite_id)],
            [user_key(username), repr(now), "1" if accept else "0", PREFIX],
        )
        invite = Invite.from_record(json.loads(raw)) if raw else None
        return cast(Outcome, outcome), invite

    async def get_invite(self, invite_id: str) -> Invite | None:
        raw = await self.redis.get(_key("invite", invite_id))
        return Invite.from_record(json.loads(raw)) if raw else None

    async def release_seat(self, stream_id: str, username: str | None) -> bool:
        released = await self._run(
            "release_seat", [_key("seat", stream_id)], [user_key(username) if username else ""]
        )
        return bool(released)

    async def seat_holder(self, stream_id: str) -> str | None:
        return await self.redis.get(_key("seat", stream_id))

    # -- presence ------------------------------------------------------------------------

    async def add_presence(self, stream_id: str, conn_id: str, username: str | None) -> None:
        await self.redis.hset(_key("presence", stream_id), conn_id, username or "")

    async def remove_presence(self, stream_id: str, conn_id: str) -> None:
        await self.redis.hdel(_key("presence", stream_id), conn_id)

    async def presence_count(self, stream_id: str) -> int:
        return int(await self.redis.hlen(_key("presence", stream_id)))

    async def present_users(self, stream_id: str) -> list[str]:
        names = await self.redis.hvals(_key("presence", stream_id))
        return list({user_key(n): n for n in names if n}.values())

    # -- mutes and rate limits -------------------------------------------------------------

    async def set_muted(self, stream_id: str, username: str, muted: bool) -> None:
        key = _key("muted", stream_id)
        if muted:
            await self.redis.sadd(key, user_key(username))
        else:
            await self.redis.srem(key, user_key(username))

    async def is_muted(self, stream_id: str, username: str) -> bool:
        return bool(await self.redis.sismember(_key("muted", stream_id), user_key(username)))

    async def hit(self, key: str, limit: int, window: float) -> float:
        wait_ms = await self._run(
            "hit",
            [_key("rate", key)],
            [int(window * 1000), limit, uuid.uuid4().hex],
        )
        return max(0.0, int(wait_ms) / 1000)

    # -- stream homes ----------------------------------------------------------------------

    async def claim_home(self, stream_id: str, url: str) -> str:
        key = _key("home", stream_id)
        if await self.redis.set(key, url, nx=True):
            return url
        return await self.redis.get(key) or url

    async def release_home(self, stream_id: str) -> None:
        await self.redis.delete(_key("home", stream_id))
