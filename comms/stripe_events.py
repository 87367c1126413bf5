"""Stripe events to the facts that move a payment request: pure, no I/O, tested on recorded payloads.

Events that are not about one of our requests (another integration on the same Stripe account, or a
type we do not act on) normalize to None and are acknowledged without change.
"""

from __future__ import annotations

from typing import Any

from schemas.payments import CheckoutPaid, CheckoutProcessing, PaymentFact, PaymentFailed, RefundSeen

REQUEST_KEY = "frontdesk_request"  # metadata key carrying our request id (a number, never patient data)
BANK_FAILED = "The bank payment did not go through."  # the session says no more; the PaymentIntent may


def _request_id(obj: dict[str, Any]) -> int | None:
    raw = (obj.get("metadata") or {}).get(REQUEST_KEY) or obj.get("client_reference_id")
    text = str(raw or "")
    return int(text) if text.isdigit() and len(text) < 19 else None


def _processing(obj: dict[str, Any]) -> CheckoutProcessing | None:
    """A session completed unpaid: the patient chose a bank debit, which clears (or not) days later."""
    request_id, intent = _request_id(obj), obj.get("payment_intent")
    if request_id is None or obj.get("status") != "complete" or not obj.get("id"):
        return None
    return CheckoutProcessing(
        request_id=request_id,
        payment_intent=intent if isinstance(intent, str) else None,
        checkout_session=str(obj["id"]),
        amount_cents=int(obj.get("amount_total") or 0),
    )


def _paid(obj: dict[str, Any]) -> CheckoutPaid | CheckoutProcessing | None:
    request_id, intent = _request_id(obj), obj.get("payment_intent")
    if obj.get("payment_status") == "unpaid":
        return _processing(obj)
    if request_id is None or not isinstance(intent, str) or obj.get("payment_status") != "paid":
        return None
    return CheckoutPaid(
        request_id=request_id,
        payment_intent=intent,
        checkout_session=str(obj["id"]),
        amount_cents=int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or "").lower(),
    )


def normalize(event: dict[str, Any]) -> PaymentFact | None:
    """The fact an event states about one of our requests, or None."""
    kind = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        return None
    if kind == "checkout.session.completed":
        return _paid(obj)
    if kind == "checkout.session.async_payment_succeeded":
        return _paid(obj) if obj.get("payment_status") == "paid" else None
    if kind == "checkout.session.async_payment_failed":
        request_id = _request_id(obj)
        if request_id is None or not obj.get("id"):
            return None
        return PaymentFailed(
            request_id=request_id,
            message=BANK_FAILED,
            checkout_session=str(obj["id"]),
        )
    if kind == "payment_intent.payment_failed":
        request_id = _request_id(obj)
        if request_id is None:
            return None
        error = obj.get("last_payment_error") or {}
        message = str(error.get("message") or "The payment was declined.")[:200]
        return PaymentFailed(request_id=request_id, message=message)
    if kind == "charge.refunded":
        intent = obj.get("payment_intent")
        if not isinstance(intent, str):
            return None
        return RefundSeen(
            payment_intent=intent,
            charge=str(obj.get("id")),
            refunded_cents=int(obj.get("amount_refunded") or 0),
        )
    return None
