"""Realtime state in Redis, shared by every Costream process.

Each rule that must hold across processes (one cohost, one answer per invite, the
rate limit) is a single Lua script, so Redis runs it atomically.

Every call is bounded by `timeout`: when Redis is down or stuck a call fails fast with
503 `backend_unavailable` (never hangs, never 500) and works again once Redis is back.
What a process owns (the stream homes it serves, its connections' presence) lives
under keys that expire `ttl` seconds after the process stops refreshing them, so a
crashed process leaves no ghosts; a heartbeat refreshes them, and writes them again
after an outage that outlived them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.domain.chat import user_key
from server.domain.cohost import Invite, Outcome
from server.domain.errors import ApiError

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

PREFIX = "costream:"

# KEYS: seat, invite, invite_for, invites_of (the stream's invite ids). ARGV: invite
# json, invite id, ttl ms, invite key prefix.
_OPEN_INVITE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local old = redis.call('GET', KEYS[3])
if old then
  redis.call('DEL', ARGV[4] .. old)
  redis.call('SREM', KEYS[4], old)
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
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
redis.call('SREM', ARGV[4] .. 'invites_of:' .. invite.stream_id, invite.id)
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


# KEYS: home. ARGV: url, ttl ms. Ours: refresh; free: take; another process's: leave.
_KEEP_HOME = """
local home = redis.call('GET', KEYS[1])
if home == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not home then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""

# KEYS: the stream's set of processes with presence. ARGV: presence key prefix, 'count'
# or 'users'. A process whose presence hash expired (it crashed) is dropped from the set.
_PRESENCE = """
local count, users = 0, {}
for _, proc in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. proc
  if redis.call('EXISTS', key) == 0 then
    redis.call('SREM', KEYS[1], proc)
  elseif ARGV[2] == 'count' then
    count = count + redis.call('HLEN', key)
  else
    for _, name in ipairs(redis.call('HVALS', key)) do table.insert(users, name) end
  end
end
if ARGV[2] == 'count' then return count end
return users
"""


def _key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


def backend_unavailable() -> ApiError:
    return ApiError(503, "backend_unavailable", "live state is unavailable; try again shortly")


def _bounded(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Give up after the store's timeout; any Redis failure becomes 503 backend_unavailable."""

    @functools.wraps(method)
    async def bounded(*args: P.args, **kwargs: P.kwargs) -> T:
        store = cast(RedisLiveStore, args[0])
        try:
            async with asyncio.timeout(store.timeout):
                return await method(*args, **kwargs)
        except (RedisError, OSError, TimeoutError) as error:
            raise backend_unavailable() from error

    return bounded


class RedisLiveStore:
    """Implements server.stores.LiveStore on one Redis database."""

    shared = True

    def __init__(self, url: str, timeout: float = 2.0, ttl: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self.ttl = ttl
        self._redis: Redis | None = None
        self._scripts: dict[str, Any] = {}
        # What this process owns in Redis, kept here so the heartbeat can rewrite it.
        self.process_id = uuid.uuid4().hex
        self._homes: dict[str, str] = {}  # stream id -> our url
        self._presence: dict[str, dict[str, str]] = {}  # stream id -> conn id -> user
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the Redis store is not open")
        return self._redis

    async def open(self) -> None:
        self._redis = Redis.from_url(
            self.url,
            decode_responses=True,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )
        await self._redis.ping()  # fail start-up, not the first request
        for name, source in {
            "open_invite": _OPEN_INVITE,
            "answer_invite": _ANSWER_INVITE,
            "release_seat": _RELEASE_SEAT,
            "hit": _HIT,
            "keep_home": _KEEP_HOME,
            "presence": _PRESENCE,
        }.items():
            self._scripts[name] = self._redis.register_script(source)
        self._heartbeat = asyncio.create_task(self._beat())

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _beat(self) -> None:
        """Refresh (or write again) our homes and presence every third of the TTL."""
        failing = False
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.refresh()
                if failing:
                    log.info("Redis is back: homes and presence refreshed")
                failing = False
            except ApiError:
                if not failing:
                    log.warning("Redis unavailable: cannot refresh homes and presence")
                failing = True

    @_bounded
    async def refresh(self) -> None:
        """Extend the TTL of everything this process owns, writing back what expired."""
        ttl_ms = int(self.ttl * 1000)
        for stream_id, url in list(self._homes.items()):
            await self._run("keep_home", [_key("home", stream_id)], [url, ttl_ms])
        for stream_id, conns in list(self._presence.items()):
            await self._write_presence(stream_id, conns)

    async def _write_presence(self, stream_id: str, conns: dict[str, str]) -> None:
        ttl_ms = int(self.ttl * 1000)
        key = _key("presence", stream_id, self.process_id)
        procs = _key("presence_procs", stream_id)
        pipe = self.redis.pipeline(transaction=True)
        if conns:
            pipe.hset(key, mapping=conns)
            pipe.pexpire(key, ttl_ms)
        pipe.sadd(procs, self.process_id)
        pipe.pexpire(procs, ttl_ms)
        await pipe.execute()

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self._scripts[name](keys=keys, args=args)

    # -- invites and the seat ------------------------------------------------------------

    @_bounded
    async def open_invite(self, invite: Invite, keep_seconds: float) -> bool:
        opened = await self._run(
            "open_invite",
            [
                _key("seat", invite.stream_id),
                _key("invite", invite.id),
                _key("invite_for", invite.stream_id, user_key(invite.username)),
                _key("invites_of", invite.stream_id),
            ],
            [
                json.dumps(invite.to_record()),
                invite.id,
                int(keep_seconds * 1000),
                PREFIX + "invite:",
            ],
        )
        return bool(opened)

    @_bounded
    async def pending_invite(self, stream_id: str, username: str, now: float) -> Invite | None:
        invite_id = await self.redis.get(_key("invite_for", stream_id, user_key(username)))
        raw = await self.redis.get(_key("invite", invite_id)) if invite_id else None
        if not raw:
            return None
        invite = Invite.from_record(json.loads(raw))
        return invite if invite.expires_at > now else None

    @_bounded
    async def open_invites(self, stream_id: str, now: float) -> list[Invite]:
        # Ids of invites that expired by TTL linger in the set until the next answer or
        # the set's own expiry: their keys are gone, so they are skipped here.
        ids = sorted(await self.redis.smembers(_key("invites_of", stream_id)))
        raws = await self.redis.mget([_key("invite", i) for i in ids]) if ids else []
        invites = [Invite.from_record(json.loads(raw)) for raw in raws if raw]
        return sorted((i for i in invites if i.expires_at > now), key=lambda i: i.expires_at)

    @_bounded
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

    @_bounded
    async def get_invite(self, invite_id: str) -> Invite | None:
        raw = await self.redis.get(_key("invite", invite_id))
        return Invite.from_record(json.loads(raw)) if raw else None

    @_bounded
    async def release_seat(self, stream_id: str, username: str | None) -> bool:
        released = await self._run(
            "release_seat", [_key("seat", stream_id)], [user_key(username) if username else ""]
        )
        return bool(released)

    @_bounded
    async def seat_holder(self, stream_id: str) -> str | None:
        return await self.redis.get(_key("seat", stream_id))

    # -- presence ------------------------------------------------------------------------
    # One hash per (stream, process), expiring with the process; the stream's set of
    # processes finds them. Each hash mirrors this process's `_presence` entry.

    @_bounded
    async def add_presence(self, stream_id: str, conn_id: str, username: str | None) -> None:
        self._presence.setdefault(stream_id, {})[conn_id] = username or ""
        await self._write_presence(stream_id, {conn_id: username or ""})

    @_bounded
    async def remove_presence(self, stream_id: str, conn_id: str) -> None:
        conns = self._presence.get(stream_id, {})
        conns.pop(conn_id, None)
        if not conns:
            self._presence.pop(stream_id, None)
        await self.redis.hdel(_key("presence", stream_id, self.process_id), conn_id)

    @_bounded
    async def presence_count(self, stream_id: str) -> int:
        return int(await self._presence_script(stream_id, "count"))

    @_bounded
    async def present_users(self, stream_id: str) -> list[str]:
        names = await self._presence_script(stream_id, "users")
        return list({user_key(n): n for n in names if n}.values())

    async def _presence_script(self, stream_id: str, what: str) -> Any:
        prefix = _key("presence", stream_id, "")
        return await self._run("presence", [_key("presence_procs", stream_id)], [prefix, what])

    # -- mutes and rate limits -------------------------------------------------------------

    @_bounded
    async def set_muted(self, stream_id: str, username: str, muted: bool) -> None:
        key = _key("muted", stream_id)
        if muted:
            await self.redis.sadd(key, user_key(username))
        else:
            await self.redis.srem(key, user_key(username))

    @_bounded
    async def is_muted(self, stream_id: str, username: str) -> bool:
        return bool(await self.redis.sismember(_key("muted", stream_id), user_key(username)))

    @_bounded
    async def hit(self, key: str, limit: int, window: float) -> float:
        wait_ms = await self._run(
            "hit",
            [_key("rate", key)],
            [int(window * 1000), limit, uuid.uuid4().hex],
        )
        return max(0.0, int(wait_ms) / 1000)

    # -- stream homes ----------------------------------------------------------------------

    @_bounded
    async def claim_home(self, stream_id: str, url: str) -> str:
        key = _key("home", stream_id)
        if await self.redis.set(key, url, nx=True, px=int(self.ttl * 1000)):
            self._homes[stream_id] = url
            return url
        home = await self.redis.get(key) or url
        if home == url:
            self._homes[stream_id] = url
        return home

    @_bounded
    async def home_of(self, stream_id: str) -> str | None:
        return await self.redis.get(_key("home", stream_id))

    @_bounded
    async def release_home(self, stream_id: str) -> None:
        self._homes.pop(stream_id, None)
        await self.redis.delete(_key("home", stream_id))
