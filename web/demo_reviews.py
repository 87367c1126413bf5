"""The demo's stand-in for a location's review page (Google, Yelp…), where a followed review link lands;
served only by `frontdesk demo`, which seeds the demo locations' review links to it."""

from __future__ import annotations

from html import escape

from aiohttp import web

from comms.models import Location
from comms.seed_reviews import DEMO_REVIEW_PATH
from web.keys import SERVICES

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Review {name}</title>
<link rel="stylesheet" href="/static/pay.css"></head><body><main>
<h1>Review {name}</h1>
<p class="status" data-status="review-page">This is the demo's stand-in for the practice's review page.
A real practice sets its own (for example its Google review page) under Settings.</p>
</main></body></html>"""


async def review_page(request: web.Request) -> web.Response:
    """GET /demo/reviews/{location_id}: what a patient who followed a review link sees in the demo."""
    raw = request.match_info["location_id"]
    location = None
    if raw.isdigit() and len(raw) < 19:
        async with request.app[SERVICES].read() as s:
            location = await s.get(Location, int(raw))
    if location is None:
        raise web.HTTPNotFound(text="No such review page")
    return web.Response(
        text=_PAGE.format(name=escape(location.name)),
        content_type="text/html",
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'self'; frame-ancestors 'none'"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(DEMO_REVIEW_PATH + "{location_id}", review_page)
