"""REST views of sharers: the commission percent, share links, referrals, the host's list."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth import require_user
from server.domain.streams import Stream
from server.keys import SETTINGS, SHARERS, STREAMS
from server.pages import page

routes = web.RouteTableDef()

SHARER_PATCH_FIELD = "sharer_commission_percent"


async def apply_sharer_patch(
    app: web.Application, stream_id: str, user: str, body: dict[str, Any]
) -> Stream | None:
    """Apply the sharer part of `PATCH /api/streams/{id}`: the stream afterwards, or None
    when the body does not name `sharer_commission_percent` (so the lifecycle handler can
    call this next to its own fields)."""
    if SHARER_PATCH_FIELD not in body:
        return None
    return await app[SHARERS].set_commission(stream_id, user, body[SHARER_PATCH_FIELD])


@routes.get("/api/streams/{id}/share-link")
async def share_link(request: web.Request) -> web.Response:
    """The signed-in user's own link to the show, its poster when there is one, and
    what the link earns."""
    user = require_user(request)
    stream = await request.app[STREAMS].get(request.match_info["id"])
    # The public URL when configured, else the address this request came to.
    base = (request.app[SETTINGS].public_url or str(request.url.origin())).rstrip("/")
    poster = f"/api/streams/{stream.id}/poster.png"
    has_poster = any(
        resource.canonical == "/api/streams/{id}/poster.png"
        for resource in request.app.router.resources()
    )
    return web.json_response(
        {
            "url": f"{base}/watch/{stream.id}?ref={user}",
            "poster_url": f"{base}{poster}" if has_poster else None,
            "sharer_commission_percent": stream.sharer_commission_percent,
        }
    )


@routes.get("/api/me/referrals")
async def my_referrals(request: web.Request) -> web.Response:
    user = require_user(request)
    results = await request.app[SHARERS].my_referrals(user)
    streams = request.app[STREAMS]
    out = []
    for result in results:
        stream = await streams.get(result.stream_id)
        out.append(
            {
                **result.to_dict(),
                "title": stream.title,
                "host": stream.host,
                "status": stream.status,
                "sharer_commission_percent": stream.sharer_commission_percent,
                "attributed_orders": [order.to_dict() for order in result.attributed],
            }
        )
    return web.json_response({"streams": out})


@routes.get("/api/streams/{id}/sharers")
async def stream_sharers(request: web.Request) -> web.Response:
    user = require_user(request)
    stream_id = request.match_info["id"]
    results = await request.app[SHARERS].stream_sharers(stream_id, user)
    stream = await request.app[STREAMS].get(stream_id)
    return web.json_response(
        {
            "sharers": [{"username": r.username, **r.to_dict()} for r in results],
            "sharer_commission_percent": stream.sharer_commission_percent,
        }
    )


@routes.get("/me/referrals")
async def referrals_page(request: web.Request) -> web.FileResponse:
    return page("referrals.html")


def setup(app: web.Application) -> None:
    """Register the sharers' routes and page."""
    app.router.add_routes(routes)
