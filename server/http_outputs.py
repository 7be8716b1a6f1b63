"""REST views of the outputs: HLS files, recordings and replay, simulcast destinations."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from media.outputs.files import PLAYLIST, part_starts, with_discontinuity_sequence
from server.auth import require_user
from server.domain.outputs import OutputsService
from server.domain.validation import SAFE_ID
from server.errors import json_body, not_found
from server.keys import OUTPUTS
from server.pages import page

routes = web.RouteTableDef()

HLS_JS_DIR = (Path(__file__).resolve().parent.parent / "node_modules" / "hls.js" / "dist").resolve()
HLS_JS_FILES = ("hls.min.mjs", "hls.min.mjs.map")
PLAYLIST_NAME = re.compile(r"^index\.m3u8$")
SEGMENT_NAME = re.compile(r"^[0-9a-f]{8}-\d{1,9}\.ts$")
RECORDING_NAME = re.compile(r"^\d{1,16}\.mp4$")
# Any HTTP cache or CDN serves viewers: the playlist changes every segment, a
# segment's name is never reused for other content.
PLAYLIST_CACHE = "public, max-age=1"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CACHE = "public, max-age=31536000, immutable"


def _outputs(request: web.Request) -> OutputsService:
    return request.app[OUTPUTS]


def _served(path: Path, headers: dict[str, str]) -> web.FileResponse:
    if not path.is_file():
        raise not_found("no such file", "file_not_found")
    return web.FileResponse(path, headers=headers)


@routes.get("/hls/{id}/{name}")
async def hls_file(request: web.Request) -> web.FileResponse:
    stream_id, name = request.match_info["id"], request.match_info["name"]
    if not SAFE_ID.match(stream_id):
        raise not_found("no such stream", "stream_not_found")
    if PLAYLIST_NAME.match(name):
        kind, cache = PLAYLIST_TYPE, PLAYLIST_CACHE
    elif SEGMENT_NAME.match(name):
        kind, cache = "video/mp2t", SEGMENT_CACHE
    else:
        raise not_found("no such HLS file", "file_not_found")
    headers = {
        "Content-Type": kind,
        "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*",
    }
    directory = _outputs(request).hls_dir(stream_id)
    if kind == PLAYLIST_TYPE:
        playlist = await asyncio.to_thread(_playlist, directory)
        if playlist is None:
            raise not_found("no such file", "file_not_found")
        return web.Response(body=playlist.encode(), headers=headers)
    return _served(directory / name, headers)


def _playlist(directory: Path) -> str | None:
    """The live playlist with its discontinuity count (blocking: run off the loop)."""
    try:
        playlist = (directory / PLAYLIST).read_text()
    except FileNotFoundError:
        return None
    return with_discontinuity_sequence(playlist, part_starts(directory))


@routes.get("/vendor/hls.js/{name}")
async def hls_js(request: web.Request) -> web.FileResponse:
    """The hls.js player (npm package) for the watch page's HLS fallback."""
    name = request.match_info["name"]
    if name not in HLS_JS_FILES:
        raise not_found(f"no file {name!r}")
    return _served(HLS_JS_DIR / name, {"Cache-Control": "no-cache"})


@routes.get("/api/streams/{id}/recording")
async def recording(request: web.Request) -> web.Response:
    return web.json_response(await _outputs(request).recording(request.match_info["id"]))


@routes.get("/recordings/{id}/{name}")
async def recording_file(request: web.Request) -> web.FileResponse:
    stream_id, name = request.match_info["id"], request.match_info["name"]
    if not SAFE_ID.match(stream_id) or not RECORDING_NAME.match(name):
        raise not_found("no such recording", "recording_not_found")
    # FileResponse answers Range requests (206), so players seek without downloading.
    path = _outputs(request).recording_dir(stream_id) / name
    return _served(path, {"Content-Type": "video/mp4", "Cache-Control": "no-cache"})


@routes.get("/replay/{id}")
async def replay_page(request: web.Request) -> web.FileResponse:
    return page("replay.html")


@routes.patch("/api/streams/{id}/outputs")
async def patch_outputs(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    stream_id = request.match_info["id"]
    await _outputs(request).apply_fields(stream_id, user, body)
    return web.json_response({"outputs": await _outputs(request).settings(stream_id, user)})


@routes.patch("/api/streams/{id}/layout")
async def patch_layout(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    layout = await _outputs(request).set_layout(request.match_info["id"], user, body.get("layout"))
    return web.json_response({"layout": layout})


@routes.get("/api/streams/{id}/outputs")
async def get_outputs(request: web.Request) -> web.Response:
    user = require_user(request)
    settings = await _outputs(request).settings(request.match_info["id"], user)
    return web.json_response({"outputs": settings})


@routes.post("/api/streams/{id}/destinations")
async def add_destination(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    destination = await _outputs(request).add_destination(
        request.match_info["id"], user, body.get("url")
    )
    return web.json_response({"destination": destination}, status=201)


@routes.get("/api/streams/{id}/destinations")
async def list_destinations(request: web.Request) -> web.Response:
    user = require_user(request)
    destinations = await _outputs(request).destinations(request.match_info["id"], user)
    return web.json_response({"destinations": destinations})


@routes.delete("/api/streams/{id}/destinations/{dest_id}")
async def remove_destination(request: web.Request) -> web.Response:
    user = require_user(request)
    await _outputs(request).remove_destination(
        request.match_info["id"], user, request.match_info["dest_id"]
    )
    return web.json_response({"ok": True})


@routes.get("/api/streams/{id}/qr-incidents")
async def qr_incidents(request: web.Request) -> web.Response:
    user = require_user(request)
    incidents = await _outputs(request).qr_incidents(request.match_info["id"], user)
    return web.json_response({"incidents": incidents})


def setup(app: web.Application) -> None:
    """Register the outputs routes."""
    app.router.add_routes(routes)
