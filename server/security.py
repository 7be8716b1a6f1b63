"""Security headers on every response: pages, static files, JSON, errors and Socket.IO.

Scripts and styles come from this origin only (no inline script, no eval); nobody may
frame a page (clickjacking a Buy button); browsers never sniff a type; other sites do
not learn which show a viewer came from.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # The stylesheet's icons are data: SVG masks; covers and posters may be blobs.
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        # hls.js transmuxes in a worker it builds from a blob: URL.
        "worker-src 'self' blob:",
        # Same-origin fetch, WebSocket (Socket.IO) and WHIP/WHEP.
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
}


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    """Add the headers to every response the app prepares (routes, errors, 404s)."""
    app.on_response_prepare.append(_add_headers)
