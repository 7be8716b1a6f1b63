"""What WHIP and WHEP share: reading an SDP offer, answering, session URLs."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from media.engine import MediaSession
from media.errors import MediaError
from server.errors import ApiError
from server.keys import MEDIA

SDP = "application/sdp"


async def read_offer(request: web.Request) -> str:
    """The SDP offer of a WHIP/WHEP POST; 415, 413 and 400 for bad bodies."""
    if request.content_type != SDP:
        raise ApiError(415, "unsupported_media_type", f"send Content-Type: {SDP}")
    raw = await request.read()  # client_max_size answers 413 for huge bodies
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_sdp", "the SDP offer is not UTF-8") from None
    if not offer.startswith("v=0"):
        raise ApiError(400, "invalid_sdp", "the body is not an SDP offer")
    return offer


async def answered(prefix: str, opening: Awaitable[MediaSession]) -> web.Response:
    """201 with the SDP answer and the session's URL (RFC 9725 §4.2).

    An offer the engine refuses is a 400 with the engine's code.
    """
    try:
        session = await opening
    except MediaError as error:
        raise ApiError(400, error.code, error.message) from None
    return web.Response(
        status=201,
        body=session.answer.encode(),
        content_type=SDP,
        headers={"Location": f"/{prefix}/{session.stream_id}/{session.id}"},
    )


def session_routes(app: web.Application, prefix: str, kind: str) -> None:
    """DELETE ends a session (its URL is the secret); PATCH: no trickle ICE."""

    async def delete(request: web.Request) -> web.Response:
        engine = request.app[MEDIA]
        session = engine.session(request.match_info["session_id"])
        if (
            session is None
            or session.kind != kind
            or session.stream_id != request.match_info["stream_id"]
        ):
            raise ApiError(404, "session_not_found", "no such media session")
        await engine.close_session(session.id)
        return web.Response(status=200)

    async def patch(request: web.Request) -> web.Response:
        raise ApiError(405, "trickle_not_supported", "send every ICE candidate in the offer")

    path = f"/{prefix}/{{stream_id}}/{{session_id}}"
    app.router.add_delete(path, delete)
    app.router.add_patch(path, patch)
