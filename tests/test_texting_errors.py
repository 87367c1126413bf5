"""Carrier error codes end to end through the stand-in: what is retried, what opts out, what staff read."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from comms import messaging
from comms.carrier_errors import BACKOFF_SECONDS, ERRORS
from comms.errors import OptedOut
from comms.models import Conversation, OptOut, OutboxEntry, utcnow
from telephony.sandbox import SANDBOX_STORE
from tests.carrier import Carrier, start_pair
from tests.helpers import browser, sign_in
from tests.sms_helpers import (
    NORTH_NUMBER,
    PATIENT_A,
    item,
    outbox_row,
    send_from_thread,
    sent_to,
    set_phone,
    wait_for,
)
from web.keys import SERVICES, SMS_SENDER


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    yield await start_pair(db_settings, aiohttp_server, tmp_path)


async def _what_staff_see(carrier: Carrier, item_id: int) -> dict[str, Any]:
    """The item as North's staff member reads it in the thread (the REST timeline the UI draws)."""
    p = carrier.practice
    async with browser() as north:
        await sign_in(north, carrier.base, p.staff_a)
        async with north.get(f"{carrier.base}/api/v1/conversations/{p.conv_a}/items") as resp:
            assert resp.status == 200
            [found] = [i for i in await resp.json() if i["id"] == item_id]
            return dict(found)


def carrier_messages(carrier: Carrier, number: str) -> list[dict[str, Any]]:
    """The stand-in's own records of what the practice sent this number, with their SIDs."""
    store = carrier.sandbox_app[SANDBOX_STORE]
    return [m.resource() for m in store.find(to=number) if m.direction == "outbound-api"]


async def _settled(carrier: Carrier, item_id: int, status: str) -> None:
    async def reached() -> bool:
        return (await item(carrier, item_id)).status == status

    await wait_for(reached, what=f"item {item_id} {status}")


async def test_permanent_carrier_failures_are_sent_once_and_told_in_words(carrier: Carrier) -> None:
    """30005 unknown handset, 30006 landline, 30007 filtered: one copy each, never retried, words shown."""
    p = carrier.practice
    for ending in ("0005", "0006", "0007"):
        number = "+1202555" + ending  # the stand-in's MAGIC_OUTCOMES: undelivered with 3000x
        await set_phone(carrier, p.conv_a, number)
        status, sent = await send_from_thread(carrier, f"Your appointment is Tuesday ({ending})")
        assert status == 201
        await _settled(carrier, sent["id"], "undelivered")
        code = "3" + ending
        seen = await _what_staff_see(carrier, sent["id"])
        assert (seen["status"], seen["error_code"]) == ("undelivered", code)
        assert seen["meta"]["error"] == ERRORS[code].words
        row = await outbox_row(carrier, sent["id"])
        assert (row.state, row.attempts) == ("done", 1)  # not put back for another try
        assert await sent_to(carrier, number) == [f"Your appointment is Tuesday ({ending})"]
    filtered = await _what_staff_see(carrier, sent["id"])
    assert "spam" in filtered["meta"]["error"] and "call instead" in filtered["meta"]["error"]


async def test_an_invalid_number_fails_at_once_with_21211_in_words(carrier: Carrier) -> None:
    p = carrier.practice
    await set_phone(carrier, p.conv_a, "+12O25550143")  # imported with a letter O for a zero
    status, sent = await send_from_thread(carrier, "Please call us back")
    assert status == 201
    await _settled(carrier, sent["id"], "failed")
    seen = await _what_staff_see(carrier, sent["id"])
    assert seen["error_code"] == "21211" and seen["meta"]["error"] == ERRORS["21211"].words
    assert (await outbox_row(carrier, sent["id"])).state == "failed"
    assert await sent_to(carrier, "+12O25550143") == []


async def test_an_unreachable_phone_is_retried_a_little_with_backoff_then_told(carrier: Carrier) -> None:
    """30003 (phone off): the stand-in fails every try; three tries, 2 s then 10 s apart, then words."""
    p = carrier.practice
    number = "+12025550003"
    await set_phone(carrier, p.conv_a, number)
    status, sent = await send_from_thread(carrier, "Your prescription is ready")
    assert status == 201
    item_id = sent["id"]
    for attempt, backoff in ((1, BACKOFF_SECONDS[0]), (2, BACKOFF_SECONDS[1])):

        async def back_in_outbox(attempt: int = attempt) -> OutboxEntry | None:
            row = await outbox_row(carrier, item_id)
            return row if row.state == "pending" and row.attempts == attempt else None

        row = await wait_for(back_in_outbox, what=f"retry {attempt} queued")
        waiting = (row.next_attempt_at.replace(tzinfo=dt.UTC) - utcnow()).total_seconds()
        assert backoff - 1.5 < waiting <= backoff, f"attempt {attempt} waits {waiting:.1f}s, not ~{backoff}s"
        shown = await item(carrier, item_id)
        assert shown.status == "pending" and shown.carrier_sid is None
        assert ERRORS["30003"].words in shown.meta["retrying"]
        assert len(await sent_to(carrier, number)) == attempt
        # Time passes: the retry falls due now rather than after the real backoff.
        async with carrier.app[SERVICES].unit() as unit:
            await unit.session.execute(
                update(OutboxEntry).where(OutboxEntry.item_id == item_id).values(next_attempt_at=utcnow())
            )
        carrier.app[SMS_SENDER].wake()
    await _settled(carrier, item_id, "failed")
    seen = await _what_staff_see(carrier, item_id)
    assert seen["error_code"] == "30003"
    assert seen["meta"]["error"] == ERRORS["30003"].words + " Tried 3 times."
    assert "retrying" not in seen["meta"]
    carried = carrier_messages(carrier, number)
    assert [m["body"] for m in carried] == ["Your prescription is ready"] * 3
    final = await item(carrier, item_id)
    assert final.carrier_sid == carried[-1]["sid"]
    assert final.meta["earlier_sids"] == [m["sid"] for m in carried[:2]]
    assert (await outbox_row(carrier, item_id)).attempts == 3


async def test_21610_from_the_send_itself_opts_the_number_out_everywhere(carrier: Carrier) -> None:
    """Twilio knows the patient unsubscribed (a STOP we never heard of): its refusal opts them out here."""
    p, services = carrier.practice, carrier.app[SERVICES]
    carrier.sandbox_app[SANDBOX_STORE].set_opted_out(PATIENT_A, NORTH_NUMBER, True)
    status, sent = await send_from_thread(carrier, "Reminder: cleaning tomorrow at 9")
    assert status == 201
    await _settled(carrier, sent["id"], "failed")
    seen = await _what_staff_see(carrier, sent["id"])
    assert seen["error_code"] == "21610" and seen["meta"]["error"] == ERRORS["21610"].words
    async with services.read() as s:
        [opt_out] = (await s.scalars(select(OptOut))).all()
    assert (opt_out.e164, opt_out.source, opt_out.item_id) == (PATIENT_A, "carrier", sent["id"])
    assert (await outbox_row(carrier, sent["id"])).attempts == 1  # never retried
    status, refused = await send_from_thread(carrier, "Are you there?")
    assert status == 409 and refused["error"]["code"] == "opted_out"
    assert "STOP" in refused["error"]["message"]
    with pytest.raises(OptedOut):
        async with services.unit() as unit:
            conversation = await unit.session.get(Conversation, p.conv_a)
            assert conversation is not None
            await messaging.queue_sms(unit, conversation, "Automated reminder", author_id=None)
    assert await sent_to(carrier, PATIENT_A) == []
    async with services.read() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxEntry)) == 1
