"""Webhook signatures exactly as Stripe makes them: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256>`
over `"<t>.<raw body>"` with the endpoint's signing secret."""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(payload: str, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()


def header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header value for this body, signed now unless a time is given."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(payload, secret, t)}"
