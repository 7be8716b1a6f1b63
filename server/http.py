"""REST views (accounts, streams, health) and the static pages. Thin: parse, call, shape."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from server.auth import client_address, require_user
from server.domain.accounts import USERNAME_RE, AccountService
from server.domain.errors import retry_later
from server.domain.outputs import record_field
from server.domain.streams import Stream
from server.errors import json_body, not_found
from server.keys import ACCOUNTS, LIVE, OUTPUTS, SESSIONS, SETTINGS, STREAMS
from server.lifecycle import DRAIN
from server.pages import page

STATIC_DIR = (Path(__file__).resolve().parent.parent / "static").resolve()
NODE_MODULES = (Path(__file__).resolve().parent.parent / "node_modules").resolve()
VENDOR_FILE = re.compile(r"^[A-Za-z0-9._-]+$")

routes = web.RouteTableDef()


async def session_response(request: web.Request, username: str, status: int) -> web.Response:
    """`{"token", "user"}` with a new token of the user's current generation."""
    token = await request.app[SESSIONS].issue(username)
    return web.json_response({"token": token, "user": {"username": username}}, status=status)


def _stream(stream: Stream, status: int = 200) -> web.Response:
    return web.json_response({"stream": stream.to_dict()}, status=status)


def _accounts(request: web.Request) -> AccountService:
    return request.app[ACCOUNTS]


async def _limit(request: web.Request, key: str, limit: int) -> None:
    """Count one attempt on `key`; 429 `rate_limited` with Retry-After past `limit`."""
    window = request.app[SETTINGS].auth_rate_window
    wait = await request.app[LIVE].hit(key, limit, window)
    if wait > 0:
        raise retry_later(
            429, "rate_limited", f"too many attempts (at most {limit} per {window:g} s)", wait
        )


async def limit_auth(request: web.Request, username: object) -> None:
    """Every password check costs ~0.3 s of a core: cap attempts per client address and,
    so that guessing one account from many addresses is slow too, per username."""
    settings = request.app[SETTINGS]
    await _limit(request, f"auth:addr:{client_address(request)}", settings.auth_rate_limit)
    if isinstance(username, str) and USERNAME_RE.fullmatch(username):
        await _limit(request, f"auth:user:{username.lower()}", settings.auth_user_rate_limit)


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    body = await json_body(request)
    await limit_auth(request, None)
    username = await _accounts(request).register(body.get("username"), body.get("password"))
    return await session_response(request, username, 201)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    await limit_auth(request, body.get("username"))
    username = await _accounts(request).login(body.get("username"), body.get("password"))
    return await session_response(request, username, 200)


@routes.post("/api/streams")
async def create_stream(request: web.Request) -> web.Response:
    host = require_user(request)
    body = await json_body(request)
    # Outputs (docs/protocol-outputs.md): checked before anything is created.
    record = record_field(body["record"]) if "record" in body else None
    stream = await request.app[STREAMS].create(
        host,
        title=body.get("title"),
        description=body.get("description"),
        kind=body.get("kind"),
        scheduled_at=body.get("scheduled_at"),
    )
    if record is not None:
        await request.app[OUTPUTS].set_record(stream.id, host, record)
    return _stream(stream, 201)


@routes.get("/api/streams/{id}")
async def get_stream(request: web.Request) -> web.Response:
    return _stream(await request.app[STREAMS].get(request.match_info["id"]))


@routes.post("/api/streams/{id}/start")
async def start_stream(request: web.Request) -> web.Response:
    user = require_user(request)
    return _stream(await request.app[STREAMS].start(request.match_info["id"], user))


@routes.post("/api/streams/{id}/end")
async def end_stream(request: web.Request) -> web.Response:
    user = require_user(request)
    return _stream(await request.app[STREAMS].end(request.match_info["id"], user))


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 while serving; 503 while draining, so a load balancer stops sending new work.

    `?verbose=1` adds `draining` and `inflight` (requests in flight besides this one)."""
    drain = request.app[DRAIN]
    body: dict[str, object] = {"ok": not drain.draining}
    if drain.draining or request.query.get("verbose") == "1":
        body.update(draining=drain.draining, inflight=drain.inflight - 1)
    return web.json_response(body, status=503 if drain.draining else 200)


def _file(relative: str) -> web.FileResponse:
    """A file under static/; 404 JSON (not FileResponse's empty 404) when missing or outside."""
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise not_found(f"no file {relative!r}")
    # no-cache: browsers revalidate, so a deploy never mixes old and new modules.
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def vendor_files(directory: Path) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    """A handler serving `{file}` from an npm package's folder (404 JSON when missing)."""
    root = directory.resolve()

    async def vendor_file(request: web.Request) -> web.FileResponse:
        name = request.match_info["file"]
        path = (root / name).resolve()
        if not VENDOR_FILE.fullmatch(name) or not path.is_relative_to(root) or not path.is_file():
            raise not_found(f"no file {name!r}")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return vendor_file


@routes.get("/")
async def index_page(request: web.Request) -> web.Response:
    return page("index.html")


@routes.get("/studio/{id}")
async def studio_page(request: web.Request) -> web.Response:
    return page("studio.html")


@routes.get("/watch/{id}")
async def watch_page(request: web.Request) -> web.Response:
    return page("watch.html")


@routes.get("/static/{path:.+}")
async def static_file(request: web.Request) -> web.FileResponse:
    return _file(request.match_info["path"])


def setup(app: web.Application) -> None:
    """Register the REST routes, the pages and `/static/`."""
    app.router.add_routes(routes)
