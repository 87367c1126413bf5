"""X-Twilio-Signature checks, against the public URL Twilio called (never the proxied request.url)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from comms.errors import SignatureInvalid
from config.settings import Settings


def public_url(request: web.Request, settings: Settings) -> str:
    """The URL as Twilio saw it: our configured public base, then the path and query as received."""
    return settings.server.public_base_url + request.rel_url.raw_path_qs


def check_signature(
    settings: Settings, url: str, params: Mapping[str, str] | MultiDictProxy[str], headers: Mapping[str, str]
) -> None:
    """Raise SignatureInvalid unless the request was signed with our token (or the shared key)."""
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise SignatureInvalid("missing X-Twilio-Signature")
    algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
    twilio = settings.twilio
    secret = twilio.auth_token if algorithm == HMAC_SHA1 else twilio.webhook_shared_key
    if not secret:
        raise SignatureInvalid(f"no secret configured for {algorithm} webhook signatures")
    if not RequestValidator(secret).validate(url, params, signature, algorithm):
        raise SignatureInvalid("X-Twilio-Signature does not match")


async def verified_form(request: web.Request, settings: Settings) -> MultiDictProxy[str]:
    """Read a form-encoded webhook and verify its signature before anything else looks at it."""
    if not settings.twilio.auth_token:
        raise SignatureInvalid("Twilio is not configured on this server (no auth token)")
    form = await request.post()
    params = MultiDictProxy(MultiDict[str]((k, v) for k, v in form.items() if isinstance(v, str)))
    check_signature(settings, public_url(request, settings), params, request.headers)
    return params
