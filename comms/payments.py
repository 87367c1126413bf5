"""Payment request actions: staff ask from a thread (a payment card in the timeline and a text with the
link), patients open and pay the link, Stripe's events settle it, staff refund and read balances."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.messaging import write_unit
from comms.models import Contact, Location, TimelineItem, utcnow
from comms.payment_followups import confirm_payment, money, send_to_patient
from comms.payment_models import (
    LISTED_OPEN,
    OPEN_STATUSES,
    PaymentProcessing,
    PaymentReceived,
    PaymentRefund,
    PaymentRequest,
    PaymentWebhookEvent,
)
from comms.payment_state import balance, clearing_by_request, item_meta, refresh, request_out
from comms.services import Services
from comms.timeline import add_item, conversation_for
from schemas.payments import (
    MIN_CENTS,
    BalanceOut,
    CheckoutPaid,
    CheckoutProcessing,
    PaymentFact,
    PaymentRequestIn,
    PaymentRequestOut,
    RefundSeen,
)


def pay_url(services: Services, token: str) -> str:
    return f"{services.settings.server.public_base_url}/pay/{token}"


def request_text(location: str, amount: str, url: str) -> str:
    """The patient's text: who asks, how much, and the link (what it is for stays on the page)."""
    return f"{location}: you have a payment request for {amount}. Pay securely here: {url}"


async def create_request(
    services: Services, actor: Actor, conversation_id: int, body: PaymentRequestIn
) -> PaymentRequestOut:
    """The payment card and the text (or e-mail) with its link, in one transaction: an opted-out patient
    or a missing number or address refuses the whole request, nothing half-made is left."""
    settings = services.settings.payments
    async with write_unit(services) as unit:
        s = unit.session
        conversation = await conversation_for(unit, actor, conversation_id)
        contact = await s.get(Contact, conversation.contact_id)
        location = await s.get(Location, conversation.location_id)
        if contact is None or location is None:
            raise NotFound("no such conversation")
        now = utcnow()
        request = PaymentRequest(
            token=secrets.token_urlsafe(24),
            contact_id=contact.id,
            conversation_id=conversation.id,
            location_id=location.id,
            created_by_id=actor.user_id,
            amount_cents=body.amount_cents,
            currency=settings.currency,
            description=body.description,
            allow_partial=body.allow_partial,
            channel=body.channel,
            status="sent",
            paid_cents=0,
            refunded_cents=0,
            reminders_sent=0,
            expires_at=now + dt.timedelta(days=body.expires_in_days or settings.link_days),
            created_at=now,
        )
        s.add(request)
        await s.flush()
        item = await add_item(
            unit,
            conversation,
            TimelineItem(
                kind="payment",
                direction="internal",
                body=body.description,
                status="sent",
                author_id=actor.user_id,
                meta=item_meta(request),
            ),
        )
        request.item_id = item.id
        amount = money(body.amount_cents, settings.currency)
        text = request_text(location.name, amount, pay_url(services, request.token))
        await send_to_patient(services, unit, conversation, request, text, "request", actor.user_id)
        audit.record(s, actor, "create", "payment_request", request.id, {"amount_cents": body.amount_cents})
        return request_out(request)


async def _visible(services: Services, actor: Actor, request_id: int) -> PaymentRequest:
    async with services.read() as s:
        request = await s.get(PaymentRequest, request_id)
    if request is None:
        raise NotFound("no such payment request")
    actor.require_location(request.location_id)
    return request


async def get_request(services: Services, actor: Actor, request_id: int) -> PaymentRequestOut:
    """One request, as staff of its location see it (audited: it is part of a patient's record)."""
    async with services.unit() as unit:
        request = await unit.session.get(PaymentRequest, request_id)
        if request is None:
            raise NotFound("no such payment request")
        actor.require_location(request.location_id)
        audit.record(unit.session, actor, "view", "payment_request", request.id)
        return request_out(request)


async def list_for_conversation(
    services: Services, actor: Actor, conversation_id: int
) -> list[PaymentRequestOut]:
    """A thread's payment requests, newest first (audited)."""
    async with services.unit() as unit:
        conversation = await conversation_for(unit, actor, conversation_id)
        rows = await unit.session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.conversation_id == conversation.id)
            .order_by(PaymentRequest.id.desc())
            .limit(200)
        )
        out = [request_out(r) for r in rows]
        audit.record(unit.session, actor, "view", "conversation_payments", conversation.id, {"n": len(out)})
        return out


async def list_for_location(
    services: Services, actor: Actor, location_id: int, state: str
) -> list[PaymentRequestOut]:
    """A location's requests (open ones by default), oldest due first, for the billing desk (audited)."""
    actor.require_location(location_id)
    async with services.unit() as unit:
        location = await unit.session.get(Location, location_id)
        if location is None or location.practice_id != actor.practice_id:
            raise NotFound("no such location")
        query = (
            select(PaymentRequest, Contact)
            .join(Contact, Contact.id == PaymentRequest.contact_id)
            .where(PaymentRequest.location_id == location_id)
        )
        if state == "open":
            query = query.where(PaymentRequest.status.in_(LISTED_OPEN)).order_by(PaymentRequest.expires_at)
        else:
            query = query.order_by(PaymentRequest.id.desc())
        rows = (await unit.session.execute(query.limit(500))).all()
        clearing = await clearing_by_request(
            unit.session, [r.id for r, _ in rows if r.status == "processing"]
        )
        out = [
            request_out(r).model_copy(
                update={"contact_name": c.display_name, "clearing_cents": clearing.get(r.id, 0)}
            )
            for r, c in rows
        ]
        audit.record(unit.session, actor, "view", "location_payments", location_id, {"n": len(out)})
        return out


async def open_balance(
    services: Services, contact_id: int, location_ids: frozenset[int] | set[int] | None
) -> tuple[int, int]:
    """(cents still owed, open requests) for a patient at the given locations (None: all)."""
    async with services.read() as s:
        query = select(PaymentRequest).where(
            PaymentRequest.contact_id == contact_id, PaymentRequest.status.in_(OPEN_STATUSES)
        )
        if location_ids is not None:
            query = query.where(PaymentRequest.location_id.in_(location_ids))
        rows = list(await s.scalars(query))
    return sum(balance(r) for r in rows), len(rows)


async def contact_balance(services: Services, actor: Actor, contact_id: int) -> BalanceOut:
    """A patient's open balance at the locations this staff member works at (audited)."""
    async with services.unit() as unit:
        contact = await unit.session.get(Contact, contact_id)
        if contact is None or contact.practice_id != actor.practice_id:
            raise NotFound("no such patient")
        audit.record(unit.session, actor, "view", "balance", contact_id)
    cents, count = await open_balance(services, contact_id, actor.locations)
    clearing_cents, clearing_count = await clearing_balance(services, contact_id, actor.locations)
    return BalanceOut(
        contact_id=contact_id,
        open_cents=cents,
        currency=services.settings.payments.currency,
        open_requests=count,
        clearing_cents=clearing_cents,
        clearing_requests=clearing_count,
    )


async def clearing_balance(
    services: Services, contact_id: int, location_ids: frozenset[int] | set[int] | None
) -> tuple[int, int]:
    """(cents in bank debits still clearing, requests they pay) for a patient at the given locations."""
    async with services.read() as s:
        query = select(PaymentRequest.id).where(
            PaymentRequest.contact_id == contact_id, PaymentRequest.status == "processing"
        )
        if location_ids is not None:
            query = query.where(PaymentRequest.location_id.in_(location_ids))
        clearing = await clearing_by_request(s, list(await s.scalars(query)))
    return sum(clearing.values()), len(clearing)


# The patient's side: the link is the key (an unguessable token); no staff session, no patient data in it.


@dataclass(frozen=True)
class PayPage:
    """What the payment page shows the patient."""

    request_id: int
    token: str
    location: str
    description: str
    status: str
    amount_cents: int
    balance_cents: int
    currency: str
    allow_partial: bool
    expires_at: dt.datetime


async def open_link(services: Services, token: str) -> PayPage:
    """The patient opened the link: the first time marks the request opened (posted live)."""
    async with write_unit(services) as unit:
        s = unit.session
        query = select(PaymentRequest).where(PaymentRequest.token == token)
        if not services.settings.database.is_sqlite:
            query = query.with_for_update()  # Stripe's events for this request wait their turn
        request = await s.scalar(query.execution_options(populate_existing=True))
        if request is None:
            raise NotFound("this payment link is not valid")
        if request.opened_at is None:
            request.opened_at = utcnow()
            audit.record(s, None, "open", "payment_request", request.id)
        await refresh(unit, request)
        location = await s.get(Location, request.location_id)
        return PayPage(
            request_id=request.id,
            token=token,
            location=location.name if location else "",
            description=request.description,
            status=request.status,
            amount_cents=request.amount_cents,
            balance_cents=balance(request),
            currency=request.currency,
            allow_partial=request.allow_partial,
            expires_at=request.expires_at,
        )


def checkout_amount(page: PayPage, asked_cents: int | None) -> int:
    """What this checkout charges: the whole balance, or (when allowed) the part the patient chose."""
    if page.status not in OPEN_STATUSES or page.balance_cents <= 0:
        raise Conflict("this request cannot be paid now")
    if asked_cents is None or not page.allow_partial:
        return page.balance_cents
    if asked_cents < MIN_CENTS or asked_cents > page.balance_cents:
        raise InvalidRequest(
            f"enter an amount between {money(MIN_CENTS, page.currency)} and "
            f"{money(page.balance_cents, page.currency)}"
        )
    return asked_cents


# Stripe's events: each applied once (its id is stored in the same transaction), in any order.


async def apply_event(services: Services, event_id: str, event_type: str, fact: PaymentFact | None) -> bool:
    """Apply one verified Stripe event; False when it was applied before (a redelivery)."""
    try:
        async with write_unit(services) as unit:
            s = unit.session
            if await s.get(PaymentWebhookEvent, event_id) is not None:
                return False
            s.add(PaymentWebhookEvent(event_id=event_id, type=event_type[:100]))
            await s.flush()  # a concurrent delivery of the same event fails here, and rolls back whole
            lock = not services.settings.database.is_sqlite
            request, new_payment = await _record(s, fact, lock) if fact is not None else (None, None)
            if request is not None and fact is not None:
                await s.flush()
                await refresh(unit, request)
                audit.record(s, None, f"stripe_{fact.fact}", "payment_request", request.id)
                if new_payment is not None:
                    await confirm_payment(
                        services, unit, request, new_payment.amount_cents, new_payment.currency
                    )
            return True
    except IntegrityError:
        return False


async def _record(
    s: AsyncSession, fact: PaymentFact, lock: bool
) -> tuple[PaymentRequest | None, CheckoutPaid | None]:
    """Add the event's fact (each only grows, see comms.payment_state): the request it concerns, and the
    payment when it is one not seen before. The request's row is locked first (PostgreSQL; SQLite writers
    take turns anyway), so two events for one request never both count only their own payment."""
    if isinstance(fact, RefundSeen):
        row = await s.get(PaymentRefund, fact.payment_intent)
        if row is None:
            s.add(PaymentRefund(payment_intent=fact.payment_intent, charge=fact.charge, refunded_cents=0))
            await s.flush()
            row = await s.get(PaymentRefund, fact.payment_intent)
        if row is not None and fact.refunded_cents > row.refunded_cents:
            row.refunded_cents = fact.refunded_cents  # Stripe's running total: the highest seen is the truth
        # Its payment may not be here yet; the refund counts once it is (refresh joins the two).
        request_id = await s.scalar(
            select(PaymentReceived.request_id).where(PaymentReceived.payment_intent == fact.payment_intent)
        )
        found = await _locked(s, request_id, lock) if request_id is not None else None
        return found, None
    request = await _locked(s, fact.request_id, lock)
    if request is None:
        return None, None
    if isinstance(fact, CheckoutPaid):
        known = await s.scalar(
            select(PaymentReceived.id).where(PaymentReceived.payment_intent == fact.payment_intent)
        )
        if known is None:
            s.add(
                PaymentReceived(
                    request_id=request.id,
                    payment_intent=fact.payment_intent,
                    checkout_session=fact.checkout_session,
                    amount_cents=fact.amount_cents,
                    currency=fact.currency,
                )
            )
            return request, fact
        return request, None
    if isinstance(fact, CheckoutProcessing):
        pending = await _processing_row(s, request.id, fact.checkout_session)
        pending.started_at = pending.started_at or utcnow()
        pending.payment_intent = pending.payment_intent or fact.payment_intent
        pending.amount_cents = fact.amount_cents or pending.amount_cents
        return request, None
    request.failed_at = request.failed_at or utcnow()
    if fact.checkout_session is None:
        request.failure = fact.message
        return request, None
    # A bank debit that did not clear ends its session; the session's words are generic, so they only
    # fill an empty reason and never replace the bank's own (payment_intent.payment_failed), whichever
    # of the two arrives first.
    ended = await _processing_row(s, request.id, fact.checkout_session)
    ended.failed_at = ended.failed_at or utcnow()
    request.failure = request.failure or fact.message
    return request, None


async def _processing_row(s: AsyncSession, request_id: int, checkout_session: str) -> PaymentProcessing:
    """The session's row, made on first sight by whichever of its events comes first (the request's row
    is locked, so two events for it never both make one)."""
    row = await s.get(PaymentProcessing, checkout_session)
    if row is None:
        row = PaymentProcessing(checkout_session=checkout_session, request_id=request_id, amount_cents=0)
        s.add(row)
    return row


async def _locked(s: AsyncSession, request_id: int, lock: bool) -> PaymentRequest | None:
    return await s.get(PaymentRequest, request_id, with_for_update=lock, populate_existing=True)


async def refundable(services: Services, actor: Actor, request_id: int) -> list[tuple[str, int]]:
    """(PaymentIntent, cents not yet refunded) for each payment of a request staff may see."""
    request = await _visible(services, actor, request_id)
    async with services.read() as s:
        rows = (
            await s.execute(
                select(
                    PaymentReceived.payment_intent, PaymentReceived.amount_cents, PaymentRefund.refunded_cents
                )
                .outerjoin(PaymentRefund, PaymentRefund.payment_intent == PaymentReceived.payment_intent)
                .where(PaymentReceived.request_id == request.id)
                .order_by(PaymentReceived.id.desc())
            )
        ).all()
    return [
        (intent, amount - (refunded or 0)) for intent, amount, refunded in rows if amount > (refunded or 0)
    ]


async def record_refund_asked(
    services: Services, actor: Actor, request_id: int, cents: int, refunds: list[str]
) -> None:
    """The audit row for a refund staff asked Stripe for (the money moves when Stripe says so)."""
    async with services.unit() as unit:
        audit.record(
            unit.session,
            actor,
            "refund",
            "payment_request",
            request_id,
            {"cents": cents, "refunds": len(refunds)},
        )
