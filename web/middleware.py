"""The one place domain errors become HTTP replies, plus the headers every reply carries."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from comms.errors import FrontdeskError
from comms.logsafe import log_failure
from schemas import errors as codes

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: codes.INVALID_REQUEST,
    401: codes.UNAUTHENTICATED,
    403: codes.FORBIDDEN,
    404: codes.NOT_FOUND,
    405: codes.INVALID_REQUEST,
    409: codes.CONFLICT,
    413: codes.PAYLOAD_TOO_LARGE,
    422: codes.INVALID_REQUEST,
    429: codes.RATE_LIMITED,
}


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> web.Response:
    """The JSON error shape every client can rely on."""
    response = web.json_response({"error": {"code": code, "message": message}}, status=status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def describe_validation(error: ValidationError) -> str:
    """Field paths and reasons, without echoing the rejected values (they may be PHI)."""
    parts = []
    for item in error.errors()[:10]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map the domain's exceptions (and aiohttp's own) to `{"error": {"code", "message"}}`."""
    try:
        return await handler(request)
    except FrontdeskError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.retry_after)
    except ValidationError as exc:
        return error_response(422, codes.INVALID_REQUEST, describe_validation(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = _HTTP_CODES.get(exc.status, codes.INTERNAL if exc.status >= 500 else codes.INVALID_REQUEST)
        return error_response(exc.status, code, exc.reason)
    except Exception as exc:
        # The path is ours (ids only); bodies, query values and the error's own words are never logged.
        log_failure(log, "unhandled error on %s %s", request.method, request.rel_url.path, exc=exc)
        return error_response(500, codes.INTERNAL, "internal error; it has been logged")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers that keep pages out of frames and API replies out of caches."""
    response = await handler(request)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    else:
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
    return response
