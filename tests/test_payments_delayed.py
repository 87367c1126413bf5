"""Delayed payment methods (a US bank debit): Checkout completes unpaid, the request shows "processing"
live in the thread (and as clearing, apart from what is due, on the billing desk's open list and in the
balance), and ends paid or failed when Stripe's async_payment_succeeded or async_payment_failed arrives;
the same in any order and on duplicates."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from comms.models import TimelineItem
from comms.payment_models import PaymentProcessing, PaymentReceived
from tests.payments_rig import (
    PayRig,
    event,
    intent_failed,
    post_event,
    request_row,
    session_completed,
    signed,
    start_payments,
)
from tests.sms_helpers import wait_for
from tests.test_payments import _ask, _item_update, _link, _new_request, _status
from tests.voice import open_desk
from web.keys import SERVICES
from web.stripe_sandbox import STRIPE_ACCOUNT, STRIPE_DELIVERIES

BANK_CLOSED = "The customer's bank account has been closed."


@pytest.fixture
async def rig(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[PayRig]:
    yield await start_payments(db_settings, aiohttp_server, tmp_path)


async def _pay_by_bank(rig: PayRig, link: str, account: str) -> str:
    """Open the link, go to Checkout, pay from a test bank account; the Checkout Session's id."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{link}/checkout", allow_redirects=False) as to_stripe:
            assert to_stripe.status == 303, await to_stripe.text()
            checkout = to_stripe.headers["Location"]
        form = {"method": "bank", "routing": "110000000", "account": account}
        async with http.post(checkout, data=form, allow_redirects=False) as done:
            assert done.status == 303
    await rig.stripe_app[STRIPE_DELIVERIES].drained()
    return checkout.rsplit("/", 1)[-1]


async def _settle(rig: PayRig, session_id: str) -> None:
    url = f"{rig.stripe}/sandbox/stripe/checkout/sessions/{session_id}/settle"
    async with aiohttp.ClientSession() as http, http.post(url) as settled:
        assert settled.status == 200, await settled.text()
    await rig.stripe_app[STRIPE_DELIVERIES].drained()


async def _page(link: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(link) as page:
        assert page.status == 200
        return await page.text()


async def _receipts(rig: PayRig) -> list[str]:
    async with rig.app[SERVICES].read() as s:
        rows = await s.scalars(
            select(TimelineItem.body).where(TimelineItem.kind == "sms", TimelineItem.direction == "out")
        )
        return [body for body in rows if "thank you, we received" in body]


async def test_a_bank_payment_shows_processing_live_then_paid_with_one_receipt(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 9000)
        link = await _link(rig, out["id"])
        session_id = await _pay_by_bank(rig, link, "000123456789")
        processing = await desk.event(_item_update(out["id"], "processing"))
        assert processing["item"]["meta"]["processing_cents"] == 9000
        assert processing["item"]["meta"]["balance_cents"] == 0
        row = await _status(rig, out["id"], "processing")
        assert (row.paid_cents, row.paid_at) == (0, None)
        assert "bank payment is being processed" in await _page(link)
        balance = await desk.api("GET", f"{rig.base}/api/v1/contacts/{out['contact_id']}/balance")
        assert balance["open_cents"] == 0  # nothing to chase while the bank clears it
        assert (balance["clearing_cents"], balance["clearing_requests"]) == (9000, 1)  # said apart
        desk_list = f"{rig.base}/api/v1/locations/{rig.carrier.practice.loc_a}/payment-requests"
        listed = {r["id"]: r for r in await desk.api("GET", desk_list)}
        assert (listed[out["id"]]["status"], listed[out["id"]]["clearing_cents"]) == ("processing", 9000)
        assert listed[out["id"]]["balance_cents"] == 0
        assert await _receipts(rig) == []  # no receipt before the money is there
        await _settle(rig, session_id)
        paid = await desk.event(_item_update(out["id"], "paid"))
        assert paid["item"]["meta"]["paid_cents"] == 9000 and paid["item"]["meta"]["processing_cents"] == 0
        assert "Paid in full ($90.00)" in await _page(link)
        assert out["id"] not in {r["id"] for r in await desk.api("GET", desk_list)}
        balance = await desk.api("GET", f"{rig.base}/api/v1/contacts/{out['contact_id']}/balance")
        assert (balance["open_cents"], balance["clearing_cents"]) == (0, 0)
        assert await wait_for(lambda: _receipts(rig), what="the receipt") == [
            "North: thank you, we received your payment of $90.00."
        ]
    finally:
        await desk.close()


async def _call_pops(rig: PayRig, contact_id: int) -> tuple[Any, Any]:
    """The caller's balance as the call pop shows it to staff at North, and at South only."""
    from comms.call_pop import caller_of
    from comms.models import Contact

    p = rig.carrier.practice
    async with rig.app[SERVICES].read() as s:
        contact = await s.get(Contact, contact_id)
        assert contact is not None
        north = await caller_of(s, contact, [], {p.loc_a})
        south = await caller_of(s, contact, [], {p.loc_b})
    return north.balance, south.balance


async def test_the_call_pop_says_a_clearing_bank_debit_apart_from_the_open_balance(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        owed = await _ask(desk, rig, 4200)
        clearing = await _ask(desk, rig, 9000)
        session_id = await _pay_by_bank(rig, await _link(rig, clearing["id"]), "000123456789")
        await desk.event(_item_update(clearing["id"], "processing"))
        north, south = await _call_pops(rig, owed["contact_id"])
        assert north == {
            "open_cents": 4200,
            "currency": "usd",
            "open_requests": 1,
            "label": "$42.00 open (1 request)",
            "clearing_cents": 9000,
            "clearing_requests": 1,
            "clearing_label": "clearing: $90.00",
        }
        assert south is None  # not a location those staff see
        await _settle(rig, session_id)
        await desk.event(_item_update(clearing["id"], "paid"))
        north, _ = await _call_pops(rig, owed["contact_id"])
        assert north is not None
        assert (north["open_cents"], north["clearing_cents"], north["clearing_label"]) == (4200, 0, "")
    finally:
        await desk.close()


async def test_the_call_pop_shows_a_balance_that_is_only_clearing(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 9000)
        await _pay_by_bank(rig, await _link(rig, out["id"]), "000123456789")
        await desk.event(_item_update(out["id"], "processing"))
        north, _ = await _call_pops(rig, out["contact_id"])
        assert north is not None
        assert (north["open_cents"], north["open_requests"], north["label"]) == (0, 0, "nothing open")
        assert (north["clearing_cents"], north["clearing_label"]) == (9000, "clearing: $90.00")
    finally:
        await desk.close()


async def test_a_bank_payment_that_fails_ends_failed_with_the_banks_reason_then_a_card_pays(
    rig: PayRig,
) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 4000)
        link = await _link(rig, out["id"])
        session_id = await _pay_by_bank(rig, link, "000111111113")
        await desk.event(_item_update(out["id"], "processing"))
        await _settle(rig, session_id)
        failed = await desk.event(_item_update(out["id"], "failed"))
        assert failed["item"]["meta"]["failure"] == BANK_CLOSED
        assert failed["item"]["meta"]["balance_cents"] == 4000
        assert "did not go through" in await _page(link)
        kinds = [e["type"] for e in rig.stripe_app[STRIPE_ACCOUNT].events]
        assert kinds[-3:] == [
            "charge.failed",
            "payment_intent.payment_failed",
            "checkout.session.async_payment_failed",
        ]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{link}/checkout", allow_redirects=False) as to_stripe:
                checkout = to_stripe.headers["Location"]
            async with http.post(checkout, data={"card": "4242424242424242"}, allow_redirects=False) as ok:
                assert ok.status == 303
        await rig.stripe_app[STRIPE_DELIVERIES].drained()
        await desk.event(_item_update(out["id"], "paid"))
    finally:
        await desk.close()


def _unpaid(request_id: int, intent: str, amount: int, session_id: str) -> dict[str, Any]:
    return session_completed(request_id, intent, amount, session_id) | {"payment_status": "unpaid"}


def _bank_failed(request_id: int, intent: str) -> dict[str, Any]:
    failed = intent_failed(request_id, intent)
    failed["last_payment_error"] = {"code": "account_closed", "message": BANK_CLOSED}
    return failed


async def _post_all(rig: PayRig, events: list[dict[str, Any]], order: tuple[int, ...]) -> None:
    for i in order:
        for _ in range(2):
            status, _reply = await post_event(rig.base, *signed(events[i]))
            assert status == 200


async def test_a_clearing_bank_payment_ends_paid_in_every_order_and_on_duplicates(rig: PayRig) -> None:
    for n, order in enumerate(itertools.permutations(range(2))):
        request_id = await _new_request(rig, 3000)
        events = [
            event("checkout.session.completed", _unpaid(request_id, f"pi_s{n}", 3000, f"cs_s{n}"), f"e_c{n}"),
            event(
                "checkout.session.async_payment_succeeded",
                session_completed(request_id, f"pi_s{n}", 3000, f"cs_s{n}"),
                f"e_s{n}",
            ),
        ]
        await _post_all(rig, events, order[:1])
        first = await request_row(rig.app, request_id)
        assert first.status == ("processing" if order[0] == 0 else "paid"), order
        await _post_all(rig, events, order[1:])
        row = await request_row(rig.app, request_id)
        assert (row.status, row.paid_cents, row.failure) == ("paid", 3000, None), order
    async with rig.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentReceived)) == 2
        assert await s.scalar(select(func.count()).select_from(PaymentProcessing)) == 2


async def test_a_failing_bank_payment_ends_failed_in_every_order_and_on_duplicates(rig: PayRig) -> None:
    """The session's completion, the PaymentIntent's failure (the bank's words) and the session's
    async failure (generic words): all 6 orders, each twice, end failed with the bank's words."""
    for n, order in enumerate(itertools.permutations(range(3))):
        request_id = await _new_request(rig, 3000)
        events = [
            event("checkout.session.completed", _unpaid(request_id, f"pi_f{n}", 3000, f"cs_f{n}"), f"f_c{n}"),
            event("payment_intent.payment_failed", _bank_failed(request_id, f"pi_f{n}"), f"f_p{n}"),
            event(
                "checkout.session.async_payment_failed",
                _unpaid(request_id, f"pi_f{n}", 3000, f"cs_f{n}"),
                f"f_s{n}",
            ),
        ]
        await _post_all(rig, events, order)
        row = await request_row(rig.app, request_id)
        assert (row.status, row.paid_cents, row.failure) == ("failed", 0, BANK_CLOSED), order
    # Then the same request paid by a second bank debit that clears: processing, then paid.
    again = [
        event("checkout.session.completed", _unpaid(request_id, "pi_g", 3000, "cs_g"), "g_c"),
        event(
            "checkout.session.async_payment_succeeded",
            session_completed(request_id, "pi_g", 3000, "cs_g"),
            "g_s",
        ),
    ]
    await _post_all(rig, again, (0,))
    assert (await request_row(rig.app, request_id)).status == "processing"
    await _post_all(rig, again, (1,))
    assert (await request_row(rig.app, request_id)).status == "paid"
