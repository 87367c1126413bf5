"""Follow-ups of payment requests: reminders on the configured days that stop at payment, expiry and
STOP, one per due day even with every node looking at once, and a receipt for each payment."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from comms.access import Actor
from comms.models import OptOut, StaffUser, TimelineItem
from comms.payment_followups import remind_due
from comms.payments import create_request
from schemas.payments import PaymentRequestIn
from tests.payments_rig import (
    PayRig,
    event,
    post_event,
    request_row,
    session_completed,
    signed,
    start_payments,
)
from web.keys import SERVICES

PATIENT_A = "+12025550170"
DAY = dt.timedelta(days=1)


@pytest.fixture
async def rig(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[PayRig]:
    # A sweeper that never runs by itself: the tests call remind_due with the time they choose.
    yield await start_payments(
        db_settings, aiohttp_server, tmp_path, sweep_seconds=3600, reminder_days=[3, 7]
    )


async def _request(rig: PayRig, cents: int = 6000) -> tuple[int, dt.datetime]:
    async with rig.app[SERVICES].read() as s:
        admin = int(await s.scalar(select(StaffUser.id).where(StaffUser.role == "admin")) or 0)
    actor = Actor(admin, rig.carrier.practice.practice_id, "admin", None, "test")
    body = PaymentRequestIn(amount_cents=cents, description="Filling", allow_partial=True)
    out = await create_request(rig.app[SERVICES], actor, rig.carrier.practice.conv_a, body)
    return out.id, out.created_at


async def _texts(rig: PayRig, kind: str) -> list[TimelineItem]:
    async with rig.app[SERVICES].read() as s:
        rows = await s.scalars(
            select(TimelineItem).where(TimelineItem.kind == "sms").order_by(TimelineItem.id)
        )
        return [r for r in rows if (r.meta or {}).get("followup") == kind]


async def test_reminders_on_their_days_then_none(rig: PayRig) -> None:
    services = rig.app[SERVICES]
    request_id, sent = await _request(rig)
    assert await remind_due(services, sent + 2 * DAY) == []
    assert await remind_due(services, sent + 3 * DAY) == [request_id]
    assert await remind_due(services, sent + 3 * DAY + dt.timedelta(hours=1)) == []
    row = await request_row(rig.app, request_id)
    [first] = await _texts(rig, "reminder")
    assert (
        first.body
        == f"North: a reminder that $60.00 is still due. Pay securely here: {rig.base}/pay/{row.token}"
    )
    assert row.reminders_sent == 1
    assert await remind_due(services, sent + 7 * DAY) == [request_id]
    assert await remind_due(services, sent + 20 * DAY) == []
    assert len(await _texts(rig, "reminder")) == 2
    async with services.read() as s:
        card = await s.get(TimelineItem, row.item_id)
        assert card is not None and card.meta["reminders_sent"] == 2


async def test_a_node_that_was_down_sends_only_the_latest_reminder(rig: PayRig) -> None:
    request_id, sent = await _request(rig)
    assert await remind_due(rig.app[SERVICES], sent + 8 * DAY) == [request_id]
    assert await remind_due(rig.app[SERVICES], sent + 9 * DAY) == []
    assert len(await _texts(rig, "reminder")) == 1


async def test_every_node_looking_at_once_sends_one_reminder(rig: PayRig) -> None:
    request_id, sent = await _request(rig)
    results = await asyncio.gather(*(remind_due(rig.app[SERVICES], sent + 3 * DAY) for _ in range(5)))
    assert sorted(r for found in results for r in found) == [request_id]
    assert len(await _texts(rig, "reminder")) == 1


async def test_reminders_stop_at_payment_and_a_receipt_goes_out(rig: PayRig) -> None:
    request_id, sent = await _request(rig)
    part = session_completed(request_id, "pi_part", 2000, "cs_part")
    assert (await post_event(rig.base, *signed(event("checkout.session.completed", part, "evt_part"))))[
        0
    ] == 200
    [receipt] = await _texts(rig, "receipt")
    assert receipt.body == "North: thank you, we received your payment of $20.00. $40.00 is still due."
    assert await remind_due(rig.app[SERVICES], sent + 3 * DAY) == [request_id]  # partly paid: still reminded
    [reminder] = await _texts(rig, "reminder")
    assert "$40.00 is still due" in reminder.body
    rest = session_completed(request_id, "pi_rest", 4000, "cs_rest")
    assert (await post_event(rig.base, *signed(event("checkout.session.completed", rest, "evt_rest"))))[
        0
    ] == 200
    assert (await post_event(rig.base, *signed(event("checkout.session.completed", rest, "evt_rest"))))[
        0
    ] == 200
    receipts = await _texts(rig, "receipt")
    assert [r.body for r in receipts][1:] == ["North: thank you, we received your payment of $40.00."]
    assert await remind_due(rig.app[SERVICES], sent + 7 * DAY) == []
    assert len(await _texts(rig, "reminder")) == 1


async def test_reminders_stop_after_stop_and_after_expiry(rig: PayRig) -> None:
    services = rig.app[SERVICES]
    request_id, sent = await _request(rig)
    async with services.unit() as unit:
        unit.session.add(
            OptOut(practice_id=rig.carrier.practice.practice_id, e164=PATIENT_A, source="keyword")
        )
    assert await remind_due(services, sent + 3 * DAY) == []
    assert await remind_due(services, sent + 7 * DAY) == []
    assert await _texts(rig, "reminder") == []
    async with services.read() as s:
        notes = list(await s.scalars(select(TimelineItem.body).where(TimelineItem.kind == "activity")))
    assert notes == ["Payment reminder not sent: the patient replied STOP."]
    assert (await request_row(rig.app, request_id)).reminders_sent == 2
    async with services.unit() as unit:
        await unit.session.execute(OptOut.__table__.delete())
    other_id, other_sent = await _request(rig)
    assert await remind_due(services, other_sent + 31 * DAY) == []  # its link ran out on day 30
    assert (await request_row(rig.app, other_id)).reminders_sent == 0


async def test_by_e_mail_the_link_reminders_and_receipt_go_by_e_mail(rig: PayRig) -> None:
    from comms.models import ContactEmail, Conversation, OutboxEntry

    services = rig.app[SERVICES]
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, rig.carrier.practice.conv_a)
        assert conversation is not None
        unit.session.add(ContactEmail(contact_id=conversation.contact_id, address="pat@patient.test"))
    async with services.read() as s:
        admin = int(await s.scalar(select(StaffUser.id).where(StaffUser.role == "admin")) or 0)
    actor = Actor(admin, rig.carrier.practice.practice_id, "admin", None, "test")
    body = PaymentRequestIn(amount_cents=9000, description="Night guard", channel="email")
    out = await create_request(services, actor, rig.carrier.practice.conv_a, body)
    assert out.channel == "email"
    assert await remind_due(services, out.created_at + 3 * DAY) == [out.id]
    paid = session_completed(out.id, "pi_mail", 9000, "cs_mail")
    assert (await post_event(rig.base, *signed(event("checkout.session.completed", paid, "evt_mail"))))[
        0
    ] == 200
    async with services.read() as s:
        mails = list(
            await s.scalars(
                select(TimelineItem).where(TimelineItem.kind == "email").order_by(TimelineItem.id)
            )
        )
        queued = list(await s.scalars(select(OutboxEntry.channel)))
        texts = await s.scalar(
            select(func.count()).select_from(TimelineItem).where(TimelineItem.kind == "sms")
        )
    assert [m.meta["followup"] for m in mails] == ["request", "reminder", "receipt"]
    # Threaded in the patient's mail client under the thread's last e-mail, as every reply is.
    assert [m.meta["subject"] for m in mails] == [
        "Payment request from North",
        "Re: Payment reminder from North",
        "Re: Payment received from North",
    ]
    assert mails[0].meta["to"] == ["pat@patient.test"] and "/pay/" in mails[0].body
    assert set(queued) == {"email"} and texts == 0
    row = await request_row(rig.app, out.id)
    assert row.status == "paid" and row.confirmed_at is not None


async def test_no_reminder_while_a_bank_payment_clears_and_reminders_resume_if_it_fails(rig: PayRig) -> None:
    request_id, sent = await _request(rig)
    unpaid = session_completed(request_id, "pi_bank", 6000, "cs_bank") | {"payment_status": "unpaid"}
    assert (await post_event(rig.base, *signed(event("checkout.session.completed", unpaid, "evt_c"))))[
        0
    ] == 200
    assert (await request_row(rig.app, request_id)).status == "processing"
    assert await remind_due(rig.app[SERVICES], sent + 3 * DAY) == []  # the patient has paid, pending the bank
    assert await _texts(rig, "reminder") == [] and await _texts(rig, "receipt") == []
    failed = event("checkout.session.async_payment_failed", unpaid, "evt_f")
    assert (await post_event(rig.base, *signed(failed)))[0] == 200
    assert (await request_row(rig.app, request_id)).status == "failed"
    assert await remind_due(rig.app[SERVICES], sent + 7 * DAY) == [request_id]
    [reminder] = await _texts(rig, "reminder")
    assert "$60.00 is still due" in reminder.body
