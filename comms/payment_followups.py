"""Messages of a payment request (by text, or e-mail when staff chose it): the link, reminders while
it is unpaid, a thank-you for each payment.

Reminders go on the configured days after sending (payments.reminder_days) and stop at payment,
expiry or STOP. Each is claimed by one conditional UPDATE of the request's reminder count, so when
every node's sweeper looks at once exactly one sends it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from comms import audit
from comms.email_actions import queue_email
from comms.errors import InvalidRequest, OptedOut
from comms.messaging import queue_sms, write_unit
from comms.models import Conversation, Location, utcnow
from comms.payment_models import OPEN_STATUSES, PaymentRequest
from comms.payment_state import balance, refresh
from comms.reminder_claim import claim_reminder
from comms.services import Services, Unit
from comms.timeline import add_activity

BATCH = 200


def money(cents: int, currency: str) -> str:
    """$12.50 for dollars; other currencies as 12.50 EUR."""
    return f"${cents / 100:,.2f}" if currency == "usd" else f"{cents / 100:,.2f} {currency.upper()}"


def due_count(request: PaymentRequest, days: tuple[int, ...], now: dt.datetime) -> int:
    """How many reminders should have gone by now; after a pause (a node down) only the latest is sent."""
    return sum(1 for d in days if request.created_at + dt.timedelta(days=d) <= now)


SUBJECTS = {"request": "Payment request", "reminder": "Payment reminder", "receipt": "Payment received"}


async def send_to_patient(
    services: Services,
    unit: Unit,
    conversation: Conversation,
    request: PaymentRequest,
    body: str,
    kind: str,
    author_id: int | None = None,
) -> None:
    """Queue a payment message by the request's channel (text, or e-mail), in the caller's transaction."""
    meta: dict[str, object] = {"payment_request_id": request.id, "followup": kind}
    if request.channel == "email":
        location = await unit.session.get(Location, request.location_id)
        subject = f"{SUBJECTS.get(kind, 'Payment')} from {location.name if location else 'your care team'}"
        await queue_email(services, unit, conversation, body, subject=subject, author_id=author_id, meta=meta)
    else:
        await queue_sms(unit, conversation, body, author_id=author_id, meta=meta)


async def _followup(services: Services, unit: Unit, request: PaymentRequest, body: str, kind: str) -> bool:
    """Queue a follow-up; False (and a note in the thread) when the patient cannot be reached that way."""
    conversation = await unit.session.get(Conversation, request.conversation_id)
    if conversation is None:
        return False
    try:
        await send_to_patient(services, unit, conversation, request, body, kind)
    except (OptedOut, InvalidRequest) as exc:
        why = "the patient replied STOP" if isinstance(exc, OptedOut) else exc.message
        await add_activity(
            unit,
            conversation,
            f"Payment {kind} not sent: {why}.",
            {"action": f"payment_{kind}_skipped", "payment_request_id": request.id},
        )
        return False
    return True


async def _remind_one(services: Services, request_id: int, sent: int, due: int, now: dt.datetime) -> bool:
    days = services.settings.payments.reminder_days
    async with write_unit(services) as unit:
        s = unit.session
        if not await claim_reminder(s, PaymentRequest, request_id, sent, due, OPEN_STATUSES, now):
            return False  # paid, expired, or another node sent this one
        request = await s.get(PaymentRequest, request_id, populate_existing=True)
        location = await s.get(Location, request.location_id) if request else None
        if request is None or location is None:
            return False
        url = f"{services.settings.server.public_base_url}/pay/{request.token}"
        owed = money(balance(request), request.currency)
        body = f"{location.name}: a reminder that {owed} is still due. Pay securely here: {url}"
        sent_ok = await _followup(services, unit, request, body, "reminder")
        if not sent_ok:
            request.reminders_sent = len(days)  # STOP or no number: no more reminders for this request
        await refresh(unit, request, now)
        audit.record(s, None, "remind" if sent_ok else "remind_skipped", "payment_request", request.id)
        return sent_ok


async def remind_due(services: Services, now: dt.datetime | None = None) -> list[int]:
    """Send every reminder that has come due; returns the requests reminded by this call."""
    now = now or utcnow()
    days = services.settings.payments.reminder_days
    if not days:
        return []
    async with services.read() as s:
        candidates = list(
            await s.scalars(
                select(PaymentRequest)
                .where(
                    PaymentRequest.status.in_(OPEN_STATUSES),
                    PaymentRequest.expires_at > now,
                    PaymentRequest.reminders_sent < len(days),
                    PaymentRequest.created_at <= now - dt.timedelta(days=days[0]),
                )
                .order_by(PaymentRequest.id)
                .limit(BATCH)
            )
        )
    reminded = []
    for request in candidates:
        due = due_count(request, days, now)
        if due > request.reminders_sent and await _remind_one(
            services, request.id, request.reminders_sent, due, now
        ):
            reminded.append(request.id)
    return reminded


async def confirm_payment(
    services: Services, unit: Unit, request: PaymentRequest, cents: int, currency: str
) -> None:
    """The patient's receipt for one payment, queued in the transaction that recorded it."""
    location = await unit.session.get(Location, request.location_id)
    if location is None:
        return
    paid = money(cents, currency)
    left = balance(request)
    rest = f" {money(left, request.currency)} is still due." if left else ""
    body = f"{location.name}: thank you, we received your payment of {paid}.{rest}"
    if await _followup(services, unit, request, body, "receipt"):
        request.confirmed_at = utcnow()
