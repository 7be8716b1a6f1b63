"""REST views of live commerce: listings, presenting, buying and the host's orders."""

from __future__ import annotations

from aiohttp import web

from server.auth import require_user
from server.domain.commerce import LISTINGS_PAGE_DEFAULT, CommerceService
from server.errors import invalid_field, json_body
from server.keys import COMMERCE

routes = web.RouteTableDef()


def _commerce(request: web.Request) -> CommerceService:
    return request.app[COMMERCE]


@routes.post("/api/streams/{id}/listings")
async def create_listing(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    listing = await _commerce(request).create_listing(request.match_info["id"], user, body)
    return web.json_response({"listing": listing.to_dict()}, status=201)


@routes.get("/api/streams/{id}/listings")
async def list_listings(request: web.Request) -> web.Response:
    """A page of listings, oldest first: `?after=<listing id>&limit=` (default 100,
    at most 200); `more` says whether another page follows."""
    raw_limit = request.query.get("limit")
    try:
        limit = LISTINGS_PAGE_DEFAULT if raw_limit is None else int(raw_limit)
    except ValueError:
        raise invalid_field("limit", "must be an integer") from None
    listings, more = await _commerce(request).listings_page(
        request.match_info["id"], request.query.get("after"), limit
    )
    return web.json_response(
        {"listings": [listing.to_dict() for listing in listings], "more": more}
    )


@routes.patch("/api/listings/{id}")
async def update_listing(request: web.Request) -> web.Response:
    """Extension: `{"quantity"}` sets the listing's total (host; raising it restocks)."""
    user = require_user(request)
    body = await json_body(request)
    listing = await _commerce(request).update_listing(request.match_info["id"], user, body)
    return web.json_response({"listing": listing.to_dict()})


@routes.post("/api/listings/{id}/present")
async def present_listing(request: web.Request) -> web.Response:
    user = require_user(request)
    listing = await _commerce(request).present(request.match_info["id"], user)
    return web.json_response({"listing": listing.to_dict()})


@routes.post("/api/listings/{id}/buy")
async def buy_listing(request: web.Request) -> web.Response:
    user = require_user(request)
    # The body is optional: no body (or an empty one) buys one item.
    body = await json_body(request) if request.can_read_body else {}
    order = await _commerce(request).buy(
        request.match_info["id"],
        user,
        quantity=body.get("quantity"),
        discount_code=body.get("discount_code"),
    )
    return web.json_response({"order": order.to_dict()}, status=201)


@routes.post("/api/listings/{id}/quote")
async def quote(request: web.Request) -> web.Response:
    """What buying would cost now (flash price, code discount), with the same refusals."""
    user = require_user(request)
    body = await json_body(request) if request.can_read_body else {}
    order = await _commerce(request).buy(
        request.match_info["id"],
        user,
        quantity=body.get("quantity"),
        discount_code=body.get("discount_code"),
        quote=True,
    )
    draft = order.to_dict()
    for unknown_yet in ("id", "created_at"):
        draft.pop(unknown_yet)
    return web.json_response({"quote": draft})


@routes.get("/api/streams/{id}/orders")
async def list_orders(request: web.Request) -> web.Response:
    user = require_user(request)
    orders = await _commerce(request).orders(request.match_info["id"], user)
    return web.json_response({"orders": [order.to_dict() for order in orders]})


def setup(app: web.Application) -> None:
    """Register the commerce routes."""
    app.router.add_routes(routes)
