"""REST views of the show lifecycle (PROTOCOL v2): details, cover, poster, discovery,
reminders, rehearsal and checklist, pin, moderators, chat settings, raid, stats;
and the host dashboard page."""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

from aiohttp import web

from server.auth import bearer_user, require_user
from server.domain.analytics import stats_csv
from server.domain.checklist import Facts, run_checklist
from server.domain.errors import ApiError
from server.domain.lifecycle import LifecycleService
from server.domain.streams import Stream, require_role
from server.errors import json_body, not_found
from server.http import NODE_MODULES, vendor_files
from server.http_sharers import SHARER_PATCH_FIELD, apply_sharer_patch
from server.images import COVER_TYPES, reencode_cover, render_poster
from server.keys import (
    ANALYTICS,
    CODES,
    COMMERCE,
    LIFECYCLE,
    MEDIA,
    OUTPUTS,
    PROFILES,
    SETTINGS,
    STREAMS,
)
from server.pages import page

routes = web.RouteTableDef()
COVER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\.jpg$")


def _lifecycle(request: web.Request) -> LifecycleService:
    return request.app[LIFECYCLE]


def _stream(stream: Stream) -> web.Response:
    return web.json_response({"stream": stream.to_dict()})


def covers_dir(request: web.Request) -> Path:
    return request.app[SETTINGS].data_dir / "covers"


@routes.get("/api/streams")
async def discover(request: web.Request) -> web.Response:
    streams = await _lifecycle(request).discover(request.query.get("status"))
    return web.json_response({"streams": [stream.to_dict() for stream in streams]})


# Fields of `PATCH /api/streams/{id}` owned by other areas; the rest are details.
_OUTPUT_FIELDS = ("record", "layout")


@routes.patch("/api/streams/{id}")
async def update_stream(request: web.Request) -> web.Response:
    """One PATCH for every area: details (before live), the sharers' commission (until
    the first attributed order) and the outputs' `record`/`layout` (any time)."""
    user = require_user(request)
    body = await json_body(request)
    stream_id = request.match_info["id"]
    others = {SHARER_PATCH_FIELD, *_OUTPUT_FIELDS}
    details = {key: value for key, value in body.items() if key not in others}
    # Details first: they are refused once live, before anything else has changed.
    if details or not others & body.keys():
        await _lifecycle(request).update_details(stream_id, user, details)
    await apply_sharer_patch(request.app, stream_id, user, body)
    await request.app[OUTPUTS].apply_fields(stream_id, user, body)
    return _stream(await request.app[STREAMS].get(stream_id))


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refusing (413) more than `limit` bytes without reading them all."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "request_too_large", f"at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "request_too_large", f"at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@routes.put("/api/streams/{id}/cover")
async def put_cover(request: web.Request) -> web.Response:
    user = require_user(request)
    stream = await _lifecycle(request).editable_by_host(request.match_info["id"], user)
    if request.content_type not in COVER_TYPES:
        raise ApiError(415, "unsupported_media_type", "send a JPEG, PNG or WebP picture")
    data = await _read_limited(request, request.app[SETTINGS].cover_max_bytes)
    jpeg = await asyncio.to_thread(reencode_cover, data, request.content_type)
    folder = covers_dir(request)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{stream.id}-{secrets.token_urlsafe(6)}.jpg"
    await asyncio.to_thread((folder / name).write_bytes, jpeg)
    stream, previous = await _lifecycle(request).set_cover(stream.id, name)
    if previous and COVER_NAME.fullmatch(previous):
        (folder / previous).unlink(missing_ok=True)
    return _stream(stream)


@routes.get("/covers/{name}")
async def get_cover(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = covers_dir(request) / name
    if not COVER_NAME.fullmatch(name) or not path.is_file():
        raise not_found(f"no cover {name!r}")
    # A new cover gets a new name, so a name's bytes never change.
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})


@routes.get("/api/streams/{id}/poster.png")
async def poster(request: web.Request) -> web.Response:
    stream = await request.app[STREAMS].get(request.match_info["id"])
    watch_url = f"{request.app[SETTINGS].advertised_url}/watch/{stream.id}"
    cover = covers_dir(request) / stream.cover if stream.cover else None
    png = await asyncio.to_thread(
        render_poster, stream.title, stream.host, stream.scheduled_at, cover, watch_url
    )
    return web.Response(
        body=png,
        content_type="image/png",
        headers={
            "Cache-Control": "no-cache",
            "Content-Disposition": f'inline; filename="costream-{stream.id}.png"',
        },
    )


@routes.get("/api/streams/{id}/reminder")
async def reminder_state(request: web.Request) -> web.Response:
    stream = await request.app[STREAMS].get(request.match_info["id"])
    reminded = await _lifecycle(request).reminded(stream.id, bearer_user(request))
    return web.json_response({"reminders": stream.reminders, "reminded": reminded})


@routes.post("/api/streams/{id}/reminder")
async def add_reminder(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request) if request.can_read_body else {}
    count = await _lifecycle(request).remind(request.match_info["id"], user, body.get("email"))
    return web.json_response({"reminders": count, "reminded": True})


@routes.delete("/api/streams/{id}/reminder")
async def remove_reminder(request: web.Request) -> web.Response:
    user = require_user(request)
    count = await _lifecycle(request).forget_reminder(request.match_info["id"], user)
    return web.json_response({"reminders": count, "reminded": False})


@routes.post("/api/streams/{id}/rehearse")
async def rehearse(request: web.Request) -> web.Response:
    user = require_user(request)
    return _stream(await request.app[STREAMS].rehearse(request.match_info["id"], user))


@routes.get("/api/streams/{id}/checklist")
async def checklist(request: web.Request) -> web.Response:
    user = require_user(request)
    stream = await request.app[STREAMS].get(request.match_info["id"])
    require_role(stream, user, "host")
    video, audio = request.app[MEDIA].seat_health(stream.id, "host")
    listings = await request.app[COMMERCE].listings(stream.id)
    address = await request.app[PROFILES].address(stream.host) is not None
    codes = {c.code: c.max_uses - c.uses for c in await request.app[CODES].codes(stream.id, user)}
    facts = Facts(stream, listings, video, audio, address, codes)
    return web.json_response(run_checklist(facts))


@routes.post("/api/streams/{id}/pin")
async def pin(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    return _stream(await _lifecycle(request).pin(request.match_info["id"], user, body.get("text")))


@routes.delete("/api/streams/{id}/pin")
async def unpin(request: web.Request) -> web.Response:
    user = require_user(request)
    return _stream(await _lifecycle(request).unpin(request.match_info["id"], user))


@routes.get("/api/streams/{id}/moderators")
async def moderators(request: web.Request) -> web.Response:
    stream = await request.app[STREAMS].get(request.match_info["id"])
    return web.json_response({"moderators": await _lifecycle(request).moderators(stream.id)})


async def _appoint(request: web.Request, appointed: bool) -> web.Response:
    user = require_user(request)
    names = await _lifecycle(request).set_moderator(
        request.match_info["id"], user, request.match_info["username"], appointed
    )
    return web.json_response({"moderators": names})


@routes.post("/api/streams/{id}/moderators/{username}")
async def appoint(request: web.Request) -> web.Response:
    return await _appoint(request, True)


@routes.delete("/api/streams/{id}/moderators/{username}")
async def dismiss(request: web.Request) -> web.Response:
    return await _appoint(request, False)


@routes.patch("/api/streams/{id}/chat")
async def chat_settings(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    stream = await _lifecycle(request).update_chat(request.match_info["id"], user, body)
    chat = {"slow_mode_seconds": stream.slow_mode_seconds, "blocked_words": stream.blocked_words}
    return web.json_response({"stream": stream.to_dict(), "chat": chat})


@routes.post("/api/streams/{id}/raid")
async def raid(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    target = body.get("to_stream_id")
    return _stream(await _lifecycle(request).raid(request.match_info["id"], user, target))


@routes.get("/api/streams/{id}/stats")
async def stats(request: web.Request) -> web.Response:
    user = require_user(request)
    figures, _ = await request.app[ANALYTICS].stats(request.match_info["id"], user)
    # The figures also at the top level, for clients that read them flat.
    return web.json_response({"stats": figures, **figures})


@routes.get("/api/streams/{id}/stats.csv")
async def stats_as_csv(request: web.Request) -> web.Response:
    user = require_user(request)
    stream_id = request.match_info["id"]
    _, rows = await request.app[ANALYTICS].stats(stream_id, user)
    return web.Response(
        text=stats_csv(rows),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="costream-{stream_id}-stats.csv"'},
    )


@routes.get("/dashboard")
async def dashboard_page(request: web.Request) -> web.FileResponse:
    return page("dashboard.html")


def setup(app: web.Application) -> None:
    """Register the lifecycle routes and the charting library (uPlot, from npm)."""
    app.router.add_routes(routes)
    app.router.add_get("/vendor/uplot/{file}", vendor_files(NODE_MODULES / "uplot" / "dist"))
