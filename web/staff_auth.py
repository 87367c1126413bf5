"""Session cookies, CSRF and Origin checks: every staff request passes `require_staff` first."""

from __future__ import annotations

import hmac

from aiohttp import web

from comms import auth
from comms.access import Actor
from comms.errors import CsrfFailed
from web.client import client_addr, origin_allowed
from web.keys import SERVICES, SETTINGS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
_INFO = web.RequestKey("frontdesk.session", auth.SessionInfo)


async def require_staff(request: web.Request) -> auth.SessionInfo:
    """Authenticate by cookie; for writes also demand our Origin and the session's CSRF token."""
    cached = request.get(_INFO)
    if cached is not None:
        return cached
    settings = request.app[SETTINGS]
    token = request.cookies.get(settings.sessions.cookie_name, "")
    info = await auth.authenticate(request.app[SERVICES], token, client_addr(request, settings))
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), info.csrf_token.encode()):
            raise CsrfFailed("missing or wrong X-CSRF-Token header")
        if "Origin" in request.headers and not origin_allowed(request, settings):
            raise CsrfFailed("request comes from a foreign origin")
    request[_INFO] = info
    return info


async def require_actor(request: web.Request) -> Actor:
    return (await require_staff(request)).actor


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str, max_age: int) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(
        settings.sessions.cookie_name,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="Strict",
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    settings = request.app[SETTINGS]
    response.del_cookie(settings.sessions.cookie_name, path="/")
