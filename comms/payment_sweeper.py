"""Time-driven changes to payment requests: links that run out are marked expired (posted live), and
unpaid requests are reminded (comms.payment_followups).

Every node runs one; the change is a re-derivation of the status under the request's own row, so two
nodes doing it at once reach the same result and only the first posts anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select

from comms.logsafe import log_failure
from comms.messaging import write_unit
from comms.models import utcnow
from comms.payment_followups import remind_due
from comms.payment_models import OPEN_STATUSES, PaymentRequest
from comms.payment_state import refresh
from comms.services import Services

log = logging.getLogger(__name__)
BATCH = 200


async def expire_due(services: Services, now: dt.datetime | None = None) -> list[int]:
    """Mark every open request whose link has run out; returns their ids."""
    now = now or utcnow()
    async with services.read() as s:
        due = list(
            await s.scalars(
                select(PaymentRequest.id)
                .where(PaymentRequest.status.in_(OPEN_STATUSES), PaymentRequest.expires_at <= now)
                .order_by(PaymentRequest.expires_at)
                .limit(BATCH)
            )
        )
    expired = []
    for request_id in due:
        async with write_unit(services) as unit:
            request = await unit.session.get(
                PaymentRequest,
                request_id,
                populate_existing=True,
                with_for_update=not services.settings.database.is_sqlite,
            )
            if request is not None and request.status in OPEN_STATUSES:
                await refresh(unit, request, now)
                if request.status == "expired":
                    expired.append(request_id)
    return expired


class PaymentSweeper:
    """One per node: looks every `payments.sweep_seconds`."""

    def __init__(self, services: Services, on_queued: Callable[[], None] = lambda: None) -> None:
        self.services = services
        self.on_queued = on_queued

    async def sweep(self) -> None:
        await expire_due(self.services)
        if await remind_due(self.services):
            self.on_queued()  # the sender looks now rather than at its next poll

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_failure(log, "payment sweep failed; retrying", exc=exc)
            await asyncio.sleep(self.services.settings.payments.sweep_seconds)
