"""Appointment, payment and review figures for a location and range (comms/appointments.py,
comms/payments.py and comms/reviews.py keep the records).

Appointments: booked = made during the range (self-scheduled when no staff member booked it; a
waitlist fill when a waiting patient took a freed slot offered to them, comms/waitlist_offers.py);
visits = appointments starting in the range that were not cancelled; confirmed = visits the patient
or staff confirmed at some point (an appointment item with status "confirmed" in the thread, since a
visit may go on to checked in and completed); no-show rate over visits whose time has come.
Payments: requests made in the range, per currency; collected = received in the range; days to pay
from request to full payment; outstanding = those requests still open now. Reviews: requests sent in
the range and how many were clicked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.analytics_range import Scope, median, rate
from comms.analytics_waits import chunks
from comms.models import TimelineItem
from comms.payment_models import OPEN_STATUSES, PaymentReceived, PaymentRequest
from comms.review_models import ReviewRequest
from comms.schedule_models import Appointment
from comms.waitlist_models import WaitlistOffer
from schemas.analytics import AppointmentFigures, PaymentTotals, ReviewFigures

DAY_SECONDS = 86400.0


@dataclass
class VisitResult:
    appointments: AppointmentFigures
    payments: list[PaymentTotals]
    reviews: ReviewFigures
    conversations: dict[str, set[int]] = field(default_factory=dict)


async def _confirmed(session: AsyncSession, conversations: set[int]) -> set[int]:
    """Appointment ids that were confirmed at some point (their thread has the "confirmed" item)."""
    found: set[int] = set()
    for chunk in chunks(conversations):
        metas = await session.scalars(
            select(TimelineItem.meta).where(
                TimelineItem.conversation_id.in_(chunk),
                TimelineItem.kind == "appointment",
                TimelineItem.status == "confirmed",
            )
        )
        found |= {int(m["appointment_id"]) for m in metas if isinstance(m, dict) and "appointment_id" in m}
    return found


async def _appointments(session: AsyncSession, scope: Scope, ids: dict[str, set[int]]) -> AppointmentFigures:
    a = Appointment
    in_range = (a.location_id == scope.location_id, a.created_at >= scope.since, a.created_at < scope.until)
    booked = (await session.execute(select(a.conversation_id, a.booked_by_id).where(*in_range))).all()
    # The appointment a taken offer booked (one per slot: its rivals are released, never taken).
    filled = (
        await session.execute(
            select(a.id, a.conversation_id).where(
                *in_range,
                exists().where(WaitlistOffer.appointment_id == a.id, WaitlistOffer.state == "taken"),
            )
        )
    ).all()
    starting = (
        await session.execute(
            select(a.id, a.conversation_id, a.status, a.starts_at).where(
                a.location_id == scope.location_id, a.starts_at >= scope.since, a.starts_at < scope.until
            )
        )
    ).all()
    visits = [row for row in starting if row.status != "cancelled"]
    confirmed_ids = await _confirmed(session, {row.conversation_id for row in visits})
    confirmed = [row for row in visits if row.id in confirmed_ids]
    due = [row for row in visits if row.starts_at <= scope.now]
    no_shows = [row for row in visits if row.status == "no_show"]
    ids["booked"] = {conversation_id for conversation_id, _by in booked}
    ids["waitlist_fills"] = {row.conversation_id for row in filled}
    ids["no_shows"] = {row.conversation_id for row in no_shows}
    return AppointmentFigures(
        booked=len(booked),
        self_scheduled=sum(1 for _c, by in booked if by is None),
        waitlist_fills=len(filled),
        visits=len(visits),
        confirmed=len(confirmed),
        confirmed_rate=rate(len(confirmed), len(visits)),
        no_shows=len(no_shows),
        no_show_rate=rate(len(no_shows), len(due)),
        cancelled=len(starting) - len(visits),
    )


async def _payments(session: AsyncSession, scope: Scope, ids: dict[str, set[int]]) -> list[PaymentTotals]:
    p = PaymentRequest
    requests = (
        await session.execute(
            select(
                p.conversation_id, p.currency, p.amount_cents, p.paid_cents, p.status, p.expires_at,
                p.created_at, p.paid_at,
            ).where(
                p.location_id == scope.location_id, p.created_at >= scope.since, p.created_at < scope.until
            )
        )
    ).all()  # fmt: skip
    collected = await session.execute(
        select(PaymentReceived.currency, func.sum(PaymentReceived.amount_cents))
        .join(p, p.id == PaymentReceived.request_id)
        .where(
            p.location_id == scope.location_id,
            PaymentReceived.received_at >= scope.since,
            PaymentReceived.received_at < scope.until,
        )
        .group_by(PaymentReceived.currency)
    )
    received = {currency.lower(): int(cents or 0) for currency, cents in collected}
    by_currency: dict[str, list[Any]] = defaultdict(list)
    for row in requests:
        by_currency[row.currency.lower()].append(row)
    ids["outstanding"] = set()
    totals = []
    for currency in sorted(set(by_currency) | set(received)):
        rows = by_currency.get(currency, [])
        open_now = [r for r in rows if r.status in OPEN_STATUSES and r.expires_at > scope.now]
        paid = [r for r in rows if r.paid_at is not None and r.paid_cents >= r.amount_cents]
        days = [(r.paid_at - r.created_at).total_seconds() / DAY_SECONDS for r in paid]
        ids["outstanding"] |= {r.conversation_id for r in open_now}
        middle = median(days)
        totals.append(
            PaymentTotals(
                currency=currency,
                requested=len(rows),
                requested_cents=sum(r.amount_cents for r in rows),
                collected_cents=received.get(currency, 0),
                paid=len(paid),
                median_days_to_pay=round(middle, 1) if middle is not None else None,
                outstanding=len(open_now),
                outstanding_cents=sum(max(0, r.amount_cents - r.paid_cents) for r in open_now),
            )
        )
    return totals


async def _reviews(session: AsyncSession, scope: Scope, ids: dict[str, set[int]]) -> ReviewFigures:
    r = ReviewRequest
    rows = (
        await session.execute(
            select(r.conversation_id, r.first_clicked_at).where(
                r.location_id == scope.location_id, r.created_at >= scope.since, r.created_at < scope.until
            )
        )
    ).all()
    clicked = [c for c, at in rows if at is not None]
    ids["reviews_clicked"] = set(clicked)
    return ReviewFigures(requested=len(rows), clicked=len(clicked), click_rate=rate(len(clicked), len(rows)))


async def visit_figures(session: AsyncSession, scope: Scope) -> VisitResult:
    """Appointments, payments and reviews of the range, with the conversations behind the drill-downs."""
    ids: dict[str, set[int]] = {}
    appointments = await _appointments(session, scope, ids)
    payments = await _payments(session, scope, ids)
    reviews = await _reviews(session, scope, ids)
    return VisitResult(appointments, payments, reviews, ids)
