"""A Frontdesk server, the carrier sandbox and the Stripe stand-in wired together on real ports, and
Stripe events signed by hand exactly as Stripe signs them (for duplicate, reordered and forged ones)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import select

from comms.payment_models import PaymentRequest
from tests.carrier import Carrier, start_pair
from tests.ports import free_port
from web.keys import SERVICES

STRIPE_KEY = "sk_test_frontdesk_0123456789"
WEBHOOK_SECRET = "whsec_frontdesk_0123456789"


@dataclass
class PayRig:
    carrier: Carrier
    stripe: str  # the stand-in's URL
    stripe_app: Any

    @property
    def base(self) -> str:
        return self.carrier.base

    @property
    def app(self) -> Any:
        return self.carrier.app


async def start_payments(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Any, *, deliver: bool = True, **payments: Any
) -> PayRig:
    """Frontdesk with Stripe pointed at the stand-in; the stand-in's events go to /stripe/webhook."""
    from web.stripe_sandbox import StripeSandboxConfig, create_stripe_sandbox_app

    app_port, stripe_port = free_port(), free_port()
    stripe_base = f"http://127.0.0.1:{stripe_port}"
    hook = f"http://127.0.0.1:{app_port}/stripe/webhook" if deliver else None
    stripe_app = create_stripe_sandbox_app(StripeSandboxConfig(STRIPE_KEY, WEBHOOK_SECRET, hook, stripe_base))
    await aiohttp_server(stripe_app, port=stripe_port)
    carrier = await start_pair(
        db_settings,
        aiohttp_server,
        tmp_path,
        app_port=app_port,
        sections={
            "stripe": {
                "secret_key": STRIPE_KEY,
                "webhook_secret": WEBHOOK_SECRET,
                "api_base_url": stripe_base,
            },
            "payments": {"sweep_seconds": 0.2, **payments},
        },
    )
    return PayRig(carrier, stripe_base, stripe_app)


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    """(body, Stripe-Signature) for an event: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    body = json.dumps(event)
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), f"t={t},v1={mac}"


async def post_event(base: str, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/stripe/webhook", data=body, headers=headers) as r,
    ):
        return r.status, dict(await r.json())


def event(kind: str, obj: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An event in Stripe's shape around a snapshot of the object."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def session_completed(request_id: int, intent: str, amount: int, session_id: str) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": amount,
        "client_reference_id": str(request_id),
        "currency": "usd",
        "metadata": {"frontdesk_request": str(request_id)},
        "mode": "payment",
        "payment_intent": intent,
        "payment_status": "paid",
        "status": "complete",
    }


def intent_failed(request_id: int, intent: str) -> dict[str, Any]:
    return {
        "id": intent,
        "object": "payment_intent",
        "metadata": {"frontdesk_request": str(request_id)},
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        "status": "requires_payment_method",
    }


def charge_refunded(intent: str, charge: str, amount: int, refunded: int) -> dict[str, Any]:
    return {
        "id": charge,
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "currency": "usd",
        "payment_intent": intent,
        "refunded": refunded >= amount,
    }


async def request_row(app: Any, request_id: int) -> PaymentRequest:
    async with app[SERVICES].read() as s:
        row = await s.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
        assert row is not None
        return row
