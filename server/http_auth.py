"""Token revocation over HTTP: logout, password change, and refusing revoked tokens."""

from __future__ import annotations

from aiohttp import web

from server.auth import bearer_token, require_user
from server.domain.sessions import invalid_token
from server.errors import Handler, json_body
from server.http import limit_auth
from server.keys import AUTH, SESSIONS

routes = web.RouteTableDef()


@web.middleware
async def revocation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A genuine, unexpired bearer token that was revoked is 401 `invalid_token` on every
    call (views check signature and expiry themselves, synchronously)."""
    header = request.headers.get("Authorization", "")
    token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else ""
    genuine = bool(token) and request.app[AUTH].claims(token) is not None
    if genuine and await request.app[SESSIONS].check(token) is None:
        raise invalid_token()
    return await handler(request)


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """Revoke the bearer token of this request."""
    require_user(request)
    token = bearer_token(request)
    assert token is not None  # require_user passed
    await request.app[SESSIONS].logout(token)
    return web.json_response({"ok": True})


@routes.post("/api/auth/password")
async def change_password(request: web.Request) -> web.Response:
    """`{"old_password", "new_password"}`: every token of the user is revoked; the answer
    carries a fresh one, like login."""
    user = require_user(request)
    body = await json_body(request)
    await limit_auth(request, user)
    token = await request.app[SESSIONS].change_password(
        user, body.get("old_password"), body.get("new_password")
    )
    return web.json_response({"token": token, "user": {"username": user}})


def setup(app: web.Application) -> None:
    """Register logout and password change."""
    app.router.add_routes(routes)
