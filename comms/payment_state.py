"""A payment request's status, derived from facts that only grow, and posted live on its timeline item.

Because the status is a function of (paid, refunded, processing, failed, opened, expired) and none of
those facts ever shrinks (a bank debit in processing ends only by being paid or failing, both facts),
Stripe's events can arrive late, twice or out of order and the request still ends where it should: a
late "failed" never undoes "paid", a refund that overtook its payment counts once the payment is there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.messaging import publish_update
from comms.models import TimelineItem, utcnow
from comms.payment_models import (
    OPEN_STATUSES,
    PaymentProcessing,
    PaymentReceived,
    PaymentRefund,
    PaymentRequest,
)
from comms.services import Unit
from schemas.payments import PaymentRequestOut


def derive(request: PaymentRequest, now: dt.datetime, processing: int = 0) -> str:
    """The status these facts add up to (see the module docstring for why order does not matter);
    `processing` counts the bank debits still clearing, which outrank expiry: the money may yet come."""
    paid, refunded = request.paid_cents, request.refunded_cents
    if paid > 0 and refunded >= paid:
        return "refunded"
    if paid >= request.amount_cents:
        return "paid"
    if processing > 0:
        return "processing"
    if now >= request.expires_at:
        return "expired"
    if paid > 0:
        return "partially_paid"
    if request.failed_at is not None:
        return "failed"
    if request.opened_at is not None:
        return "opened"
    return "sent"


def balance(request: PaymentRequest) -> int:
    """What the patient still owes on this request; nothing once it is paid, expired or refunded."""
    if request.status not in OPEN_STATUSES:
        return 0
    return max(0, request.amount_cents - request.paid_cents)


def request_out(request: PaymentRequest) -> PaymentRequestOut:
    return PaymentRequestOut(
        id=request.id,
        conversation_id=request.conversation_id,
        contact_id=request.contact_id,
        location_id=request.location_id,
        item_id=request.item_id,
        amount_cents=request.amount_cents,
        currency=request.currency,
        description=request.description,
        allow_partial=request.allow_partial,
        channel="email" if request.channel == "email" else "sms",
        status=request.status,
        paid_cents=request.paid_cents,
        refunded_cents=request.refunded_cents,
        balance_cents=balance(request),
        failure=request.failure,
        reminders_sent=request.reminders_sent,
        expires_at=request.expires_at,
        opened_at=request.opened_at,
        paid_at=request.paid_at,
        created_at=request.created_at,
    )


def _still_clearing() -> Any:
    """Bank debits started and neither failed nor yet counted as paid."""
    return (
        PaymentProcessing.started_at.is_not(None),
        PaymentProcessing.failed_at.is_(None),
        ~exists().where(PaymentReceived.checkout_session == PaymentProcessing.checkout_session),
    )


async def clearing_by_request(s: AsyncSession, request_ids: list[int]) -> dict[int, int]:
    """Per request, the cents of its bank debits still clearing (absent: none)."""
    if not request_ids:
        return {}
    rows = await s.execute(
        select(PaymentProcessing.request_id, func.coalesce(func.sum(PaymentProcessing.amount_cents), 0))
        .where(PaymentProcessing.request_id.in_(request_ids), *_still_clearing())
        .group_by(PaymentProcessing.request_id)
    )
    return {int(request_id): int(cents or 0) for request_id, cents in rows}


def item_meta(request: PaymentRequest, processing_cents: int = 0) -> dict[str, object]:
    """What the thread's payment card shows; the link's token is not in it (staff never need it)."""
    return {
        "processing_cents": processing_cents,
        "payment_request_id": request.id,
        "amount_cents": request.amount_cents,
        "currency": request.currency,
        "paid_cents": request.paid_cents,
        "refunded_cents": request.refunded_cents,
        "balance_cents": balance(request),
        "allow_partial": request.allow_partial,
        "channel": request.channel,
        "failure": request.failure,
        "reminders_sent": request.reminders_sent,
        "expires_at": request.expires_at.isoformat(),
    }


async def refresh(unit: Unit, request: PaymentRequest, now: dt.datetime | None = None) -> bool:
    """Recount what was paid and refunded, re-derive the status; post the item when anything changed."""
    s = unit.session
    now = now or utcnow()
    paid = await s.scalar(
        select(func.coalesce(func.sum(PaymentReceived.amount_cents), 0)).where(
            PaymentReceived.request_id == request.id
        )
    )
    refunded = await s.scalar(
        select(func.coalesce(func.sum(PaymentRefund.refunded_cents), 0))
        .join(PaymentReceived, PaymentReceived.payment_intent == PaymentRefund.payment_intent)
        .where(PaymentReceived.request_id == request.id)
    )
    pending = (
        await s.execute(
            select(func.count(), func.coalesce(func.sum(PaymentProcessing.amount_cents), 0)).where(
                PaymentProcessing.request_id == request.id, *_still_clearing()
            )
        )
    ).one()
    processing, processing_cents = int(pending[0] or 0), int(pending[1] or 0)
    before = (
        request.status,
        request.paid_cents,
        request.refunded_cents,
        request.failure,
        request.reminders_sent,
    )
    request.paid_cents, request.refunded_cents = int(paid or 0), int(refunded or 0)
    request.status = derive(request, now, processing)
    if request.status in ("paid", "refunded") and request.paid_at is None:
        request.paid_at = now
    after = (
        request.status,
        request.paid_cents,
        request.refunded_cents,
        request.failure,
        request.reminders_sent,
    )
    item = await s.get(TimelineItem, request.item_id) if request.item_id else None
    if item is None:
        return before != after
    meta = {**(item.meta or {}), **item_meta(request, processing_cents)}
    if before == after and item.status == request.status and item.meta == meta:
        return False
    item.status, item.meta = request.status, meta
    await publish_update(unit, item)
    return True
