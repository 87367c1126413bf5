"""E-mail end to end over real SMTP: the listener in, a local relay out, threading, bounces, corpus."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from comms.email_outbox import record_handed_off
from comms.models import Conversation, EmailMessage, OutboxEntry, TimelineItem
from tests.conftest import testdata as shared_file
from tests.email_rig import PATIENT, emails, patient_mail, send_in, start_mail, wait_for
from tests.helpers import Practice, browser, sign_in
from web.keys import SERVICES

OWN_CORPUS = Path(__file__).parent / "data" / "email"


@pytest.fixture
async def mail(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Any]:
    server, relay_server = await start_mail(db_settings, aiohttp_server, tmp_path)
    yield server
    relay_server.close()


async def test_inbound_mail_reply_out_and_patient_reply_thread_together(mail: Any) -> None:
    p: Practice = mail.practice
    first = patient_mail(
        "Insurance card", "Attached is my card.\n\nThanks,\nPat", Message_ID="<first@example.org>"
    )
    await send_in(mail, first)
    [item] = await emails(mail)
    assert item.direction == "in" and item.meta["subject"] == "Insurance card"
    async with mail.app[SERVICES].read() as s:
        conversation = await s.get(Conversation, item.conversation_id)
    assert conversation is not None and conversation.location_id == p.loc_a

    async with browser() as north:
        session = await sign_in(north, str(mail.make_url("")).rstrip("/"), p.staff_a)
        url = str(mail.make_url(f"/api/v1/conversations/{conversation.id}/messages"))
        async with north.post(
            url,
            json={"channel": "email", "body": "Got it, thank you!"},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            assert resp.status == 201, await resp.text()
            reply = await resp.json()
    await wait_for(lambda: asyncio.sleep(0, bool(mail.relay.received)))
    [envelope] = mail.relay.received
    sent = email.message_from_bytes(envelope.content)
    assert envelope.rcpt_tos == [PATIENT]
    assert sent["Subject"] == "Re: Insurance card" and sent["In-Reply-To"] == "<first@example.org>"
    async with mail.app[SERVICES].read() as s:
        ours = await s.scalar(select(EmailMessage.message_id).where(EmailMessage.item_id == reply["id"]))
    assert sent["Message-ID"] == f"<{ours}>"

    # The patient answers our e-mail: it lands in the same thread, found through In-Reply-To.
    await send_in(
        mail,
        patient_mail(
            "Re: Insurance card",
            "Great!\n\nOn Mon, Front desk wrote:\n> Got it, thank you!",
            Message_ID="<second@example.org>",
            In_Reply_To=f"<{ours}>",
        ),
        sender="someone-else@example.net",
    )
    items = await emails(mail)
    assert [i.conversation_id for i in items] == [conversation.id] * 3
    assert items[-1].meta["new_text"].strip() == "Great!" and "Got it" in items[-1].meta["quoted"]
    # Twilio-like retries exist for mail too: the same Message-ID again is stored once.
    await send_in(
        mail, patient_mail("Insurance card", "Attached is my card.", Message_ID="<first@example.org>")
    )
    assert len(await emails(mail)) == 3


async def test_unknown_recipient_and_oversized_mail_are_refused_with_smtp_codes(mail: Any) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send_in(mail, patient_mail("hi", "x"), to="nobody@practice.test")
    assert refused.value.recipients[0].code == 550
    with pytest.raises(aiosmtplib.SMTPResponseException) as big:
        await send_in(mail, patient_mail("huge", "x" * 300_000))
    assert big.value.code == 552
    assert await emails(mail) == []


async def test_bounce_marks_our_mail_failed_and_auto_reply_does_not_reopen(mail: Any) -> None:
    p: Practice = mail.practice
    await send_in(mail, patient_mail("Question", "Hello", Message_ID="<q1@example.org>"))
    [item] = await emails(mail)
    async with browser() as north:
        base = str(mail.make_url("")).rstrip("/")
        session = await sign_in(north, base, p.staff_a)
        async with north.post(
            f"{base}/api/v1/conversations/{item.conversation_id}/messages",
            json={"channel": "email", "body": "Answer"},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            reply = await resp.json()
        async with north.post(
            f"{base}/api/v1/conversations/{item.conversation_id}/status",
            json={"status": "closed"},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            assert resp.status == 200
    async with mail.app[SERVICES].read() as s:
        ours = await s.scalar(select(EmailMessage.message_id).where(EmailMessage.item_id == reply["id"]))
    dsn = (
        "From: MAILER-DAEMON@example.org\r\nTo: north@practice.test\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {PATIENT}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{ours}>\r\nSubject: Re: Question\r\n--B--\r\n"
    ).encode()
    await send_in(mail, dsn, sender="mailer-daemon@example.org")

    async def failed() -> bool:
        async with mail.app[SERVICES].read() as s:
            row = await s.get(TimelineItem, reply["id"])
            return row is not None and row.status == "failed"

    await wait_for(failed)
    # The relay's 250 arriving after the bounce (a fast relay, a slow sender) leaves the e-mail failed.
    await wait_for(lambda: asyncio.sleep(0, bool(mail.relay.received)))

    async def settled() -> bool:  # the sender has recorded its own 250: nothing else writes the entry now
        async with mail.app[SERVICES].read() as s:
            entry = await s.get(OutboxEntry, reply["id"])
            return entry is not None and entry.state == "done"

    await wait_for(settled)
    async with mail.app[SERVICES].unit() as unit:
        entry = await unit.session.get(OutboxEntry, reply["id"])
        assert entry is not None
        entry.state, entry.claim_token = "sending", "late-250"
    assert await record_handed_off(mail.app[SERVICES], reply["id"], "late-250", 1)
    async with mail.app[SERVICES].read() as s:
        row = await s.get(TimelineItem, reply["id"])
        assert row is not None and row.status == "failed" and "bounced" in row.meta["error"]
    await send_in(
        mail,
        patient_mail(
            "Out of Office", "I am away", Message_ID="<ooo@example.org>", Auto_Submitted="auto-replied"
        ),
    )
    async with mail.app[SERVICES].read() as s:
        conversation = await s.get(Conversation, item.conversation_id)
    assert conversation is not None and conversation.status == "closed"


async def test_every_corpus_message_is_stored_never_dropped(mail: Any) -> None:
    corpus = sorted(shared_file("email").glob("msg_*.txt"))
    assert len(corpus) == 13
    own = sorted(OWN_CORPUS.glob("*.eml"))
    assert len(own) == 9
    for path in corpus + own:
        await send_in(mail, path.read_bytes(), sender=PATIENT)
    stored = await emails(mail)
    # Every message is kept, odd ones too (msg_16 and dsn_delayed are reports on mail we never sent).
    assert len(stored) == len(corpus) + len(own)
    assert any("27:39:33" in w for item in stored for w in item.meta.get("warnings", []))  # msg_47's bad date
    # Staff can open every one: its HTML (where it has one) and its original, byte for byte.
    async with browser() as http:
        await sign_in(http, mail.base, mail.practice.admin)
        for item in stored:
            if item.meta.get("has_html"):
                async with http.get(f"{mail.base}/api/v1/email/{item.id}/html") as resp:
                    assert resp.status == 200, (item.meta["subject"], await resp.text())
                    assert "<script" not in (await resp.text()).lower()
            async with http.get(f"{mail.base}/api/v1/email/{item.id}/raw") as resp:
                assert resp.status == 200
        assert sum(1 for item in stored if item.meta.get("has_html")) >= 3
