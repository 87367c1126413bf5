"""The waitlist: staff REST from a thread, and the patient's one-tap page (`/w/<token>`, no login: the
unguessable link is the key; reading it changes nothing, only its button takes the slot; each address
may make a limited number of requests to these links, see comms/waitlist_limits.py)."""

from __future__ import annotations

import re
from html import escape

from aiohttp import web

from comms import waitlist, waitlist_limits, waitlist_offers
from comms.errors import NotFound, RateLimited
from schemas.waitlist import WaitlistEntryOut, WaitlistIn, WaitlistRenewIn
from web.api import ApiRouter, int_param, parse_body, reply
from web.carrier import wake_sender
from web.client import client_addr, origin_allowed
from web.keys import SERVICES, SETTINGS
from web.staff_auth import require_actor

router = ApiRouter("waitlist")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/static/pay.css"></head><body><main>"""
_TAIL = "</main></body></html>"


@router.route(
    "GET",
    "/api/v1/conversations/{conversation_id}/waitlist",
    summary="The thread's patient's open waitlist entries, and expired ones not yet renewed or replaced",
    response=list[WaitlistEntryOut],
)
async def list_entries(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    conversation_id = int_param(request, "conversation_id")
    return reply(await waitlist.list_entries(request.app[SERVICES], actor, conversation_id))


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/waitlist",
    summary="Put the thread's patient on the waitlist; freed slots that match are texted to them",
    body=WaitlistIn,
    response=WaitlistEntryOut,
    status=201,
    errors=(409,),
)
async def add_entry(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, WaitlistIn)
    conversation_id = int_param(request, "conversation_id")
    return reply(await waitlist.add_entry(request.app[SERVICES], actor, conversation_id, body), status=201)


@router.route(
    "DELETE",
    "/api/v1/waitlist/{entry_id}",
    summary="Take a patient off the waitlist (an offer they hold stops working)",
    response=WaitlistEntryOut,
    errors=(409,),
)
async def remove_entry(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    entry_id = int_param(request, "entry_id")
    return reply(await waitlist.remove_entry(request.app[SERVICES], actor, entry_id))


@router.route(
    "POST",
    "/api/v1/waitlist/{entry_id}/renew",
    summary="Put an expired waitlist entry back on the list with a new expiry (new dates if its passed)",
    body=WaitlistRenewIn,
    response=WaitlistEntryOut,
    errors=(409,),
)
async def renew_entry(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, WaitlistRenewIn)
    entry_id = int_param(request, "entry_id")
    return reply(await waitlist.renew_entry(request.app[SERVICES], actor, entry_id, body))


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=_HEAD.format(title=escape(title)) + body + _TAIL,
        content_type="text/html",
        status=status,
        headers={
            "Content-Security-Policy": _POLICY,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _too_many(exc: RateLimited) -> web.Response:
    body = f"<h1>Please wait a little</h1><p>{escape(exc.message)}</p>"
    response = _page("Please wait a little", body, status=429)
    response.headers["Retry-After"] = str(exc.retry_after or 60)
    return response


async def _admitted(request: web.Request) -> web.Response | None:
    """None when this client may use a link now; else the 429 page (IPv6 counted by its /64, all nodes)."""
    try:
        remote = client_addr(request, request.app[SETTINGS])
        await waitlist_limits.admit(request.app[SERVICES], remote, request.method)
    except RateLimited as exc:
        return _too_many(exc)
    return None


def _invalid() -> web.Response:
    body = "<h1>Link not valid</h1><p>This waitlist link is not valid. Please contact the office.</p>"
    return _page("Link not valid", body, status=404)


def _render(token: str, page: waitlist_offers.OfferPage, refused: bool = False) -> web.Response:
    what = f"{escape(page.type_name)} with {escape(page.provider)}, {escape(page.when)}"
    head = f'<h1>{escape(page.location)}</h1><p class="what">{what}</p>'
    line = f'<p class="status" data-status="{page.state}">'
    if page.state == "booked":
        return _page("Booked", head + line + "You're booked. We'll see you then!</p>")
    if page.state == "gone":
        text = "Sorry, this time has been taken or is no longer available. You're still on our waitlist."
        return _page("No longer available", head + line + text + "</p>", status=410)
    if refused:
        return _page(
            "Open the link again", head + "<p>Please tap the link in your text message again.</p>", 403
        )
    form = (
        f'<form method="post" action="/w/{escape(token)}">'
        '<button type="submit">Take this time</button></form>'
    )
    return _page("A time opened up", head + line + "This time is free if you want it.</p>" + form)


async def offer_page(request: web.Request) -> web.Response:
    """GET /w/{token}: the offered time and one button (looking takes nothing)."""
    if refused := await _admitted(request):
        return refused
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        return _invalid()
    try:
        page = await waitlist_offers.view(request.app[SERVICES], token)
    except NotFound:
        return _invalid()
    return _render(token, page)


async def take_offer(request: web.Request) -> web.Response:
    """POST /w/{token}: take the time; the first to tap is booked, later taps are told it has gone."""
    if refused := await _admitted(request):
        return refused
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        return _invalid()
    services = request.app[SERVICES]
    try:
        if not origin_allowed(request, request.app[SETTINGS]):  # only our page's button takes a slot
            return _render(token, await waitlist_offers.view(services, token), refused=True)
        page = await waitlist_offers.take(services, token)
    except NotFound:
        return _invalid()
    wake_sender(request.app)  # the "taken" texts to the others
    return _render(token, page)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/w/{token}", offer_page)
    app.router.add_post("/w/{token}", take_offer)
