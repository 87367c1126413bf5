"""Opt-out: every keyword, who answers it, and that nothing at all reaches a number after its STOP."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from comms import messaging, outbox
from comms.carrier_errors import ERRORS
from comms.errors import OptedOut
from comms.models import Conversation, OptOut, OutboxEntry, Practice, TimelineItem, utcnow
from comms.practice import add_location
from comms.services import Services
from schemas.twilio import InboundSms
from telephony.sandbox.store import KEYWORD_REPLIES
from tests.carrier import ACCOUNT_SID, start_pair
from tests.helpers import new_conversation, seed_practice
from tests.sms_helpers import (
    NORTH_NUMBER,
    PATIENT_A,
    inbound_params,
    items,
    new_sid,
    outbox_row,
    post_signed,
    sandbox_messages,
    send_from_thread,
    sent_to,
    text_in,
    wait_for,
)
from web.keys import SERVICES, SMS_SENDER

# Twilio Advanced Opt-Out's default keywords (FACTS.md), spelled out so the code cannot drift from them.
STOP_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
START_WORDS = ["START", "YES", "UNSTOP"]
HELP_WORDS = ["HELP", "INFO"]
NOT_KEYWORDS = ["stop please", "please stop", "STOP NOW", "Stop!", "help me", "yes please", "end of story"]
HELP_REPLY = "Maple Dental: call 202-555-0143."


def _variants(word: str, n: int) -> str:
    """The word as patients type it: any case, stray spaces and line breaks."""
    return [word, word.lower(), f"  {word.title()}\n", f"\t{word.lower()} "][n % 4]


def test_the_keyword_lists_are_twilios() -> None:
    assert messaging.OPT_OUT_WORDS == frozenset(STOP_WORDS)
    assert messaging.OPT_IN_WORDS == frozenset(START_WORDS)
    assert messaging.HELP_WORDS == frozenset(HELP_WORDS)


async def _opted_out(services: Services) -> bool:
    async with services.read() as s:
        return bool(await s.scalar(select(func.count()).select_from(OptOut).where(OptOut.e164 == PATIENT_A)))


async def test_without_advanced_opt_out_we_answer_each_keyword_once(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    """Twilio does not answer keywords here, so we do: once per text, never again on a retried webhook."""
    carrier = await start_pair(
        db_settings, aiohttp_server, tmp_path, twilio={"advanced_opt_out": False, "help_reply": HELP_REPLY}
    )
    services = carrier.app[SERVICES]
    url = f"{carrier.base}/twilio/sms"
    async with aiohttp.ClientSession() as http:

        async def say(body: str) -> list[str]:
            """Text the practice, then have Twilio retry the same webhook; the replies of the first."""
            params = inbound_params(body)
            status, twiml = await post_signed(http, url, params)
            assert status == 200 and twiml.startswith("<?xml")
            status, again = await post_signed(http, url, params)
            assert status == 200 and "<Message>" not in again, f"{body!r} answered twice"
            return twiml.split("<Message>")[1:]

        for n, stop in enumerate(STOP_WORDS):
            [reply] = await say(_variants(stop, n))
            assert "unsubscribed" in reply, stop
            assert await _opted_out(services), f"{stop!r} did not opt out"
            [reply] = await say(_variants(START_WORDS[n % 3], n + 1))
            assert "subscribed again" in reply
            assert not await _opted_out(services), f"{START_WORDS[n % 3]!r} did not opt back in"
        for n, word in enumerate(HELP_WORDS):
            [reply] = await say(_variants(word, n))
            assert reply.startswith(HELP_REPLY)
        for body in [*NOT_KEYWORDS, "YES"]:  # YES from someone never opted out is just an answer
            assert await say(body) == [], f"{body!r} was taken for a keyword"
            assert not await _opted_out(services)
    activity = [i.meta["action"] for i in await items(carrier, kind="activity")]
    assert activity == ["sms_stop", "sms_start"] * len(STOP_WORDS) + ["sms_help"] * len(HELP_WORDS)
    texts = [i.body for i in await items(carrier, kind="sms", direction="in")]
    assert texts[-len(NOT_KEYWORDS) - 1 :] == [*NOT_KEYWORDS, "YES"]  # stored like any text


async def test_with_advanced_opt_out_twilio_answers_and_we_never_do(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    """Through the stand-in, which answers keywords as Advanced Opt-Out does: one answer each, Twilio's."""
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path, twilio={"help_reply": HELP_REPLY})
    services = carrier.app[SERVICES]
    said = 0
    for n, stop in enumerate(STOP_WORDS):
        await text_in(carrier, _variants(stop, n))
        assert await _opted_out(services), stop
        await text_in(carrier, _variants(START_WORDS[n % 3], n + 1))
        assert not await _opted_out(services)
        said += 2
    for n, word in enumerate(HELP_WORDS):
        await text_in(carrier, _variants(word, n))
        said += 1
    for body in NOT_KEYWORDS:
        await text_in(carrier, body)
    replies = [m["body"] for m in await sandbox_messages(carrier, to=PATIENT_A)]
    assert len(replies) == said
    assert set(replies) <= set(KEYWORD_REPLIES.values()), "we answered a keyword Twilio already answered"
    assert not await _opted_out(services)
    # The stand-in drops replies to a number that just opted out; ask the webhook itself too.
    url = f"{carrier.base}/twilio/sms"
    async with aiohttp.ClientSession() as http:
        for body, kind in (("STOP", "STOP"), ("START", "START"), ("HELP", "HELP")):
            status, twiml = await post_signed(http, url, {**inbound_params(body), "OptOutType": kind})
            assert status == 200 and "<Message>" not in twiml, f"we answered {body}"
    assert await _opted_out(services) is False  # START came after the STOP


async def test_after_stop_nothing_reaches_the_number_from_any_path(
    db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path
) -> None:
    carrier = await start_pair(db_settings, aiohttp_server, tmp_path)
    p, services = carrier.practice, carrier.app[SERVICES]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    status, scheduled = await send_from_thread(carrier, "Your ride is booked", send_at=later)
    assert status == 201 and scheduled["status"] == "scheduled"
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, p.conv_a)
        assert conversation is not None
        waiting = await messaging.queue_sms(unit, conversation, "Reminder: cleaning at 9", author_id=None)
        # As if it had failed once and waits for its retry.
        await unit.session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.item_id == waiting.id)
            .values(next_attempt_at=utcnow() + dt.timedelta(minutes=5))
        )
    await text_in(carrier, "Stop")
    for withdrawn in (scheduled["id"], waiting.id):
        [row] = await items(carrier, id=withdrawn)
        assert (row.status, row.error_code) == ("canceled", "21610")
        assert row.meta["error"] == ERRORS["21610"].words
        assert (await outbox_row(carrier, withdrawn)).state == "canceled"

    status, refused = await send_from_thread(carrier, "Are you there?")  # the thread composer
    assert status == 409 and refused["error"]["code"] == "opted_out"
    assert refused["error"]["message"] == (
        "this patient replied STOP: texts to this number are blocked until they text START"
    )
    status, refused = await send_from_thread(carrier, "Tomorrow then", send_at=later)  # send later
    assert status == 409 and refused["error"]["code"] == "opted_out"
    with pytest.raises(OptedOut, match="replied STOP"):  # automations: reminders, text-back
        async with services.unit() as unit:
            conversation = await unit.session.get(Conversation, p.conv_a)
            assert conversation is not None
            await messaging.queue_sms(unit, conversation, "Automated reminder", author_id=None)
    carrier.app[SMS_SENDER].wake()
    await asyncio.sleep(0.5)
    assert await sent_to(carrier, PATIENT_A) == []
    async with services.read() as s:
        live = await s.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state.not_in(("canceled",)))
        )
    assert live == 0

    await text_in(carrier, "start")
    status, sent = await send_from_thread(carrier, "Welcome back")
    assert status == 201

    async def delivered() -> bool:
        [row] = await items(carrier, id=sent["id"])
        return row.status == "delivered"

    await wait_for(delivered)
    assert await sent_to(carrier, PATIENT_A) == ["Welcome back"]


def _stop(sid: str) -> InboundSms:
    return InboundSms(
        message_sid=sid, account_sid=ACCOUNT_SID, from_number=PATIENT_A, to_number=NORTH_NUMBER, body="STOP"
    )


async def test_stop_withdraws_only_this_practices_texts(services: Services) -> None:
    """The same phone may be a patient of another practice on this server: its texts still go."""
    p = await seed_practice(services)
    async with services.unit() as unit:
        other = Practice(name="Other Dental")
        unit.session.add(other)
        await unit.session.flush()
        other_id = other.id
    other_location = await add_location(services, other_id, "Elsewhere", "America/Denver", ["+17205550100"])
    theirs = await new_conversation(services, other_id, other_location, "Pat Elsewhere", PATIENT_A)
    queued = {}
    async with services.unit() as unit:
        for name, conversation_id in (("ours", p.conv_a), ("theirs", theirs)):
            conversation = await unit.session.get(Conversation, conversation_id)
            assert conversation is not None
            queued[name] = (await messaging.queue_sms(unit, conversation, "Hello", author_id=None)).id
    await messaging.receive_sms(services, _stop(new_sid()))
    async with services.read() as s:
        states = {
            name: await s.scalar(select(OutboxEntry.state).where(OutboxEntry.item_id == item_id))
            for name, item_id in queued.items()
        }
        theirs_out = select(func.count()).select_from(OptOut).where(OptOut.practice_id == other_id)
        assert await s.scalar(theirs_out) == 0
    assert states == {"ours": "canceled", "theirs": "pending"}


async def test_a_text_already_claimed_when_stop_arrives_is_not_sent(services: Services) -> None:
    """The last check before the hand-off to Twilio: a STOP that lands while the sender holds the row."""
    p = await seed_practice(services)
    async with services.unit() as unit:
        conversation = await unit.session.get(Conversation, p.conv_a)
        assert conversation is not None
        out = await messaging.queue_sms(unit, conversation, "Your results are in", author_id=None)
    [claimed] = await outbox.claim_due(services, "sms", "node-1", 30.0, mark_sending=False)
    assert claimed.item_id == out.id
    await messaging.receive_sms(services, _stop(new_sid()))
    assert not await outbox.still_mine(services, out.id, "node-1", 30.0)
    async with services.read() as s:
        entry = await s.get(OutboxEntry, out.id)
        item = await s.get(TimelineItem, out.id)
    assert entry is not None and item is not None
    assert entry.state == "canceled" and (item.status, item.error_code) == ("canceled", "21610")
