"""REST views of the selling formats: auctions, bids, flash sales, codes and giveaways."""

from __future__ import annotations

from aiohttp import web

from server.auth import require_user
from server.errors import json_body
from server.keys import AUCTIONS, CODES, COMMERCE, GIVEAWAYS, JUDGE_ROUTING
from server.pages import page

routes = web.RouteTableDef()


@routes.post("/api/listings/{id}/auction/start")
async def start_auction(request: web.Request) -> web.Response:
    user = require_user(request)
    # Optional body (an extension): {"seconds", "sudden_death"} for this run.
    body = await json_body(request) if request.can_read_body else {}
    auction = await request.app[AUCTIONS].start(
        request.match_info["id"], user, body.get("seconds"), body.get("sudden_death")
    )
    return web.json_response({"auction": auction.to_dict()})


@routes.post("/api/listings/{id}/bids")
async def bid(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    routing = request.app.get(JUDGE_ROUTING)
    auction = await request.app[AUCTIONS].bid(
        request.match_info["id"],
        user,
        body.get("amount_cents"),
        body.get("max_cents"),
        forwarded=routing is not None and routing.forwarded(request),
    )
    return web.json_response({"auction": auction}, status=201)


@routes.get("/api/listings/{id}/auction")
async def get_auction(request: web.Request) -> web.Response:
    auction = await request.app[AUCTIONS].get(request.match_info["id"])
    return web.json_response({"auction": auction.to_dict()})


@routes.post("/api/listings/{id}/flash")
async def flash_sale(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    listing = await request.app[COMMERCE].flash(
        request.match_info["id"], user, body.get("price_cents"), body.get("seconds")
    )
    return web.json_response({"listing": listing.to_dict()})


@routes.post("/api/streams/{id}/codes")
async def create_code(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    code = await request.app[CODES].create(request.match_info["id"], user, body)
    return web.json_response({"code": code.to_dict()}, status=201)


@routes.get("/api/streams/{id}/codes")
async def list_codes(request: web.Request) -> web.Response:
    user = require_user(request)
    codes = await request.app[CODES].codes(request.match_info["id"], user)
    return web.json_response({"codes": [code.to_dict() for code in codes]})


@routes.post("/api/streams/{id}/giveaways")
async def create_giveaway(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    giveaway = await request.app[GIVEAWAYS].create(request.match_info["id"], user, body)
    return web.json_response({"giveaway": giveaway.to_dict()}, status=201)


@routes.get("/api/giveaways/{id}")
async def get_giveaway(request: web.Request) -> web.Response:
    giveaway, entrants = await request.app[GIVEAWAYS].public(request.match_info["id"])
    # The entrant list is published with the seed, once drawn (empty until then).
    return web.json_response({"giveaway": giveaway.to_dict(), "entrants": entrants or []})


@routes.get("/giveaways/{id}")
async def giveaway_page(request: web.Request) -> web.FileResponse:
    """The draw redone in the viewer's browser from the revealed seed and entrants."""
    return page("giveaway.html")


def setup(app: web.Application) -> None:
    """Register the selling routes."""
    app.router.add_routes(routes)
