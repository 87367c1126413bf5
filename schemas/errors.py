"""Stable error codes shared by REST and WebSocket replies; clients branch on these, never on text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

INVALID_REQUEST = "invalid_request"
UNKNOWN_COMMAND = "unknown_command"
UNAUTHENTICATED = "unauthenticated"
FORBIDDEN = "forbidden"
CSRF_FAILED = "csrf_failed"
NOT_FOUND = "not_found"
CONFLICT = "conflict"
RATE_LIMITED = "rate_limited"
PAYLOAD_TOO_LARGE = "payload_too_large"
SIGNATURE_INVALID = "signature_invalid"
OPTED_OUT = "opted_out"
UNAVAILABLE = "unavailable"
EXPIRED = "expired"
INTERNAL = "internal_error"

ALL_CODES = (
    INVALID_REQUEST,
    UNKNOWN_COMMAND,
    UNAUTHENTICATED,
    FORBIDDEN,
    CSRF_FAILED,
    NOT_FOUND,
    CONFLICT,
    RATE_LIMITED,
    PAYLOAD_TOO_LARGE,
    SIGNATURE_INVALID,
    OPTED_OUT,
    UNAVAILABLE,
    EXPIRED,
    INTERNAL,
)


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error the REST API returns has this shape."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorBody
