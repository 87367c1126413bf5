"""Stripe events to the facts that move a payment request: pure, no I/O, tested on recorded payloads.

Events that are not about one of our requests (another integration on the same Stripe account, or a
type we do not act on) normalize to None and are acknowledged without change.
"""

from __future__ import annotations

from typing import Any

from schemas.payments import CheckoutPaid, CheckoutProcessing, PaymentFact, PaymentFailed, RefundSeen

REQUEST_KEY = "frontdesk_request"  # metadata key carrying our request id (a number, never patient data)
BANK_FAILED = "The bank payment did not go through."  # the session says no more; the PaymentIntent may


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    """A Stripe id as our columns keep it (255 characters), or None when the event has none."""
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _cents(value: Any) -> int | None:
    """An amount in cents; None for anything that is not a whole number (the event is not acted on)."""
    if value is None:
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _request_id(obj: dict[str, Any]) -> int | None:
    raw = _dict(obj.get("metadata")).get(REQUEST_KEY) or obj.get("client_reference_id")
    text = str(raw or "")
    return int(text) if text.isdigit() and len(text) < 19 else None


def _processing(obj: dict[str, Any]) -> CheckoutProcessing | None:
    """A session completed unpaid: the patient chose a bank debit, which clears (or not) days later."""
    request_id, intent = _request_id(obj), _id(obj.get("payment_intent"))
    session, amount = _id(obj.get("id")), _cents(obj.get("amount_total"))
    if request_id is None or obj.get("status") != "complete" or session is None or amount is None:
        return None
    return CheckoutProcessing(
        request_id=request_id, payment_intent=intent, checkout_session=session, amount_cents=amount
    )


def _paid(obj: dict[str, Any]) -> CheckoutPaid | CheckoutProcessing | None:
    request_id, intent = _request_id(obj), _id(obj.get("payment_intent"))
    if obj.get("payment_status") == "unpaid":
        return _processing(obj)
    session, amount = _id(obj.get("id")), _cents(obj.get("amount_total"))
    if request_id is None or intent is None or session is None or amount is None:
        return None
    if obj.get("payment_status") != "paid":
        return None
    return CheckoutPaid(
        request_id=request_id,
        payment_intent=intent,
        checkout_session=session,
        amount_cents=amount,
        currency=str(obj.get("currency") or "").lower(),
    )


def normalize(event: dict[str, Any]) -> PaymentFact | None:
    """The fact an event states about one of our requests, or None."""
    kind = event.get("type")
    obj = _dict(event.get("data")).get("object") or {}
    if not isinstance(obj, dict):
        return None
    if kind == "checkout.session.completed":
        return _paid(obj)
    if kind == "checkout.session.async_payment_succeeded":
        return _paid(obj) if obj.get("payment_status") == "paid" else None
    if kind == "checkout.session.async_payment_failed":
        request_id, session = _request_id(obj), _id(obj.get("id"))
        if request_id is None or session is None:
            return None
        return PaymentFailed(request_id=request_id, message=BANK_FAILED, checkout_session=session)
    if kind == "payment_intent.payment_failed":
        request_id = _request_id(obj)
        if request_id is None:
            return None
        error = _dict(obj.get("last_payment_error"))
        message = str(error.get("message") or "The payment was declined.")[:200]
        return PaymentFailed(request_id=request_id, message=message)
    if kind == "charge.refunded":
        intent, refunded = _id(obj.get("payment_intent")), _cents(obj.get("amount_refunded"))
        if intent is None or refunded is None:
            return None
        return RefundSeen(payment_intent=intent, charge=str(obj.get("id"))[:255], refunded_cents=refunded)
    return None
