"""REST: sign in, see who is signed in, sign out."""

from __future__ import annotations

from aiohttp import web

from comms import auth
from comms.errors import CsrfFailed
from schemas.api import LoginRequest, StaffSession
from web.api import ApiRouter, parse_body, reply
from web.client import client_addr, origin_allowed
from web.keys import SERVICES, SETTINGS
from web.staff_auth import clear_session_cookie, require_staff, set_session_cookie

router = ApiRouter("session")


def _session_out(info: auth.SessionInfo | auth.LoginResult) -> StaffSession:
    actor = info.actor
    locations = sorted(actor.locations) if actor.locations is not None else None
    return StaffSession(
        user_id=actor.user_id,
        name=info.name,
        email=info.email,
        role=actor.role,
        location_ids=locations,
        csrf_token=info.csrf_token,
    )


@router.route(
    "POST",
    "/api/v1/session",
    summary="Sign in with e-mail and password",
    body=LoginRequest,
    response=StaffSession,
    status=201,
    errors=(401, 403, 429),
    auth=False,
    response_headers={"Set-Cookie": "the session cookie (HttpOnly, SameSite=Strict; Secure over https)"},
)
async def login(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    # Login has no CSRF token yet: a browser must prove the page is ours through Origin.
    if "Origin" in request.headers and not origin_allowed(request, settings):
        raise CsrfFailed("sign-in from a foreign origin")
    body = await parse_body(request, LoginRequest)
    result = await auth.login(
        request.app[SERVICES],
        body.email,
        body.password,
        client_addr(request, settings),
        request.headers.get("User-Agent"),
    )
    response = reply(_session_out(result), status=201)
    set_session_cookie(request, response, result.token, settings.sessions.absolute_lifetime_hours * 3600)
    return response


@router.route(
    "GET", "/api/v1/session", summary="The signed-in staff member and their CSRF token", response=StaffSession
)
async def current_session(request: web.Request) -> web.Response:
    return reply(_session_out(await require_staff(request)))


@router.route(
    "DELETE",
    "/api/v1/session",
    summary="Sign out; closes this session's sockets on every node",
    status=204,
    response_headers={"Set-Cookie": "clears the session cookie"},
)
async def logout(request: web.Request) -> web.Response:
    info = await require_staff(request)
    await auth.end_session(request.app[SERVICES], info.actor.session_id, actor=info.actor)
    response = web.Response(status=204)
    clear_session_cookie(request, response)
    return response


@router.route(
    "DELETE",
    "/api/v1/sessions",
    summary="Sign out everywhere: ends every session of the signed-in staff member and closes their sockets",
    status=204,
    response_headers={"Set-Cookie": "clears the session cookie"},
)
async def logout_everywhere(request: web.Request) -> web.Response:
    info = await require_staff(request)
    await auth.end_all_sessions(request.app[SERVICES], info.actor)
    response = web.Response(status=204)
    clear_session_cookie(request, response)
    return response
