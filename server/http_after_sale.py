"""REST views of after the sale: profile (address, email), shipments, labels and their
documents, mailing a consignor, payout, shares, the ledger, and the orders pages."""

from __future__ import annotations

from aiohttp import web

from server.auth import require_user
from server.errors import json_body
from server.keys import LEDGER, PROFILES, SHIPPING, STREAMS
from server.pages import page

routes = web.RouteTableDef()


# -- profile -------------------------------------------------------------------------


@routes.get("/api/me/profile")
async def get_profile(request: web.Request) -> web.Response:
    user = require_user(request)
    return web.json_response(await request.app[PROFILES].profile(user))


@routes.put("/api/me/address")
async def put_address(request: web.Request) -> web.Response:
    user = require_user(request)
    address = await request.app[PROFILES].set_address(user, await json_body(request))
    return web.json_response({"address": address.to_dict()})


@routes.put("/api/me/email")
async def put_email(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    email = await request.app[PROFILES].set_email(user, body.get("email"))
    return web.json_response({"user": {"username": user, "email": email}})


@routes.get("/api/me/streams")
async def my_streams(request: web.Request) -> web.Response:
    """The shows the signed-in user hosts, newest first (the host's show list)."""
    user = require_user(request)
    streams = request.app[STREAMS]
    ids = await request.app[PROFILES].hosted_stream_ids(user)
    return web.json_response(
        {"streams": [(await streams.get(stream_id)).to_dict() for stream_id in ids]}
    )


# -- shipments and labels ------------------------------------------------------------


@routes.get("/api/streams/{id}/shipments")
async def list_shipments(request: web.Request) -> web.Response:
    user = require_user(request)
    shipments = await request.app[SHIPPING].shipments(request.match_info["id"], user)
    return web.json_response({"shipments": [shipment.to_dict() for shipment in shipments]})


@routes.post("/api/shipments/{id}/split")
async def split_shipment(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    shipments = await request.app[SHIPPING].split(
        request.match_info["id"], user, body.get("order_ids")
    )
    return web.json_response({"shipments": [shipment.to_dict() for shipment in shipments]})


@routes.post("/api/streams/{id}/labels")
async def create_labels(request: web.Request) -> web.Response:
    user = require_user(request)
    stream_id = request.match_info["id"]
    shipping = request.app[SHIPPING]
    made, skipped = await shipping.create_labels(stream_id, user)
    every = [s.label for s in await shipping.shipments(stream_id, user) if s.label is not None]
    return web.json_response(
        {
            # Every label of the stream (earlier ones too); `created` names the new ones.
            "labels": [label.to_dict() for label in every],
            "created": [label.id for label in made],
            "skipped": [
                {"shipment_id": shipment_id, "reason": "buyer_address_missing"}
                for shipment_id in skipped
            ],
        },
        status=201,
    )


def _download_name(stream_id: str, consignor: str | None, extension: str) -> str:
    suffix = f"-{consignor}" if consignor else ""
    # Stream ids and usernames are URL-safe, so the name needs no quoting.
    return f'attachment; filename="labels-{stream_id}{suffix}.{extension}"'


@routes.get("/api/streams/{id}/labels.pdf")
async def labels_pdf(request: web.Request) -> web.Response:
    user = require_user(request)
    stream_id, consignor = request.match_info["id"], request.query.get("consignor")
    pdf = await request.app[SHIPPING].labels_pdf(stream_id, user, consignor)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": _download_name(stream_id, consignor, "pdf")},
    )


@routes.get("/api/streams/{id}/labels.csv")
async def labels_csv(request: web.Request) -> web.Response:
    user = require_user(request)
    stream_id, consignor = request.match_info["id"], request.query.get("consignor")
    text = await request.app[SHIPPING].labels_csv(stream_id, user, consignor)
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": _download_name(stream_id, consignor, "csv")},
    )


@routes.post("/api/streams/{id}/labels/send")
async def send_labels(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    email = await request.app[SHIPPING].send_labels(
        request.match_info["id"], user, body.get("consignor")
    )
    return web.json_response({"sent_to": email}, status=202)


# -- money ---------------------------------------------------------------------------


@routes.post("/api/streams/{id}/payout")
async def payout(request: web.Request) -> web.Response:
    user = require_user(request)
    paid = await request.app[LEDGER].payout(request.match_info["id"], user)
    return web.json_response({"payout": paid.to_dict()})


@routes.post("/api/streams/{id}/share")
async def share(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await json_body(request)
    transfer = await request.app[LEDGER].share(
        request.match_info["id"], user, body.get("username"), body.get("amount_cents")
    )
    return web.json_response({"transfer": transfer.to_dict()}, status=201)


@routes.get("/api/me/ledger")
async def my_ledger(request: web.Request) -> web.Response:
    user = require_user(request)
    return web.json_response(await request.app[LEDGER].ledger(user))


# -- the orders pages' data ----------------------------------------------------------


@routes.get("/api/streams/{id}/after-sale")
async def after_sale(request: web.Request) -> web.Response:
    """Everything the host's "Orders & shipping" page shows (host only)."""
    user = require_user(request)
    stream_id = request.match_info["id"]
    shipments, orders = await request.app[SHIPPING].overview(stream_id, user)
    stream = await request.app[STREAMS].get(stream_id)
    money = await request.app[LEDGER].stream_money(stream_id, user)
    profile = await request.app[PROFILES].profile(user)
    return web.json_response(
        {
            "stream": stream.to_dict(),
            "orders": orders,
            "shipments": [shipment.to_dict() for shipment in shipments],
            "money": money.to_dict(),
            "return_address": profile["address"],
        }
    )


@routes.get("/api/me/orders")
async def my_orders(request: web.Request) -> web.Response:
    user = require_user(request)
    return web.json_response({"orders": await request.app[SHIPPING].my_orders(user)})


# -- pages ---------------------------------------------------------------------------


@routes.get("/shows/{id}/orders")
async def orders_page(request: web.Request) -> web.FileResponse:
    return page("orders.html")


@routes.get("/me/orders")
async def my_orders_page(request: web.Request) -> web.FileResponse:
    return page("my-orders.html")


@routes.get("/me/profile")
async def profile_page(request: web.Request) -> web.FileResponse:
    return page("profile.html")


def setup(app: web.Application) -> None:
    """Register the after-the-sale routes and pages."""
    app.router.add_routes(routes)
