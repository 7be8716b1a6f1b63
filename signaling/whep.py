"""WHEP: anyone plays the composite while live; host and cohost also before."""

from __future__ import annotations

from aiohttp import web

from media.engine import PLAY
from server.auth import bearer_user
from server.domain.streams import StreamService
from server.errors import ApiError
from server.keys import MEDIA, MEDIA_RELAY, STREAMS
from signaling.admission import admit
from signaling.home import MEDIA_HOME
from signaling.sdp import answered, read_offer, session_routes


async def play(request: web.Request) -> web.Response:
    """Answer a recvonly offer with the composite and the caller's audio feed.

    The host and the cohost get a mix-minus: everyone but themselves.
    """
    user = bearer_user(request)
    stream = await request.app[STREAMS].get(request.match_info["stream_id"])
    role = StreamService.role_of(stream, user)
    if stream.status == "ended" or (stream.status != "live" and role == "viewer"):
        raise ApiError(409, "stream_not_live", f"the stream is {stream.status}")
    offer = await read_offer(request)
    listener = role if role != "viewer" else None
    client = admit(request, stream.id, user, listener)
    home = request.get(MEDIA_HOME)  # set for viewers of streams homed elsewhere
    upstream = request.app[MEDIA_RELAY].upstream(stream.id, home) if home else None
    session = request.app[MEDIA].play(
        stream.id,
        offer,
        listener,
        owner=user,
        title=stream.title,
        upstream=upstream,
        audio_only=stream.kind == "audio",
        client=client,
    )
    return await answered("whep", session)


def setup(app: web.Application) -> None:
    """Register the WHEP endpoint and its session URLs."""
    app.router.add_post("/whep/{stream_id}", play)
    session_routes(app, "whep", PLAY)
