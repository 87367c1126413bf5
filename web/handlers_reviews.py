"""REST: a location's review page (admins set it) and review requests from a thread; the public
short link /r/<token> that counts the click and redirects to the review page."""

from __future__ import annotations

import re

from aiohttp import web

from comms import reviews
from comms.errors import NotFound
from schemas.reviews import ReviewRequestOut, ReviewSiteIn, ReviewSiteOut
from web import demo_reviews
from web.api import ApiRouter, int_param, parse_body, reply
from web.carrier import wake_sender
from web.keys import DEMO, SERVICES
from web.staff_auth import require_actor

router = ApiRouter("reviews")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,32}$")


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/review-site",
    summary="Where the location's review links lead",
    response=ReviewSiteOut,
)
async def get_site(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await reviews.get_site(request.app[SERVICES], actor, int_param(request, "location_id")))


@router.route(
    "PUT",
    "/api/v1/locations/{location_id}/review-site",
    summary="Set the location's review page (admins); every patient's link leads there",
    body=ReviewSiteIn,
    response=ReviewSiteOut,
)
async def put_site(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ReviewSiteIn)
    location_id = int_param(request, "location_id")
    return reply(await reviews.put_site(request.app[SERVICES], actor, location_id, body))


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/review-requests",
    summary="Ask the thread's patient for a review: a text with a tracked link (once per patient per period)",
    response=ReviewRequestOut,
    status=201,
    errors=(409,),
)
async def ask(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    conversation_id = int_param(request, "conversation_id")
    out = await reviews.request_review(request.app[SERVICES], actor, conversation_id)
    wake_sender(request.app)
    return reply(out, status=201)


async def follow(request: web.Request) -> web.Response:
    """GET /r/{token}: count the click, then on to the review page."""
    token = request.match_info["token"]
    try:
        if not _TOKEN.match(token):
            raise NotFound("not a review link")
        target = await reviews.follow(request.app[SERVICES], token)
    except NotFound:
        return web.Response(text="This link is not valid.", status=404, headers={"Cache-Control": "no-store"})
    raise web.HTTPFound(target, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/r/{token}", follow)
    if app[DEMO]:
        demo_reviews.add_routes(app)
