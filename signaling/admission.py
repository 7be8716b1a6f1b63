"""Who may open one more WHIP/WHEP session: caps per process, stream, user, client address.

Every session holds a peer connection, a UDP socket and a share of the media clocks,
so each cap refuses before the engine allocates anything. Room caps stop one account
from keeping many rooms (each with its own encoder clocks) busy as host or cohost.
"""

from __future__ import annotations

from aiohttp import web

from server.auth import client_address
from server.domain.errors import retry_later
from server.keys import MEDIA, SETTINGS

# A full server or stream frees sessions as viewers leave; a few seconds is a fair wait.
CAPACITY_RETRY_SECONDS = 5


def admit(request: web.Request, stream_id: str, user: str | None, seat: str | None) -> str | None:
    """Raise 503 `capacity` or 429 `too_many_sessions` / `too_many_rooms` when one more
    session (for `seat`: host or cohost, None for a viewer) would pass a cap; else return
    the client key to record on an anonymous session.

    Call it right before the engine opens the session, with no await in between, so that
    concurrent requests cannot all pass one remaining place.
    """
    settings = request.app[SETTINGS]
    engine = request.app[MEDIA]
    if len(engine.sessions) >= settings.max_media_sessions:
        raise retry_later(
            503,
            "capacity",
            "this server carries all the media sessions it can",
            CAPACITY_RETRY_SECONDS,
        )
    if len(engine.sessions_where(stream_id=stream_id)) >= settings.max_sessions_per_stream:
        raise retry_later(
            503, "capacity", "this stream carries all the sessions it can", CAPACITY_RETRY_SECONDS
        )
    if user is None:
        client = client_address(request)
        if len(engine.sessions_where(client=client)) >= settings.max_sessions_per_address:
            raise retry_later(
                429,
                "too_many_sessions",
                f"at most {settings.max_sessions_per_address} sessions per address",
                CAPACITY_RETRY_SECONDS,
            )
        return client
    mine = engine.sessions_where(owner=user)
    if len(mine) >= settings.max_sessions_per_user:
        raise retry_later(
            429,
            "too_many_sessions",
            f"at most {settings.max_sessions_per_user} media sessions per user; close one",
            CAPACITY_RETRY_SECONDS,
        )
    rooms = {s.stream_id for s in mine if s.seat is not None}
    if seat is not None and stream_id not in rooms and len(rooms) >= settings.max_rooms_per_user:
        raise retry_later(
            429,
            "too_many_rooms",
            f"at most {settings.max_rooms_per_user} streams open at once as host or cohost; "
            "end or leave one",
            CAPACITY_RETRY_SECONDS,
        )
    return None
