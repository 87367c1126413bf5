"""The domain's exceptions; one middleware maps them to HTTP and the WebSocket maps them to results."""

from __future__ import annotations

from schemas import errors as codes


class FrontdeskError(Exception):
    """Base of every error a client may see; carries a stable code and an HTTP status."""

    code = codes.INTERNAL
    status = 500

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidRequest(FrontdeskError):
    code, status = codes.INVALID_REQUEST, 422


class Unauthenticated(FrontdeskError):
    code, status = codes.UNAUTHENTICATED, 401


class Forbidden(FrontdeskError):
    code, status = codes.FORBIDDEN, 403


class CsrfFailed(FrontdeskError):
    code, status = codes.CSRF_FAILED, 403


class SignatureInvalid(FrontdeskError):
    code, status = codes.SIGNATURE_INVALID, 403


class OptedOut(FrontdeskError):
    """The patient texted STOP: no message goes to this number until they text START."""

    code, status = codes.OPTED_OUT, 409


class NotFound(FrontdeskError):
    code, status = codes.NOT_FOUND, 404


class Conflict(FrontdeskError):
    code, status = codes.CONFLICT, 409


class Expired(FrontdeskError):
    """A patient's link whose time has passed (a form, a payment): they need a new one from the office."""

    code, status = codes.EXPIRED, 410


class RateLimited(FrontdeskError):
    code, status = codes.RATE_LIMITED, 429


class Unavailable(FrontdeskError):
    code, status = codes.UNAVAILABLE, 503


class DatabaseNotReady(Exception):
    """The database is missing its schema or behind the code's migrations; start-up stops."""
