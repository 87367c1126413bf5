"""A local stand-in for Stripe (Checkout Sessions, refunds, signed webhook events), used by `demo` and by
tests through the real `stripe` library pointed at it. Like the carrier sandbox it talks to Frontdesk
over HTTP only and imports nothing from comms, routing or the rest of web."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from web.stripe_sandbox.api import StripeApi
from web.stripe_sandbox.checkout_page import CheckoutPage
from web.stripe_sandbox.delivery import Deliveries
from web.stripe_sandbox.store import Account, StripeError, public

STRIPE_ACCOUNT = web.AppKey("stripe_account", Account)
STRIPE_DELIVERIES = web.AppKey("stripe_deliveries", Deliveries)


@dataclass(frozen=True)
class StripeSandboxConfig:
    secret_key: str
    webhook_secret: str
    webhook_url: str | None  # None: events are recorded, never sent (tests that send them by hand)
    public_url: str  # where browsers reach the stand-in (its Checkout pages)
    retries: int = 3
    settle_seconds: float | None = None  # a bank payment clears (or fails) by itself after this (demo)


def create_stripe_sandbox_app(config: StripeSandboxConfig) -> web.Application:
    app = web.Application()
    account = Account()
    deliveries = Deliveries(config.webhook_url, config.webhook_secret, config.retries)
    app[STRIPE_ACCOUNT] = account
    app[STRIPE_DELIVERIES] = deliveries

    page = CheckoutPage(account, deliveries, config.settle_seconds)

    async def deliveries_ctx(app: web.Application) -> AsyncIterator[None]:
        await deliveries.start()
        yield
        await page.close()
        await deliveries.close()

    app.cleanup_ctx.append(deliveries_ctx)
    app.add_routes(StripeApi(account, deliveries, config.secret_key, config.public_url).routes())
    app.add_routes(page.routes())
    app.add_routes(
        [
            web.get("/sandbox/stripe/events", _events(account)),
            web.post("/sandbox/stripe/checkout/sessions/{id}/settle", _settle(page)),
        ]
    )
    return app


def _events(account: Account) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """What the stand-in raised, oldest first (tests and the demo read it)."""
        return web.json_response({"events": account.events})

    return handler


def _settle(page: CheckoutPage) -> Any:
    async def handler(request: web.Request) -> web.Response:
        """Clear (or fail, as its test account chose) a session's bank payment now, as days later."""
        try:
            session = page.settle(request.match_info["id"])
        except StripeError as exc:
            return web.json_response({"error": exc.body}, status=exc.status)
        return web.json_response(public(session))

    return handler
