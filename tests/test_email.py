"""E-mail end to end over real SMTP: the listener in, a local relay out, threading, bounces, corpus."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from email.message import EmailMessage as Message
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from comms.models import Conversation, EmailMessage, TimelineItem
from tests.conftest import make_settings
from tests.conftest import testdata as shared_file
from tests.helpers import ORIGIN, Practice, browser, seed_practice, sign_in
from web.keys import SERVICES, SMTP_PORT

PATIENT = "pat.garcia@example.org"


class Relay:
    """A real SMTP server standing in for the practice's mail relay; it keeps what it is given."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 OK"


@pytest.fixture
async def mail(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Any]:
    relay = Relay()
    loop = asyncio.get_running_loop()
    relay_server = await loop.create_server(lambda: SMTP(relay), "127.0.0.1", 0)
    relay_port = relay_server.sockets[0].getsockname()[1]
    from comms import migrate
    from comms.db import make_engine
    from web.app import create_app

    settings = make_settings(
        db_settings,
        server={"allowed_origins": [ORIGIN]},
        storage={"media_dir": str(tmp_path / "media")},
        smtp={
            "listen_port": 0,
            "max_message_bytes": 200_000,
            "relay_host": "127.0.0.1",
            "relay_port": relay_port,
            "starttls": False,
            "message_id_domain": "practice.test",
        },
    )
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    server = await aiohttp_server(app)
    server.practice = await seed_practice(app[SERVICES])
    server.relay = relay
    yield server
    relay_server.close()


async def _send(
    mail: Any, message: Message | bytes, to: str = "north@practice.test", sender: str = PATIENT
) -> None:
    await aiosmtplib.send(
        message, hostname="127.0.0.1", port=mail.app[SMTP_PORT], sender=sender, recipients=[to]
    )


def _mail(subject: str, body: str, **headers: str) -> Message:
    m = Message()
    m["From"], m["To"], m["Subject"] = f"Pat Garcia <{PATIENT}>", "north@practice.test", subject
    for key, value in headers.items():
        m[key.replace("_", "-")] = value
    m.set_content(body)
    return m


async def _emails(mail: Any) -> list[TimelineItem]:
    async with mail.app[SERVICES].read() as s:
        return list(
            await s.scalars(
                select(TimelineItem).where(TimelineItem.kind == "email").order_by(TimelineItem.id)
            )
        )


async def _wait(predicate: Any, timeout: float = 5.0) -> Any:
    for _ in range(int(timeout / 0.05)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_inbound_mail_reply_out_and_patient_reply_thread_together(mail: Any) -> None:
    p: Practice = mail.practice
    first = _mail("Insurance card", "Attached is my card.\n\nThanks,\nPat", Message_ID="<first@example.org>")
    await _send(mail, first)
    [item] = await _emails(mail)
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
    await _wait(lambda: asyncio.sleep(0, bool(mail.relay.received)))
    [envelope] = mail.relay.received
    sent = email.message_from_bytes(envelope.content)
    assert envelope.rcpt_tos == [PATIENT]
    assert sent["Subject"] == "Re: Insurance card" and sent["In-Reply-To"] == "<first@example.org>"
    async with mail.app[SERVICES].read() as s:
        ours = await s.scalar(select(EmailMessage.message_id).where(EmailMessage.item_id == reply["id"]))
    assert sent["Message-ID"] == f"<{ours}>"

    # The patient answers our e-mail: it lands in the same thread, found through In-Reply-To.
    await _send(
        mail,
        _mail(
            "Re: Insurance card",
            "Great!\n\nOn Mon, Front desk wrote:\n> Got it, thank you!",
            Message_ID="<second@example.org>",
            In_Reply_To=f"<{ours}>",
        ),
        sender="someone-else@example.net",
    )
    items = await _emails(mail)
    assert [i.conversation_id for i in items] == [conversation.id] * 3
    assert items[-1].meta["new_text"].strip() == "Great!" and "Got it" in items[-1].meta["quoted"]
    # Twilio-like retries exist for mail too: the same Message-ID again is stored once.
    await _send(mail, _mail("Insurance card", "Attached is my card.", Message_ID="<first@example.org>"))
    assert len(await _emails(mail)) == 3


async def test_unknown_recipient_and_oversized_mail_are_refused_with_smtp_codes(mail: Any) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await _send(mail, _mail("hi", "x"), to="nobody@practice.test")
    assert refused.value.recipients[0].code == 550
    with pytest.raises(aiosmtplib.SMTPResponseException) as big:
        await _send(mail, _mail("huge", "x" * 300_000))
    assert big.value.code == 552
    assert await _emails(mail) == []


async def test_bounce_marks_our_mail_failed_and_auto_reply_does_not_reopen(mail: Any) -> None:
    p: Practice = mail.practice
    await _send(mail, _mail("Question", "Hello", Message_ID="<q1@example.org>"))
    [item] = await _emails(mail)
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
    await _send(mail, dsn, sender="mailer-daemon@example.org")

    async def failed() -> bool:
        async with mail.app[SERVICES].read() as s:
            row = await s.get(TimelineItem, reply["id"])
            return row is not None and row.status == "failed"

    await _wait(failed)
    await _send(
        mail,
        _mail("Out of Office", "I am away", Message_ID="<ooo@example.org>", Auto_Submitted="auto-replied"),
    )
    async with mail.app[SERVICES].read() as s:
        conversation = await s.get(Conversation, item.conversation_id)
    assert conversation is not None and conversation.status == "closed"


async def test_every_corpus_message_is_stored_never_dropped(mail: Any) -> None:
    corpus = sorted(shared_file("email").glob("msg_*.txt"))
    assert len(corpus) == 13
    for path in corpus:
        await _send(mail, path.read_bytes(), sender=PATIENT)
    stored = await _emails(mail)
    # Every message is kept, odd ones too (msg_16 is a bounce of a mail we never sent: kept as it is).
    assert len(stored) == len(corpus)
    assert any("27:39:33" in w for item in stored for w in item.meta.get("warnings", []))  # msg_47's bad date
