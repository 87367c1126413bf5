"""Payment contracts: staff requests and their state on the wire, balances, and the Stripe events we
accept, normalized to the few facts that move a request (processing, paid, failed, refunded)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PaymentStatus = Literal[
    "sent", "opened", "processing", "paid", "partially_paid", "failed", "expired", "refunded"
]
MAX_CENTS = 10_000_000  # $100,000: anything larger is a typo at a front desk
MIN_CENTS = 50  # Stripe's smallest USD charge


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentRequestIn(_Strict):
    """Ask the patient of a thread to pay an amount; they get a text with a link to pay it."""

    amount_cents: int = Field(ge=MIN_CENTS, le=MAX_CENTS, description="in the smallest unit (cents)")
    description: str = Field(min_length=1, max_length=200, description="shown to staff and the patient")
    allow_partial: bool = Field(False, description="the patient may pay part now and the rest later")
    channel: Literal["sms", "email"] = Field("sms", description="how the link, reminders and receipts go")
    expires_in_days: int | None = Field(None, ge=1, le=365, description="default: payments.link_days")

    @field_validator("description")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value


class PaymentRequestOut(_Strict):
    id: int
    conversation_id: int
    contact_id: int
    location_id: int
    item_id: int | None
    amount_cents: int
    currency: str
    description: str
    allow_partial: bool
    channel: Literal["sms", "email"]
    status: PaymentStatus
    paid_cents: int
    refunded_cents: int
    balance_cents: int = Field(description="what is still to pay (0 once paid, expired or refunded)")
    failure: str | None
    reminders_sent: int
    expires_at: dt.datetime
    opened_at: dt.datetime | None
    paid_at: dt.datetime | None
    created_at: dt.datetime
    contact_name: str | None = Field(None, description="in a location's list: whose request it is")
    clearing_cents: int = Field(0, description="in a location's list: bank debits still clearing")


class PaymentListQuery(_Strict):
    state: Literal["open", "all"] = Field("open", description="open: still to pay; all: every request")


class RefundIn(_Strict):
    amount_cents: int | None = Field(
        None,
        ge=1,
        le=MAX_CENTS,
        strict=True,  # a whole number of cents: true, "30" or 30.0 are not amounts anyone typed
        description="default: everything paid and not yet refunded",
    )


class RefundOut(_Strict):
    request_id: int
    refunded_cents: int = Field(description="asked of Stripe now; the request follows Stripe's event")
    refunds: list[str] = Field(description="Stripe's refund ids")


class BalanceOut(_Strict):
    """A patient's open balance: what their unpaid, unexpired payment requests still ask for."""

    contact_id: int
    open_cents: int
    currency: str
    open_requests: int
    clearing_cents: int = Field(0, description="bank debits still clearing (not in open_cents)")
    clearing_requests: int = 0


class CheckoutPaid(_Strict):
    """A Checkout Session was paid (checkout.session.completed with payment_status paid, or the
    async_payment_succeeded that follows a delayed method)."""

    fact: Literal["paid"] = "paid"
    request_id: int
    payment_intent: str
    checkout_session: str
    amount_cents: int
    currency: str


class CheckoutProcessing(_Strict):
    """A Checkout Session completed with payment_status unpaid: a delayed method (a bank debit) that
    Stripe settles days later with async_payment_succeeded or async_payment_failed."""

    fact: Literal["processing"] = "processing"
    request_id: int
    payment_intent: str | None
    checkout_session: str
    amount_cents: int


class PaymentFailed(_Strict):
    """A payment attempt failed (a declined card, a delayed method that did not clear)."""

    fact: Literal["failed"] = "failed"
    request_id: int
    message: str
    checkout_session: str | None = Field(
        None, description="set for a delayed method's failure (async_payment_failed): that session ends"
    )


class RefundSeen(_Strict):
    """Stripe's running refunded total for one payment (charge.refunded)."""

    fact: Literal["refunded"] = "refunded"
    payment_intent: str
    charge: str
    refunded_cents: int


PaymentFact = CheckoutPaid | CheckoutProcessing | PaymentFailed | RefundSeen
