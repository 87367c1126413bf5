"""Payment requests end to end: staff ask from a thread, the patient gets the text, opens the link and
pays on the Stripe stand-in's Checkout page through the real stripe library; Stripe's signed events
settle the request (once each, in any order), refunds, expiry, access and audit."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from comms import payments
from comms.access import Actor
from comms.errors import OptedOut
from comms.models import AuditEntry, OptOut, TimelineItem, utcnow
from comms.payment_models import PaymentReceived, PaymentRequest, PaymentWebhookEvent
from comms.payment_sweeper import expire_due
from schemas.payments import PaymentRequestIn
from tests.helpers import ORIGIN, sign_in
from tests.payments_rig import (
    PayRig,
    charge_refunded,
    event,
    intent_failed,
    post_event,
    request_row,
    session_completed,
    signed,
    start_payments,
)
from tests.sms_helpers import wait_for
from tests.voice import Desk, open_desk
from web.keys import SERVICES
from web.stripe_sandbox import STRIPE_ACCOUNT, STRIPE_DELIVERIES

PATIENT_A = "+12025550170"


@pytest.fixture
async def rig(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[PayRig]:
    yield await start_payments(db_settings, aiohttp_server, tmp_path)


async def _ask(desk: Desk, rig: PayRig, cents: int = 12500, **extra: Any) -> dict[str, Any]:
    body = {"amount_cents": cents, "description": "Crown, balance after insurance", **extra}
    url = f"{rig.base}/api/v1/conversations/{rig.carrier.practice.conv_a}/payment-requests"
    return dict(await desk.api("POST", url, body))


async def _link(rig: PayRig, request_id: int) -> str:
    row = await request_row(rig.app, request_id)
    return f"{rig.base}/pay/{row.token}"


async def _pay(rig: PayRig, link: str, card: str = "4242424242424242", amount: str | None = None) -> str:
    """Open the link, go to Checkout, pay with a test card; the page the patient lands on."""
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:
            assert page.status == 200, await page.text()
        form = {"amount": amount} if amount is not None else {}
        async with http.post(f"{link}/checkout", data=form, allow_redirects=False) as to_stripe:
            assert to_stripe.status == 303, await to_stripe.text()
            checkout = to_stripe.headers["Location"]
        assert checkout.startswith(f"{rig.stripe}/c/pay/cs_test_")
        async with http.post(checkout, data={"card": card}) as landed:
            text = await landed.text()
    await rig.stripe_app[STRIPE_DELIVERIES].drained()
    return text


async def _status(rig: PayRig, request_id: int, wanted: str) -> PaymentRequest:
    async def reached() -> PaymentRequest | None:
        row = await request_row(rig.app, request_id)
        return row if row.status == wanted else None

    return await wait_for(reached, what=f"status {wanted}")  # type: ignore[no-any-return]


def _item_update(request_id: int, status: str) -> Any:
    def check(e: dict[str, Any]) -> bool:
        item = e.get("item") or {}
        return (
            e.get("type") == "timeline.item_updated"
            and item.get("kind") == "payment"
            and item.get("meta", {}).get("payment_request_id") == request_id
            and item.get("status") == status
        )

    return check


async def test_staff_request_texts_the_link_patient_pays_and_the_thread_shows_it_live(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig)
        assert out["status"] == "sent" and out["balance_cents"] == 12500 and out["currency"] == "usd"
        added = await desk.event(
            lambda e: e["type"] == "timeline.item_added" and e["item"]["kind"] == "payment"
        )
        assert (
            added["item"]["id"] == out["item_id"]
            and added["item"]["body"] == "Crown, balance after insurance"
        )
        row = await request_row(rig.app, out["id"])
        assert row.token not in str(added["item"]) and len(row.token) >= 32
        async with rig.app[SERVICES].read() as s:
            text = await s.scalar(
                select(TimelineItem).where(TimelineItem.kind == "sms", TimelineItem.direction == "out")
            )
        assert text is not None and text.meta["payment_request_id"] == out["id"]
        assert (
            text.body
            == f"North: you have a payment request for $125.00. Pay securely here: {rig.base}/pay/{row.token}"
        )
        assert "Crown" not in text.body  # what it is for stays on the page, not in the text

        async def texted() -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{rig.carrier.sandbox}/sandbox/messages", params={"to": PATIENT_A}) as r:
                    return [m for m in (await r.json())["messages"] if "/pay/" in m["body"]]

        [sent] = await wait_for(texted, what="the text reached the carrier")
        link = re.search(r"http\S+/pay/\S+", sent["body"])
        assert link is not None and link.group(0) == f"{rig.base}/pay/{row.token}"
        landed = await _pay(rig, link.group(0))
        await desk.event(_item_update(out["id"], "opened"))
        assert "being confirmed" in landed  # Checkout sent the patient back to our thank-you page
        [checkout] = rig.stripe_app[STRIPE_ACCOUNT].sessions.values()
        assert checkout["success_url"] == f"{rig.base}/pay/thanks"
        assert row.token not in str(checkout) and "Crown" not in str(checkout)  # Stripe learns neither
        paid = await desk.event(_item_update(out["id"], "paid"))
        async with aiohttp.ClientSession() as http, http.get(link.group(0)) as page:
            assert "Paid in full ($125.00)" in await page.text()
        assert paid["item"]["meta"]["paid_cents"] == 12500 and paid["item"]["meta"]["balance_cents"] == 0
        again = await desk.api("GET", f"{rig.base}/api/v1/payment-requests/{out['id']}")
        assert again["status"] == "paid" and again["paid_at"] is not None
        balance = await desk.api("GET", f"{rig.base}/api/v1/contacts/{out['contact_id']}/balance")
        assert balance == {
            "contact_id": out["contact_id"],
            "open_cents": 0,
            "currency": "usd",
            "open_requests": 0,
            "clearing_cents": 0,
            "clearing_requests": 0,
        }
    finally:
        await desk.close()


async def test_declined_card_shows_failed_then_a_good_card_pays(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 5000)
        link = await _link(rig, out["id"])
        declined = await _pay(rig, link, card="4000000000000002")
        assert "declined" in declined
        failed = await _status(rig, out["id"], "failed")
        assert failed.failure == "Your card was declined."
        async with aiohttp.ClientSession() as http, http.get(link) as page:
            assert "did not go through" in await page.text()
        await _pay(rig, link)
        await _status(rig, out["id"], "paid")
        await desk.event(_item_update(out["id"], "paid"))
    finally:
        await desk.close()


async def test_partial_payments_then_the_rest(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 25000, allow_partial=True)
        link = await _link(rig, out["id"])
        await _pay(rig, link, amount="100.00")
        part = await _status(rig, out["id"], "partially_paid")
        assert (part.paid_cents, part.amount_cents) == (10000, 25000)
        listed = await desk.api(
            "GET", f"{rig.base}/api/v1/locations/{rig.carrier.practice.loc_a}/payment-requests"
        )
        assert [(r["id"], r["balance_cents"]) for r in listed] == [(out["id"], 15000)]
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{link}/checkout", data={"amount": "150.01"}, allow_redirects=False
            ) as over:
                assert over.status == 422 and "between $0.50 and $150.00" in await over.text()
            async with http.post(f"{link}/checkout", data={"amount": "ten"}, allow_redirects=False) as bad:
                assert bad.status == 422
        await _pay(rig, link, amount="150.00")
        done = await _status(rig, out["id"], "paid")
        assert done.paid_cents == 25000
        assert (
            await desk.api(
                "GET", f"{rig.base}/api/v1/locations/{rig.carrier.practice.loc_a}/payment-requests"
            )
            == []
        )
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{link}/checkout", allow_redirects=False) as closed:
                assert closed.status == 409  # nothing left to pay
    finally:
        await desk.close()


async def test_refund_part_then_all_through_stripe(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 8000)
        await _pay(rig, await _link(rig, out["id"]))
        await _status(rig, out["id"], "paid")
        url = f"{rig.base}/api/v1/payment-requests/{out['id']}/refund"
        first = await desk.api("POST", url, {"amount_cents": 3000})
        assert first["refunded_cents"] == 3000 and first["refunds"][0].startswith("re_test_")
        await rig.stripe_app[STRIPE_DELIVERIES].drained()

        async def partly() -> bool:
            return (await request_row(rig.app, out["id"])).refunded_cents == 3000

        await wait_for(partly)
        assert (await request_row(rig.app, out["id"])).status == "paid"
        headers = {"Origin": ORIGIN, "X-CSRF-Token": desk.csrf}
        async with desk.http.post(url, json={"amount_cents": 5001}, headers=headers) as too_much:
            assert too_much.status == 409
        await desk.api("POST", url, {})
        await rig.stripe_app[STRIPE_DELIVERIES].drained()
        refunded = await _status(rig, out["id"], "refunded")
        assert refunded.refunded_cents == 8000
        await desk.event(_item_update(out["id"], "refunded"))
        async with desk.http.post(url, json={}, headers=headers) as nothing:
            assert nothing.status == 409
        async with aiohttp.ClientSession() as http, http.get(await _link(rig, out["id"])) as page:
            assert "refunded" in await page.text()
    finally:
        await desk.close()


async def _new_request(rig: PayRig, cents: int = 3000) -> int:
    actor = Actor(0, rig.carrier.practice.practice_id, "admin", None, "test")
    async with rig.app[SERVICES].read() as s:
        from comms.models import StaffUser

        actor = Actor(
            int(await s.scalar(select(StaffUser.id).where(StaffUser.role == "admin")) or 0),
            rig.carrier.practice.practice_id,
            "admin",
            None,
            "test",
        )
    out = await payments.create_request(
        rig.app[SERVICES],
        actor,
        rig.carrier.practice.conv_a,
        PaymentRequestIn(amount_cents=cents, description="Cleaning", allow_partial=True),
    )
    return out.id


async def test_forged_stale_or_unsigned_events_are_400_and_change_nothing(rig: PayRig) -> None:
    request_id = await _new_request(rig)
    good = event(
        "checkout.session.completed", session_completed(request_id, "pi_1", 3000, "cs_1"), "evt_forged"
    )
    body, signature = signed(good)
    cases = [
        signed(good, secret="whsec_someone_else"),
        (body.replace(b"3000", b"9000"), signature),  # tampered after signing
        signed(good, at=int(utcnow().timestamp()) - 3600),  # replayed an hour later
        (body, None),
        (body, "t=1,v1=deadbeef"),
    ]
    for forged_body, forged_signature in cases:
        status, reply = await post_event(rig.base, forged_body, forged_signature)
        assert status == 400 and reply["error"]["code"] == "signature_invalid"
    row = await request_row(rig.app, request_id)
    assert (row.status, row.paid_cents) == ("sent", 0)
    async with rig.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentWebhookEvent)) == 0
        assert await s.scalar(select(func.count()).select_from(PaymentReceived)) == 0
    assert (await post_event(rig.base, body, signature))[0] == 200
    assert (await request_row(rig.app, request_id)).status == "paid"


async def test_duplicates_and_every_order_of_events_end_in_the_same_state(rig: PayRig) -> None:
    """Part payment, a decline, the rest, a refund of the first part: all 24 orders, each event twice."""
    for n, order in enumerate(itertools.permutations(range(4))):
        request_id = await _new_request(rig, 3000)
        kinds = [
            event(
                "checkout.session.completed",
                session_completed(request_id, f"pi_a{n}", 1000, f"cs_a{n}"),
                f"evt_a{n}",
            ),
            event("payment_intent.payment_failed", intent_failed(request_id, f"pi_x{n}"), f"evt_x{n}"),
            event(
                "checkout.session.completed",
                session_completed(request_id, f"pi_b{n}", 2000, f"cs_b{n}"),
                f"evt_b{n}",
            ),
            event("charge.refunded", charge_refunded(f"pi_a{n}", f"ch_a{n}", 1000, 1000), f"evt_r{n}"),
        ]
        for i in order:
            for _ in range(2):
                status, _reply = await post_event(rig.base, *signed(kinds[i]))
                assert status == 200
        row = await request_row(rig.app, request_id)
        assert (row.status, row.paid_cents, row.refunded_cents) == ("paid", 3000, 1000), order
        assert row.failure == "Your card was declined."
    async with rig.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentWebhookEvent)) == 24 * 4
        assert await s.scalar(select(func.count()).select_from(PaymentReceived)) == 24 * 2


async def test_a_full_refund_before_its_payment_still_ends_refunded(rig: PayRig) -> None:
    request_id = await _new_request(rig, 3000)
    await post_event(
        rig.base, *signed(event("charge.refunded", charge_refunded("pi_z", "ch_z", 3000, 3000), "e1"))
    )
    assert (await request_row(rig.app, request_id)).status == "sent"
    await post_event(
        rig.base,
        *signed(
            event("checkout.session.completed", session_completed(request_id, "pi_z", 3000, "cs_z"), "e2")
        ),
    )
    row = await request_row(rig.app, request_id)
    assert (row.status, row.paid_cents, row.refunded_cents) == ("refunded", 3000, 3000)
    # A late, lower running total (an older charge.refunded) never lowers what was refunded.
    await post_event(
        rig.base, *signed(event("charge.refunded", charge_refunded("pi_z", "ch_z", 3000, 1000), "e3"))
    )
    assert (await request_row(rig.app, request_id)).refunded_cents == 3000


async def test_events_for_other_integrations_are_acknowledged_and_ignored(rig: PayRig) -> None:
    other = session_completed(1, "pi_other", 500, "cs_other")
    other["metadata"], other["client_reference_id"] = {}, None
    for kind, obj in (("checkout.session.completed", other), ("customer.created", {"id": "cus_1"})):
        status, reply = await post_event(rig.base, *signed(event(kind, obj, f"evt_{kind}")))
        assert status == 200 and reply == {"received": True, "duplicate": False}
    async with rig.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentReceived)) == 0


async def test_expired_links_say_so_and_cannot_be_paid(rig: PayRig) -> None:
    request_id = await _new_request(rig)
    async with rig.app[SERVICES].unit() as unit:
        row = await unit.session.get(PaymentRequest, request_id)
        assert row is not None
        row.expires_at = utcnow()
    row = await _status(rig, request_id, "expired")  # the sweeper notices by itself
    link = f"{rig.base}/pay/{row.token}"
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:
            assert page.status == 410 and "expired" in await page.text()
        async with http.post(f"{link}/checkout", allow_redirects=False) as refused:
            assert refused.status == 410 or refused.status == 409
    assert await expire_due(rig.app[SERVICES]) == []  # nothing left to expire
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rig.base}/pay/{'x' * 32}") as unknown:
            assert unknown.status == 404 and "not valid" in await unknown.text()
        async with http.get(f"{rig.base}/pay/short") as malformed:
            assert malformed.status == 404


async def test_other_locations_staff_cannot_see_or_request_and_reads_are_audited(rig: PayRig) -> None:
    p = rig.carrier.practice
    north = await open_desk(rig.base, p.staff_a, on_duty=False)
    south = await open_desk(rig.base, p.staff_b, on_duty=False)
    try:
        out = await _ask(north, rig)
        headers = {"Origin": ORIGIN, "X-CSRF-Token": south.csrf}
        for method, path, body in (
            ("GET", f"/api/v1/payment-requests/{out['id']}", None),
            ("POST", f"/api/v1/payment-requests/{out['id']}/refund", {}),
            ("GET", f"/api/v1/conversations/{p.conv_a}/payment-requests", None),
            (
                "POST",
                f"/api/v1/conversations/{p.conv_a}/payment-requests",
                {"amount_cents": 100, "description": "x"},
            ),
            ("GET", f"/api/v1/locations/{p.loc_a}/payment-requests", None),
        ):
            async with south.http.request(method, rig.base + path, json=body, headers=headers) as resp:
                assert resp.status == 404, (method, path)
        south_balance = await south.api("GET", f"{rig.base}/api/v1/contacts/{out['contact_id']}/balance")
        assert south_balance["open_cents"] == 0  # North's request is not South's to see
        north_balance = await north.api("GET", f"{rig.base}/api/v1/contacts/{out['contact_id']}/balance")
        assert north_balance["open_cents"] == 12500 and north_balance["open_requests"] == 1
        listed = await north.api("GET", f"{rig.base}/api/v1/conversations/{p.conv_a}/payment-requests")
        assert [r["id"] for r in listed] == [out["id"]]
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{rig.base}/api/v1/payment-requests/{out['id']}") as resp:
                assert resp.status == 401
        async with rig.app[SERVICES].read() as s:
            actions = set(
                await s.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.record_type.in_(("payment_request", "balance", "conversation_payments"))
                    )
                )
            )
        assert {"create", "view"} <= actions
    finally:
        await north.close()
        await south.close()


async def test_bad_requests_and_opted_out_patients_store_nothing(rig: PayRig) -> None:
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        url = f"{rig.base}/api/v1/conversations/{rig.carrier.practice.conv_a}/payment-requests"
        headers = {"Origin": ORIGIN, "X-CSRF-Token": desk.csrf}
        for body in (
            {"amount_cents": 49, "description": "x"},
            {"amount_cents": 1000, "description": "   "},
            {"amount_cents": 1000},
            {"amount_cents": 1000, "description": "x", "tip": 1},
        ):
            async with desk.http.post(url, json=body, headers=headers) as resp:
                assert resp.status == 422, body
        async with rig.app[SERVICES].unit() as unit:
            unit.session.add(
                OptOut(practice_id=rig.carrier.practice.practice_id, e164=PATIENT_A, source="keyword")
            )
        async with desk.http.post(
            url, json={"amount_cents": 1000, "description": "x"}, headers=headers
        ) as resp:
            assert resp.status == 409 and "STOP" in (await resp.json())["error"]["message"]
        async with rig.app[SERVICES].read() as s:
            assert await s.scalar(select(func.count()).select_from(PaymentRequest)) == 0
            assert (
                await s.scalar(
                    select(func.count()).select_from(TimelineItem).where(TimelineItem.kind == "payment")
                )
                == 0
            )
        with pytest.raises(OptedOut):
            await _new_request(rig)
    finally:
        await desk.close()


async def test_without_stripe_payments_are_off(served: Any) -> None:
    from tests.helpers import browser

    async with browser() as http:
        session = await sign_in(http, str(served.make_url("")).rstrip("/"), served.practice.staff_a)
        headers = {"Origin": ORIGIN, "X-CSRF-Token": session["csrf_token"]}
        url = served.make_url(f"/api/v1/conversations/{served.practice.conv_a}/payment-requests")
        async with http.post(url, json={"amount_cents": 1000, "description": "x"}, headers=headers) as resp:
            assert resp.status == 503
        body, signature = signed(event("customer.created", {"id": "cus_1"}, "evt_1"))
        async with http.post(
            served.make_url("/stripe/webhook"), data=body, headers={"Stripe-Signature": signature}
        ) as hook:
            assert hook.status == 503
    async with served.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentRequest)) == 0


async def test_call_pop_shows_the_open_balance_only_at_locations_the_staff_see(rig: PayRig) -> None:
    from comms.call_pop import caller_of
    from comms.models import Contact, Conversation

    p = rig.carrier.practice
    request_id = await _new_request(rig, 4200)

    async def pops() -> tuple[Any, Any, Any]:
        async with rig.app[SERVICES].read() as s:
            conversation = await s.get(Conversation, p.conv_a)
            assert conversation is not None
            contact = await s.get(Contact, conversation.contact_id)
            assert contact is not None
            return (
                await caller_of(s, contact, [], {p.loc_a}),
                await caller_of(s, contact, [], {p.loc_b}),
                await caller_of(s, contact, [], None),
            )

    north, south, admin = await pops()
    wanted = {
        "open_cents": 4200,
        "currency": "usd",
        "open_requests": 1,
        "label": "$42.00 open (1 request)",
        "clearing_cents": 0,
        "clearing_requests": 0,
        "clearing_label": "",
    }
    assert north.balance == wanted and admin.balance == wanted
    assert south.balance is None
    paid = session_completed(request_id, "pi_pop", 4200, "cs_pop")
    assert (await post_event(rig.base, *signed(event("checkout.session.completed", paid, "evt_pop"))))[
        0
    ] == 200
    north, _, _ = await pops()
    assert north.balance is None


async def test_two_payments_for_one_request_arriving_at_once_both_count(rig: PayRig) -> None:
    """Each event's transaction recounts the request's payments under its row lock: none is lost."""
    import asyncio

    for round_ in range(3):
        request_id = await _new_request(rig, 3000)
        posts = [
            post_event(
                rig.base,
                *signed(
                    event(
                        "checkout.session.completed",
                        session_completed(request_id, f"pi_c{round_}_{i}", 1000, f"cs_c{round_}_{i}"),
                        f"evt_c{round_}_{i}",
                    )
                ),
            )
            for i in range(3)
        ]
        assert [status for status, _ in await asyncio.gather(*posts)] == [200, 200, 200]
        row = await request_row(rig.app, request_id)
        assert (row.status, row.paid_cents) == ("paid", 3000)


async def test_a_refund_stripe_makes_is_audited_even_when_a_later_part_is_refused(rig: PayRig) -> None:
    """A request paid in two parts is refunded newest first; the second refusal must not hide the first."""
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    try:
        out = await _ask(desk, rig, 3000, allow_partial=True)
        link = await _link(rig, out["id"])
        await _pay(rig, link, amount="10.00")
        await _status(rig, out["id"], "partially_paid")
        await _pay(rig, link)
        await _status(rig, out["id"], "paid")
        async with rig.app[SERVICES].read() as s:
            older = await s.scalar(
                select(PaymentReceived.payment_intent)
                .where(PaymentReceived.request_id == out["id"])
                .order_by(PaymentReceived.id)
            )
        # Refunded at Stripe (its dashboard, say) and not yet told to us: the older part is refused.
        rig.stripe_app[STRIPE_ACCOUNT].refund({"payment_intent": older})
        headers = {"Origin": ORIGIN, "X-CSRF-Token": desk.csrf}
        url = f"{rig.base}/api/v1/payment-requests/{out['id']}/refund"
        async with desk.http.post(url, json={}, headers=headers) as refused:
            assert refused.status == 503
        async with rig.app[SERVICES].read() as s:
            rows = (
                await s.scalars(
                    select(AuditEntry).where(
                        AuditEntry.record_type == "payment_request",
                        AuditEntry.record_id == str(out["id"]),
                        AuditEntry.action == "refund",
                    )
                )
            ).all()
        assert [(r.detail or {}).get("cents") for r in rows] == [2000]  # the newer part, which Stripe made
    finally:
        await desk.close()


async def test_the_same_refund_asked_again_before_stripe_confirms_the_first_is_made_once(rig: PayRig) -> None:
    """Two tabs (or a double submit) asking $30.00 back while Stripe's refund event is still on its way."""
    desk = await open_desk(rig.base, rig.carrier.practice.staff_a, on_duty=False)
    deliveries = rig.stripe_app[STRIPE_DELIVERIES]
    endpoint = deliveries.endpoint
    try:
        out = await _ask(desk, rig, 8000)
        await _pay(rig, await _link(rig, out["id"]))
        await _status(rig, out["id"], "paid")
        deliveries.endpoint = None  # Stripe's events are late: none arrives
        url = f"{rig.base}/api/v1/payment-requests/{out['id']}/refund"
        headers = {"Origin": ORIGIN, "X-CSRF-Token": desk.csrf}

        async def ask() -> int:
            async with desk.http.post(url, json={"amount_cents": 3000}, headers=headers) as resp:
                return resp.status

        statuses = [*await asyncio.gather(ask(), ask()), await ask()]
        assert 200 in statuses and set(statuses) <= {200, 503}, statuses
        refunds = list(rig.stripe_app[STRIPE_ACCOUNT].refunds.values())
        assert [r["amount"] for r in refunds] == [3000]
    finally:
        deliveries.endpoint = endpoint
        await desk.close()
