"""What every sandbox REST handler shares: Twilio's error shape, Basic auth, list pages, form fields."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from telephony.sandbox.store import API_VERSION, SandboxStore

ACCOUNT = "/" + API_VERSION + "/Accounts/{account_sid}"  # every 2010-04-01 resource lives under it


def twilio_error(status: int, code: int, message: str) -> web.Response:
    """An error in Twilio's REST shape, which the twilio library turns into TwilioRestException."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


class Refused(Exception):
    """A request the API answers with a Twilio error instead of a resource."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.response = twilio_error(status, code, message)


def not_found(request: web.Request) -> Refused:
    """Twilio's 404 for a resource that does not exist (or belongs to another account)."""
    return Refused(404, 20404, f"The requested resource {request.path} was not found")


class HasStore(Protocol):
    """A handler class that can check credentials."""

    store: SandboxStore


Api = TypeVar("Api", bound=HasStore)
ApiMethod = Callable[[Api, web.Request, str], Awaitable[web.StreamResponse]]
ApiHandler = Callable[[Api, web.Request], Awaitable[web.StreamResponse]]


def authenticated(handler: ApiMethod[Api]) -> ApiHandler[Api]:
    """Check Basic auth (account SID + token, or API key + secret); the account in the path must match
    when the route has one (the Lookup API's paths carry none)."""

    async def wrapper(self: Api, request: web.Request) -> web.StreamResponse:
        credentials = basic_credentials(request.headers.get("Authorization", ""))
        account = self.store.authenticate(*credentials) if credentials else None
        wanted = request.match_info.get("account_sid", account)
        if account is None or account != wanted:
            return twilio_error(401, 20003, "Authenticate")
        try:
            return await handler(self, request, account)
        except Refused as refused:
            return refused.response

    return wrapper


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(username, password) from an HTTP Basic Authorization header, or None if it is not one."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if colon else None


def form_field(form: Any) -> Callable[[str], str]:
    """A getter for one stripped text field of a form (missing or a file: empty)."""

    def field(name: str) -> str:
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    return field


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a plausible host, as Twilio requires for callbacks."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "_" not in (parts.hostname or "")


def page(request: web.Request, key: str, rows: list[dict[str, object]]) -> dict[str, object]:
    """One list page holding every row, in Twilio's paging envelope."""
    uri = request.rel_url.raw_path_qs
    return {
        key: rows,
        "end": max(len(rows) - 1, 0),
        "first_page_uri": uri,
        "next_page_uri": None,
        "page": 0,
        "page_size": len(rows),
        "previous_page_uri": None,
        "start": 0,
        "uri": uri,
    }
