"""The one place Frontdesk talks to Stripe, through the `stripe` library: Checkout Sessions, refunds,
and webhook signature checks. `stripe.api_base_url` points it at the local stand-in in demo and tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import stripe
from stripe._base_address import BaseAddresses

from comms.errors import SignatureInvalid, Unavailable
from comms.stripe_events import REQUEST_KEY
from config.settings import StripeSettings


@dataclass(frozen=True)
class Checkout:
    session_id: str
    url: str


class StripeGateway:
    """A StripeClient on aiohttp (async all the way); one per process, closed with the app."""

    def __init__(self, settings: StripeSettings) -> None:
        if not settings.configured or settings.secret_key is None:
            raise ValueError("stripe.secret_key and stripe.webhook_secret are needed")
        self.settings = settings
        self._http = stripe.AIOHTTPClient(timeout=30)
        base: BaseAddresses | None = (
            {"api": settings.api_base_url.rstrip("/")} if settings.api_base_url else None
        )
        self.client = stripe.StripeClient(
            settings.secret_key, base_addresses=base, http_client=self._http, max_network_retries=2
        )

    async def checkout(
        self,
        *,
        request_id: int,
        amount_cents: int,
        currency: str,
        name: str,
        success_url: str,
        cancel_url: str,
        expires_at: dt.datetime,
    ) -> Checkout:
        """A Checkout Session for this amount; only our request id goes to Stripe, never patient data."""
        metadata = {REQUEST_KEY: str(request_id)}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount_cents,
                        "product_data": {"name": name},
                    },
                }
            ],
            "client_reference_id": str(request_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
        try:
            session = await self.client.v1.checkout.sessions.create_async(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise Unavailable(f"Stripe refused the checkout: {exc.user_message or 'unknown error'}") from None
        return Checkout(session_id=str(session.id), url=str(session.url))

    async def refund(
        self, payment_intent: str, amount_cents: int, request_id: int, idempotency_key: str
    ) -> str:
        """Ask Stripe to refund part or all of one payment; the request follows the charge.refunded event.
        The same key asked again (a second tab, a double submit) gets the first refund, not another."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent,
            "amount": amount_cents,
            "metadata": {REQUEST_KEY: str(request_id)},
        }
        try:
            refund = await self.client.v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise Unavailable(f"Stripe refused the refund: {exc.user_message or 'unknown error'}") from None
        return str(refund.id)

    def verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event, if Stripe signed it with our endpoint's secret and recently; else SignatureInvalid."""
        try:
            event = stripe.Webhook.construct_event(
                payload.decode("utf-8"),
                signature,
                self.settings.webhook_secret,
                tolerance=self.settings.webhook_tolerance_seconds,
            )
        except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
            raise SignatureInvalid("the Stripe-Signature does not match this body") from None
        return dict(event.to_dict())

    async def close(self) -> None:
        await self._http.close_async()
