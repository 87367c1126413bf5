"""Payments as one cleanup context: the Stripe gateway and the sweeper that expires unpaid links."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from comms.errors import Unavailable
from comms.payment_sweeper import PaymentSweeper
from comms.stripe_gateway import StripeGateway
from web.carrier import wake_sender
from web.keys import SERVICES, SETTINGS, STRIPE

log = logging.getLogger(__name__)


async def payments_ctx(app: web.Application) -> AsyncIterator[None]:
    """Stripe only when configured (say so at start-up when not); the sweeper always."""
    settings = app[SETTINGS]
    gateway = None
    if settings.stripe.configured:
        gateway = app[STRIPE] = StripeGateway(settings.stripe)
    else:
        log.warning(
            "Stripe is not configured (stripe.secret_key / stripe.webhook_secret): payment requests are "
            "off and /stripe/webhook refuses every event"
        )
    sweeper = PaymentSweeper(app[SERVICES], on_queued=lambda: wake_sender(app))
    task = asyncio.create_task(sweeper.run_forever(), name="payment-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if gateway is not None:
        await gateway.close()


def gateway(app: web.Application) -> StripeGateway:
    found = app.get(STRIPE)
    if found is None:
        raise Unavailable("payments are off: Stripe is not configured on this server")
    return found
