"""Payment tables: what staff asked a patient to pay, what Stripe says was paid or refunded, and the
webhook events already applied (Stripe retries and reorders them).

A request's status is never stored from an event directly: it is recomputed from facts that only
grow (payments received, the highest refunded total seen per payment, the first failure, the first
open), so events applied in any order, any number of times, end in the same state.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from comms.models import Base, BigId, utcnow

STATUSES = ("sent", "opened", "processing", "paid", "partially_paid", "failed", "expired", "refunded")
OPEN_STATUSES = frozenset({"sent", "opened", "partially_paid", "failed"})
# On the billing desk's open list too, marked clearing: a bank debit may yet pay it (or fail).
LISTED_OPEN = OPEN_STATUSES | {"processing"}


class PaymentRequest(Base):
    """An amount staff asked a patient to pay through a link; `token` is the link's only key."""

    __tablename__ = "payment_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("timeline_items.id", ondelete="SET NULL"), unique=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    allow_partial: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str] = mapped_column(
        String(8), default="sms"
    )  # how the link and follow-ups go: sms, email
    status: Mapped[str] = mapped_column(String(16), default="sent")
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[dt.datetime | None]
    failed_at: Mapped[dt.datetime | None]
    failure: Mapped[str | None] = mapped_column(String(200))  # the card's decline reason, in Stripe's words
    paid_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[dt.datetime | None]  # when the "thank you" text was queued
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    __table_args__ = (
        Index("ix_payment_requests_location_status", "location_id", "status"),
        Index("ix_payment_requests_status_expires", "status", "expires_at"),
    )


class PaymentReceived(Base):
    """One successful payment towards a request (a Checkout Session's PaymentIntent), recorded once."""

    __tablename__ = "payment_received"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id", ondelete="CASCADE"), index=True)
    payment_intent: Mapped[str] = mapped_column(String(255), unique=True)
    checkout_session: Mapped[str | None] = mapped_column(String(255))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentRefund(Base):
    """How much of one payment has been refunded: Stripe's running total, kept at the highest seen.

    Keyed by the PaymentIntent so a refund event that overtakes its payment's event still counts once
    the payment arrives.
    """

    __tablename__ = "payment_refunds"
    payment_intent: Mapped[str] = mapped_column(String(255), primary_key=True)
    charge: Mapped[str | None] = mapped_column(String(255))
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PaymentProcessing(Base):
    """A Checkout Session that completed unpaid (a bank debit, which clears days later) and how it ended.

    Keyed by the session, which completes once: its payment counts when a PaymentReceived names it,
    `failed_at` when Stripe says the debit did not clear; either may arrive before the completion.
    """

    __tablename__ = "payment_processing"
    checkout_session: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id", ondelete="CASCADE"), index=True)
    payment_intent: Mapped[str | None] = mapped_column(String(255))
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime | None]  # checkout.session.completed with payment_status unpaid
    failed_at: Mapped[dt.datetime | None]  # checkout.session.async_payment_failed


class PaymentWebhookEvent(Base):
    """A Stripe event id already applied; a redelivery finds it here and changes nothing."""

    __tablename__ = "payment_webhook_events"
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
