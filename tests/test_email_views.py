"""E-mail out with HTML, attachments and the whole References chain; staff's views of mail, audited.

Real SMTP both ways (the listener in, a local relay out), the real app over HTTP, both databases.
"""

from __future__ import annotations

import base64
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import EmailMessage as Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from comms.models import AuditEntry, Conversation, EmailMessage, OutboxEntry, TimelineItem
from tests.email_rig import PATIENT, emails, patient_mail, send_in, start_mail, wait_for
from tests.helpers import browser, sign_in
from web.keys import SERVICES

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
LIMIT = 64 * 1024


def png() -> bytes:
    """A valid 1x1 picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def mail(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Any]:
    server, relay_server = await start_mail(db_settings, aiohttp_server, tmp_path, max_attachment_bytes=LIMIT)
    yield server
    relay_server.close()


class Staff:
    """A signed-in staff member's HTTP client."""

    def __init__(self, http: aiohttp.ClientSession, base: str, csrf: str) -> None:
        self.http, self.base, self.csrf = http, base, csrf

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(self.base + path, json=body, headers={"X-CSRF-Token": self.csrf}) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str) -> tuple[int, bytes, Any]:
        async with self.http.get(self.base + path) as resp:
            return resp.status, await resp.read(), resp.headers


async def _staff(mail: Any, http: aiohttp.ClientSession, who: str) -> Staff:
    session = await sign_in(http, mail.base, who)
    return Staff(http, mail.base, session["csrf_token"])


def _file(name: str, content_type: str, data: bytes) -> dict[str, str]:
    return {"filename": name, "content_type": content_type, "content_base64": base64.b64encode(data).decode()}


async def _relayed(mail: Any, n: int) -> Message:
    await wait_for(lambda: _count(mail, n))
    content = mail.relay.received[n - 1].content
    return message_from_bytes(content, policy=default_policy)  # type: ignore[return-value]


async def _count(mail: Any, n: int) -> bool:
    return len(mail.relay.received) >= n


async def _audits(mail: Any, action: str) -> list[AuditEntry]:
    async with mail.app[SERVICES].read() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_reply_has_text_html_files_and_the_whole_thread_in_references(mail: Any) -> None:
    await send_in(
        mail,
        patient_mail(
            "Claim form",
            "Here is my question.",
            Message_ID="<c3@example.org>",
            In_Reply_To="<b2@example.org>",
            References="<a1@example.org> <b2@example.org>",
        ),
    )
    [inbound] = await emails(mail)
    text = 'Thanks & see attached.\n\n<script>alert("x")</script> is just text.\nDr. Lee'
    async with browser() as http:
        north = await _staff(mail, http, mail.practice.staff_a)
        status, reply = await north.post(
            f"/api/v1/conversations/{inbound.conversation_id}/emails",
            {
                "body": text,
                "attachments": [
                    _file("../../claim form.pdf", "application/pdf", PDF),
                    _file("x-ray ü.png", "image/png", png()),
                ],
            },
        )
        assert status == 201, reply
        sent = await _relayed(mail, 1)
        assert sent["In-Reply-To"] == "<c3@example.org>"
        assert sent["References"].split() == ["<a1@example.org>", "<b2@example.org>", "<c3@example.org>"]
        assert sent["Subject"] == "Re: Claim form"
        assert sent.get_content_type() == "multipart/mixed"
        plain = sent.get_body(("plain",))
        html = sent.get_body(("html",))
        assert plain is not None and html is not None
        assert plain.get_content().replace("\r\n", "\n").strip() == text
        page = html.get_content()
        assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert "Thanks &amp; see attached.</p>" in page and "is just text.<br>" in page
        files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in sent.iter_attachments()]
        assert files == [("claim form.pdf", "application/pdf", PDF), ("x-ray ü.png", "image/png", png())]

        # The thread's item lists the files by name and size; staff open them under that name.
        listed = [(m["filename"], m["size"]) for m in reply["meta"]["media"]]
        assert listed == [("claim form.pdf", len(PDF)), ("x-ray ü.png", len(png()))]
        status, data, headers = await north.get(
            f"/api/v1/email/attachments/{reply['meta']['media'][1]['id']}"
        )
        assert status == 200 and data == png()
        assert headers["Content-Disposition"] == (
            "inline; filename=\"x-ray _.png\"; filename*=UTF-8''x-ray%20%C3%BC.png"
        )
        status, data, headers = await north.get(
            f"/api/v1/email/attachments/{reply['meta']['media'][0]['id']}"
        )
        assert status == 200 and data == PDF and headers["Content-Disposition"].startswith("attachment;")
        # What we sent is kept: the original downloads as the very bytes the relay received.
        status, data, headers = await north.get(f"/api/v1/email/{reply['id']}/raw")
        assert status == 200 and data.replace(b"\r\n", b"\n") == mail.relay.received[0].content.replace(
            b"\r\n", b"\n"
        )
        assert headers["Content-Type"] == "message/rfc822"

        # The patient answers ours; our next reply's References carry the whole chain, ours included.
        ours = sent["Message-ID"]
        await send_in(
            mail,
            patient_mail(
                "Re: Claim form",
                "Got it.",
                Message_ID="<d4@example.org>",
                In_Reply_To=ours,
                References=f"<a1@example.org> <b2@example.org> <c3@example.org> {ours}",
            ),
        )
        status, _ = await north.post(
            f"/api/v1/conversations/{inbound.conversation_id}/emails", {"body": "Great, thanks."}
        )
        assert status == 201
        second = await _relayed(mail, 2)
        assert second["In-Reply-To"] == "<d4@example.org>"
        assert second["References"].split() == [
            "<a1@example.org>",
            "<b2@example.org>",
            "<c3@example.org>",
            ours,
            "<d4@example.org>",
        ]
        assert [i.conversation_id for i in await emails(mail)] == [inbound.conversation_id] * 4

        # Another location's staff cannot open any of it.
        async with browser() as http_b:
            south = await _staff(mail, http_b, mail.practice.staff_b)
            for path in (
                f"/api/v1/email/attachments/{reply['meta']['media'][0]['id']}",
                f"/api/v1/email/{reply['id']}/raw",
            ):
                assert (await south.get(path))[0] == 404
    views = await _audits(mail, "view")
    assert sorted(e.record_id for e in views if e.record_type == "media") == sorted(
        str(m["id"]) for m in reply["meta"]["media"]
    )
    assert [(e.record_id, e.detail) for e in await _audits(mail, "export")] == [
        (str(reply["id"]), {"part": "raw"})
    ]


async def test_attachments_are_limited_by_type_content_and_size(mail: Any) -> None:
    p = mail.practice
    async with mail.app[SERVICES].unit() as unit:
        conversation = await unit.session.get(Conversation, p.conv_a)
        assert conversation is not None
    await send_in(mail, patient_mail("Hello", "Hi", Message_ID="<h1@example.org>"))
    [inbound] = await emails(mail)
    url = f"/api/v1/conversations/{inbound.conversation_id}/emails"
    async with browser() as http:
        north = await _staff(mail, http, p.staff_a)
        cases = [
            (_file("setup.exe", "application/x-msdownload", b"MZ\x90\x00"), 422, "cannot be attached"),
            (_file("scan.pdf", "application/pdf", b"MZ\x90\x00 not a pdf"), 422, "is not application/pdf"),
            (_file("page.html", "text/html", b"<script>"), 422, "cannot be attached"),
            (_file("big.pdf", "application/pdf", b"%PDF-" + b"x" * LIMIT), 422, "the limit is 64 KB"),
            (_file("huge.pdf", "application/pdf", b"%PDF-" + b"x" * (2 * 1024 * 1024)), 413, "over"),
        ]
        for attachment, code, words in cases:
            status, body = await north.post(url, {"body": "See attached", "attachments": [attachment]})
            assert status == code and words in body["error"]["message"], (attachment["filename"], body)
        status, body = await north.post(
            url,
            {
                "body": "x",
                "attachments": [{**_file("a.pdf", "application/pdf", PDF), "content_base64": "@@"}],
            },
        )
        assert status == 422 and "not valid base64" in body["error"]["message"]
    async with mail.app[SERVICES].read() as s:
        assert await s.scalar(select(OutboxEntry.item_id)) is None  # nothing refused was queued


def _html_mail(remote: str) -> Message:
    m = Message()
    m["From"], m["To"], m["Subject"] = f"Pat <{PATIENT}>", "north@practice.test", "My forms"
    m["Message-ID"] = "<html1@example.org>"
    m.set_content("My forms (plain)")
    m.add_alternative(
        "<p onclick=\"alert(1)\">Hello <b>team</b></p><script>alert('x')</script>"
        f'<img src="{remote}/track.png" alt="tracker"><img src="cid:logo@example.org" alt="logo">'
        '<a href="javascript:alert(1)">click</a><form action="https://evil.example/"><input></form>',
        subtype="html",
    )
    html_part = m.get_body(("html",))
    assert html_part is not None
    html_part.add_related(png(), "image", "png", cid="<logo@example.org>")
    return m


async def test_sanitized_html_view_remote_images_only_on_request_and_audited(mail: Any) -> None:
    await send_in(mail, _html_mail("https://tracker.example"))
    [item] = await emails(mail)
    assert item.meta["has_html"] is True and item.meta["remote_images"] is True
    assert "html" not in item.meta  # the mail's HTML is not pushed to every browser with each event
    async with browser() as http:
        north = await _staff(mail, http, mail.practice.staff_a)
        status, data, headers = await north.get(f"/api/v1/email/{item.id}/html")
        assert status == 200, data
        page = data.decode()
        csp = headers["Content-Security-Policy"]
        assert "sandbox" in csp and "default-src 'none'" in csp and "img-src data:;" in csp
        assert headers["X-Frame-Options"] == "SAMEORIGIN" and headers["Cache-Control"] == "no-store"
        assert "<b>team</b>" in page
        for bad in ("<script", "onclick", "javascript:", "<form", "<input", "tracker.example"):
            assert bad not in page, bad
        assert f'src="data:image/png;base64,{base64.b64encode(png()).decode()}"' in page

        status, data, headers = await north.get(f"/api/v1/email/{item.id}/html?remote_images=true")
        assert status == 200
        assert "img-src data: https: http:;" in headers["Content-Security-Policy"]
        assert 'src="https://tracker.example/track.png"' in data.decode()
        assert "<script" not in data.decode()

        async with browser() as http_b:
            south = await _staff(mail, http_b, mail.practice.staff_b)
            assert (await south.get(f"/api/v1/email/{item.id}/html"))[0] == 404
        async with browser() as anonymous:
            async with anonymous.get(f"{mail.base}/api/v1/email/{item.id}/html") as resp:
                assert resp.status == 401
    views = [e.detail for e in await _audits(mail, "view") if e.record_id == str(item.id)]
    assert views == [{"part": "html", "remote_images": False}, {"part": "html", "remote_images": True}]


async def test_threading_stays_inside_the_receiving_location(mail: Any) -> None:
    """Message-IDs are the sender's to choose: a reply naming North's mail, sent to South, stays at South."""
    await send_in(mail, patient_mail("North question", "Hi North", Message_ID="<n1@example.org>"))
    assert len(await emails(mail)) == 1
    answer = patient_mail(
        "Re: North question", "Hi South", Message_ID="<s1@example.org>", In_Reply_To="<n1@example.org>"
    )
    await send_in(mail, answer, to="south@practice.test")
    first, second = await emails(mail)
    async with mail.app[SERVICES].read() as s:
        where = {
            c.id: c.location_id
            for c in await s.scalars(
                select(Conversation).where(
                    Conversation.id.in_([first.conversation_id, second.conversation_id])
                )
            )
        }
    assert where[first.conversation_id] == mail.practice.loc_a
    assert where[second.conversation_id] == mail.practice.loc_b

    # One message to both locations: each gets its copy; the same message again adds nothing.
    both = patient_mail("For everyone", "Hello all", Message_ID="<all@example.org>")
    await send_in(mail, both, to=["north@practice.test", "south@practice.test"])
    await send_in(mail, both, to=["south@practice.test"])
    items = await emails(mail)
    assert len(items) == 4
    async with mail.app[SERVICES].read() as s:
        keys = sorted(
            await s.scalars(
                select(EmailMessage.message_id).where(EmailMessage.item_id.in_([i.id for i in items[2:]]))
            )
        )
        conversations = [await s.get(Conversation, i.conversation_id) for i in items[2:]]
    locations = sorted(c.location_id for c in conversations if c is not None)
    assert keys == ["all@example.org", f"all@example.org#copy{mail.practice.loc_b}"]
    assert locations == sorted([mail.practice.loc_a, mail.practice.loc_b])
    assert {i.meta["message_id"] for i in items[2:]} == {"all@example.org"}


async def test_the_listener_does_not_log_patients_addresses(
    mail: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what `frontdesk serve` logs at
    await send_in(mail, patient_mail("Private", "Hello"))
    await wait_for(lambda: _stored(mail))
    leaked = [r.getMessage() for r in caplog.records if PATIENT in r.getMessage()]
    assert leaked == []
    # Turned on deliberately, the SMTP session log is there (so this test would see a leak).
    from web.mail import quiet_smtp_logs

    quiet_smtp_logs(True)
    try:
        await send_in(mail, patient_mail("Private", "Again", Message_ID="<again@example.org>"))
    finally:
        quiet_smtp_logs(False)
    assert any(PATIENT in r.getMessage() for r in caplog.records if r.name == "mail.log")


async def _stored(mail: Any) -> bool:
    return bool(await emails(mail))


async def test_an_unconfirmed_decision_is_refused_for_an_e_mail_not_waiting_for_one(mail: Any) -> None:
    await send_in(mail, patient_mail("Hello", "Hi", Message_ID="<w1@example.org>"))
    [item] = await emails(mail)
    async with browser() as http:
        north = await _staff(mail, http, mail.practice.staff_a)
        status, body = await north.post(f"/api/v1/email/{item.id}/resolve", {"decision": "resend"})
        assert status == 409 and body["error"]["code"] == "conflict"
    async with mail.app[SERVICES].read() as s:
        assert (await s.get(TimelineItem, item.id)).status == "received"  # type: ignore[union-attr]
