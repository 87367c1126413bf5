"""The patients' booking page of a location, and the public API behind it (no sign-in, no patient
data out; a booking must come from our own page's Origin and is rate-limited)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from comms import self_booking
from comms.errors import Forbidden
from schemas.schedule import OnlineBookingIn, OnlineBookingOut, PublicLocationOut, SlotOut, SlotQuery
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.client import client_addr, origin_allowed
from web.keys import SERVICES, SETTINGS

router = ApiRouter("booking")
PAGE = Path(__file__).parent / "static" / "book.html"


@router.route(
    "GET",
    "/api/v1/public/locations/{location_id}",
    summary="What a location's booking page offers: its online appointment types and providers",
    response=PublicLocationOut,
    auth=False,
)
async def offer(request: web.Request) -> web.Response:
    return reply(await self_booking.page(request.app[SERVICES], int_param(request, "location_id")))


@router.route(
    "GET",
    "/api/v1/public/locations/{location_id}/slots",
    summary="Open times for an online appointment type at a location",
    query=SlotQuery,
    response=list[SlotOut],
    auth=False,
)
async def public_slots(request: web.Request) -> web.Response:
    query = parse_query(request, SlotQuery)
    location_id = int_param(request, "location_id")
    return reply(await self_booking.open_slots(request.app[SERVICES], location_id, query))


@router.route(
    "POST",
    "/api/v1/public/locations/{location_id}/appointments",
    summary="Book an open time from the booking page; a text asks the patient to confirm",
    body=OnlineBookingIn,
    response=OnlineBookingOut,
    status=201,
    errors=(403, 409, 429),
    auth=False,
)
async def public_book(request: web.Request) -> web.Response:
    if not origin_allowed(request, request.app[SETTINGS]):
        raise Forbidden("book from the practice's booking page")
    body = await parse_body(request, OnlineBookingIn)
    location_id = int_param(request, "location_id")
    remote = client_addr(request, request.app[SETTINGS])  # behind a trusted proxy: the patient's address
    booked = await self_booking.book(request.app[SERVICES], location_id, body, remote)
    return reply(booked, status=201)


async def booking_page(request: web.Request) -> web.FileResponse:
    """The page itself (plain HTML and one module; the API says whether this location takes bookings)."""
    int_param(request, "location_id")
    return web.FileResponse(PAGE)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/book/{location_id}", booking_page)
