"""Inbound texts written together: one batch, yet each text keeps its own result, error and event."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from comms import messaging
from comms.errors import NotFound
from comms.group_commit import GroupCommit
from comms.models import Contact, Conversation, TimelineItem
from comms.services import Services
from schemas.twilio import InboundSms
from tests.carrier import ACCOUNT_SID
from tests.helpers import seed_practice
from tests.sms_helpers import NORTH_NUMBER, PATIENT_A, new_sid


async def test_group_commit_batches_what_arrives_meanwhile_and_keeps_each_result() -> None:
    batches: list[list[int]] = []

    async def write(batch: list[int]) -> list[int | Exception]:
        batches.append(batch)
        await asyncio.sleep(0.01)
        return [ValueError(n) if n == 7 else n * 10 for n in batch]

    group: GroupCommit[int, int] = GroupCommit(write, most=4)
    results = await asyncio.gather(*(group.submit(n) for n in range(10)), return_exceptions=True)
    assert [r if not isinstance(r, ValueError) else "error" for r in results] == [
        0, 10, 20, 30, 40, 50, 60, "error", 80, 90,
    ]  # fmt: skip
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # in order, at most 4 at a time
    assert await group.submit(11) == 110  # alone: written at once


def _text(body: str, frm: str = PATIENT_A, to: str = NORTH_NUMBER, sid: str | None = None) -> InboundSms:
    return InboundSms(
        message_sid=sid or new_sid(), account_sid=ACCOUNT_SID, from_number=frm, to_number=to, body=body
    )


async def test_a_burst_is_stored_once_each_with_its_own_answer(services: Services) -> None:
    p = await seed_practice(services)
    twice = new_sid()
    texts = [
        _text("from the seeded patient"),
        _text("from a new number", frm="+13035550999"),
        _text("again from the new number", frm="+13035550999"),
        _text("a Twilio retry", sid=twice),
        _text("a Twilio retry", sid=twice),
        _text("to a number nobody here owns", to="+13035550100"),
        _text("  stop  "),
    ]
    results = await asyncio.gather(
        *(messaging.receive_sms(services, t) for t in texts), return_exceptions=True
    )
    assert isinstance(results[5], NotFound)
    stored = [r for r in results if isinstance(r, messaging.Received)]
    assert [r.duplicate for r in stored] == [False, False, False, False, True, False]
    assert stored[3].item_id == stored[4].item_id
    async with services.read() as s:
        rows = {
            row.id: row for row in await s.scalars(select(TimelineItem).where(TimelineItem.direction == "in"))
        }
        assert len(rows) == 5  # the retry stored once, the stray text not at all
        new_contacts = await s.scalar(
            select(func.count()).select_from(Contact).where(Contact.is_unknown.is_(True))
        )
        assert new_contacts == 1  # both texts from the new number land with one unknown contact
        conversation = await s.get(Conversation, p.conv_a)
        assert conversation is not None
        stop_id = stored[5].item_id
        assert stop_id is not None and rows[stop_id].conversation_id == p.conv_a
        assert conversation.last_inbound_id == stop_id
        assert await messaging.is_opted_out(s, p.practice_id, PATIENT_A)  # its keyword was acted on


async def test_many_at_once_all_land_in_order(services: Services) -> None:
    p = await seed_practice(services)
    texts = [_text(f"text {i}") for i in range(40)]
    results = await asyncio.gather(*(messaging.receive_sms(services, t) for t in texts))
    ids = [r.item_id for r in results]
    assert all(not r.duplicate for r in results) and ids == sorted(ids)  # arrival order kept
    async with services.read() as s:
        conversation = await s.get(Conversation, p.conv_a)
        assert conversation is not None and conversation.last_inbound_id == ids[-1]
        bodies = list(
            await s.scalars(
                select(TimelineItem.body).where(TimelineItem.id.in_(ids)).order_by(TimelineItem.id)
            )
        )
    assert bodies == [t.body for t in texts]
