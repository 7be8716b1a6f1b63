"""WHIP (RFC 9725): the host and the seated cohost publish camera and mic."""

from __future__ import annotations

from aiohttp import web

from media.engine import PUBLISH
from server.auth import require_user
from server.domain.streams import require_role
from server.errors import ApiError
from server.keys import MEDIA, STREAMS
from signaling.admission import admit
from signaling.sdp import answered, read_offer, session_routes


async def publish(request: web.Request) -> web.Response:
    """Publish on the caller's seat: 'host' or 'cohost' (403 for anyone else)."""
    user = require_user(request)
    stream = await request.app[STREAMS].get(request.match_info["stream_id"])
    seat = require_role(stream, user, "host", "cohost")
    if stream.status == "ended":
        raise ApiError(409, "stream_ended", "the stream has ended")
    offer = await read_offer(request)
    client = admit(request, stream.id, user, seat)
    session = request.app[MEDIA].publish(
        stream.id, seat, offer, owner=user, title=stream.title, client=client
    )
    return await answered("whip", session)


def setup(app: web.Application) -> None:
    """Register the WHIP endpoint and its session URLs."""
    app.router.add_post("/whip/{stream_id}", publish)
    session_routes(app, "whip", PUBLISH)
