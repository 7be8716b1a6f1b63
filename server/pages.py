"""The HTML pages: Jinja2 templates under server/templates/, each filling the blocks
of one layout (the document head and the top bar every page shares)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from server.domain.errors import not_found

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(name: str) -> str:
    """The page `name` (e.g. "watch.html") as HTML."""
    return _pages.get_template(name).render()


def page(name: str) -> web.Response:
    """The page as a response; 404 JSON when there is no such page."""
    try:
        html = render(name)
    except jinja2.TemplateNotFound:
        raise not_found(f"no page {name!r}") from None
    # no-cache: browsers revalidate, so a deploy never mixes old and new modules.
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-cache"})
