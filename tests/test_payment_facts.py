"""The pure parts of payments: Stripe events normalized to facts, and the status those facts add up to."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from pydantic import ValidationError

from comms.payment_models import PaymentRequest
from comms.payment_state import balance, derive
from comms.stripe_events import normalize
from schemas.payments import CheckoutPaid, CheckoutProcessing, PaymentFailed, RefundIn, RefundSeen
from tests.payments_rig import charge_refunded, event, intent_failed, session_completed

NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)


def test_checkout_events_become_payments_only_when_paid() -> None:
    paid = normalize(event("checkout.session.completed", session_completed(7, "pi_1", 2500, "cs_1"), "e"))
    assert paid == CheckoutPaid(
        request_id=7, payment_intent="pi_1", checkout_session="cs_1", amount_cents=2500, currency="usd"
    )
    delayed = session_completed(7, "pi_1", 2500, "cs_1") | {"payment_status": "unpaid"}
    assert normalize(event("checkout.session.completed", delayed, "e")) == CheckoutProcessing(
        request_id=7, payment_intent="pi_1", checkout_session="cs_1", amount_cents=2500
    )
    still_open = delayed | {"status": "open"}
    assert normalize(event("checkout.session.completed", still_open, "e")) is None
    cleared = session_completed(7, "pi_1", 2500, "cs_1")
    assert normalize(event("checkout.session.async_payment_succeeded", cleared, "e")) == paid
    assert normalize(event("checkout.session.async_payment_succeeded", delayed, "e")) is None
    bounced = normalize(event("checkout.session.async_payment_failed", delayed, "e"))
    assert bounced == PaymentFailed(
        request_id=7, message="The bank payment did not go through.", checkout_session="cs_1"
    )
    foreign = delayed | {"metadata": {}, "client_reference_id": None}
    assert normalize(event("checkout.session.completed", foreign, "e")) is None
    assert normalize(event("checkout.session.async_payment_failed", foreign, "e")) is None


def test_failures_refunds_and_foreign_events() -> None:
    assert normalize(event("payment_intent.payment_failed", intent_failed(9, "pi_2"), "e")) == PaymentFailed(
        request_id=9, message="Your card was declined."
    )
    assert normalize(event("charge.refunded", charge_refunded("pi_2", "ch_2", 500, 200), "e")) == RefundSeen(
        payment_intent="pi_2", charge="ch_2", refunded_cents=200
    )
    foreign = session_completed(1, "pi_3", 500, "cs_3") | {"metadata": {}, "client_reference_id": None}
    assert normalize(event("checkout.session.completed", foreign, "e")) is None
    injected = session_completed(1, "pi_3", 500, "cs_3") | {"metadata": {"frontdesk_request": "1; DROP"}}
    injected["client_reference_id"] = "x"
    assert normalize(event("checkout.session.completed", injected, "e")) is None
    assert normalize(event("customer.created", {"id": "cus_1"}, "e")) is None
    assert normalize({"type": "charge.refunded", "data": {"object": "not an object"}}) is None


def test_a_signed_event_missing_or_mistyping_a_field_is_not_acted_on_and_never_raises() -> None:
    """The webhook answers 500 on an exception, and Stripe then redelivers the event for days."""
    delayed = session_completed(7, "pi_1", 2500, "cs_1") | {"payment_status": "unpaid"}
    shapes = {
        "checkout.session.completed": [session_completed(7, "pi_1", 2500, "cs_1"), delayed],
        "checkout.session.async_payment_succeeded": [session_completed(7, "pi_1", 2500, "cs_1")],
        "checkout.session.async_payment_failed": [delayed],
        "payment_intent.payment_failed": [intent_failed(7, "pi_1")],
        "charge.refunded": [charge_refunded("pi_1", "ch_1", 500, 200)],
    }
    odd: list[object] = ["<missing>", None, "", "abc", [], {}, 1.5, True, "x" * 1000]
    for kind, objects in shapes.items():
        for obj in objects:
            for key, value in itertools.product(list(obj), odd):
                changed = {k: v for k, v in obj.items() if k != key}
                if value != "<missing>":
                    changed[key] = value
                normalize(event(kind, changed, "e"))  # a fact or None; never an exception
    paid = session_completed(7, "pi_1", 2500, "cs_1")
    assert (
        normalize(event("checkout.session.completed", {k: v for k, v in paid.items() if k != "id"}, "e"))
        is None
    )
    assert normalize(event("checkout.session.completed", paid | {"amount_total": "2500"}, "e")) is None
    assert normalize(event("checkout.session.async_payment_failed", delayed | {"id": "x" * 300}, "e")) is None
    assert normalize({"type": "charge.refunded", "data": ["not", "a", "dict"]}) is None


def _request(**facts: object) -> PaymentRequest:
    base: dict[str, object] = {
        "amount_cents": 3000,
        "paid_cents": 0,
        "refunded_cents": 0,
        "opened_at": None,
        "failed_at": None,
        "expires_at": NOW + dt.timedelta(days=30),
        "status": "sent",
    }
    return PaymentRequest(**(base | facts))


def test_status_from_facts() -> None:
    later = NOW + dt.timedelta(days=31)
    cases = [
        ({}, NOW, "sent"),
        ({"opened_at": NOW}, NOW, "opened"),
        ({"opened_at": NOW, "failed_at": NOW}, NOW, "failed"),
        ({"failed_at": NOW, "paid_cents": 1000}, NOW, "partially_paid"),
        ({"failed_at": NOW, "paid_cents": 3000}, NOW, "paid"),
        ({"paid_cents": 3500}, NOW, "paid"),
        ({"paid_cents": 3000, "refunded_cents": 1000}, NOW, "paid"),
        ({"paid_cents": 3000, "refunded_cents": 3000}, NOW, "refunded"),
        ({"paid_cents": 1000, "refunded_cents": 1000}, NOW, "refunded"),
        ({"opened_at": NOW}, later, "expired"),
        ({"paid_cents": 1000}, later, "expired"),
        ({"paid_cents": 3000}, later, "paid"),
    ]
    for facts, at, wanted in cases:
        assert derive(_request(**facts), at) == wanted, facts
    processing = [
        ({"opened_at": NOW}, NOW, "processing"),
        ({"opened_at": NOW, "failed_at": NOW}, NOW, "processing"),  # a later bank debit after a decline
        ({"paid_cents": 1000}, NOW, "processing"),  # the rest is clearing
        ({"opened_at": NOW}, later, "processing"),  # the link expired, the money may still come
        ({"paid_cents": 3000}, NOW, "paid"),
        ({"paid_cents": 3000, "refunded_cents": 3000}, NOW, "refunded"),
    ]
    for facts, at, wanted in processing:
        assert derive(_request(**facts), at, processing=1) == wanted, facts


def test_facts_in_any_order_reach_one_status() -> None:
    steps = [("opened_at", NOW), ("failed_at", NOW), ("paid_cents", 1000), ("paid_cents", 3000)]
    finals = set()
    for order in itertools.permutations(steps):
        request = _request()
        seen: list[str] = []
        for name, value in order:
            if name == "paid_cents":
                value = max(request.paid_cents, int(value))  # type: ignore[call-overload]
            setattr(request, name, value)
            request.status = derive(request, NOW)
            seen.append(request.status)
        finals.add(request.status)
        assert seen[-1] == "paid"
    assert finals == {"paid"}


def test_balance_counts_only_open_requests() -> None:
    assert balance(_request(status="partially_paid", paid_cents=1000)) == 2000
    assert balance(_request(status="expired", paid_cents=1000)) == 0
    assert balance(_request(status="paid", paid_cents=3000)) == 0
    assert balance(_request(status="processing")) == 0  # nothing to pay while the bank clears it


def test_access_log_masks_the_patients_link_tokens() -> None:
    from web.access_log import logged_path

    assert logged_path("/pay/AbC_123-xyzTOKENtoken0123456789") == "/pay/…"
    assert logged_path("/pay/AbC_123-xyzTOKENtoken0123456789/checkout") == "/pay/…/checkout"
    assert logged_path("/r/shortTok") == "/r/…"
    assert logged_path("/api/v1/payment-requests/12") == "/api/v1/payment-requests/12"
    assert logged_path("/repair/x") == "/repair/x"


def test_a_refund_amount_is_a_whole_positive_number_of_cents_within_the_limit() -> None:
    assert RefundIn.model_validate_json('{"amount_cents": 3000}').amount_cents == 3000
    assert RefundIn.model_validate_json("{}").amount_cents is None
    for raw in ("true", '"30"', "30.0", "30.5", "0", "-5", "10000001", "1e30", "[1]"):
        with pytest.raises(ValidationError):
            RefundIn.model_validate_json(f'{{"amount_cents": {raw}}}')
