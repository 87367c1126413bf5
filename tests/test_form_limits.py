"""The patient's form endpoints are rate-limited per address (requests, uploads, links that are not
valid) with a clear message and Retry-After, refusing before anything is stored; and a form sent by
e-mail is reminded by e-mail, with a stop link the patient can follow."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from comms import form_limits
from comms.errors import RateLimited
from comms.form_followups import remind_due
from comms.form_models import FormHit, FormRequest, FormUpload
from comms.models import AuditEntry, Contact, ContactEmail, Conversation, TimelineItem, utcnow
from tests.carrier import Carrier, start_pair
from tests.forms_rig import JPEG, link_of, png, published_template
from tests.voice import Desk, open_desk
from web.keys import SERVICES

LIMITS = {"requests_per_address": 10, "uploads_per_address": 2, "bad_links_per_address": 3}


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    yield await start_pair(db_settings, aiohttp_server, tmp_path, sections={"forms": LIMITS})


@pytest.fixture
async def staff(carrier: Carrier) -> AsyncIterator[Desk]:
    desk = await open_desk(carrier.base, carrier.practice.staff_a, on_duty=False)
    yield desk
    await desk.close()


async def _template(carrier: Carrier) -> dict[str, Any]:
    admin = await open_desk(carrier.base, carrier.practice.admin, on_duty=False)
    try:
        return await published_template(admin, carrier.base)
    finally:
        await admin.close()


async def _sent(
    carrier: Carrier, staff: Desk, conversation_id: int | None = None, channel: str = "sms"
) -> int:
    template = await _template(carrier)
    url = f"{carrier.base}/api/v1/conversations/{conversation_id or carrier.practice.conv_a}/form-requests"
    return int((await staff.api("POST", url, {"template_id": template["id"], "channel": channel}))["id"])


async def _call(method: str, url: str, **kw: Any) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kw) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, dict(r.headers), body


async def _age_hits(carrier: Carrier, seconds: int) -> None:
    async with carrier.app[SERVICES].unit() as unit:
        await unit.session.execute(update(FormHit).values(at=utcnow() - dt.timedelta(seconds=seconds)))


async def test_too_many_requests_from_one_address_get_429_with_retry_after_and_store_nothing(
    carrier: Carrier, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    request_id = await _sent(carrier, staff)
    link = await link_of(carrier, request_id)
    status, _, _ = await _call("GET", link)
    assert status == 200
    for n in range(9):
        status, _, body = await _call("PUT", f"{link}/draft", json={"answers": {"first": f"Ana{n}"}})
        assert status == 200, body
    status, headers, body = await _call("PUT", f"{link}/draft", json={"answers": {"first": "Refused"}})
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert "Too many requests from your network" in body["error"]["message"]
    assert 1 <= int(headers["Retry-After"]) <= 600
    status, headers, page = await _call("GET", link)
    assert status == 429 and "Please wait a few minutes" in page and int(headers["Retry-After"]) >= 1
    status, _, body = await _call("POST", f"{link}/submit", json={"answers": {}})
    assert status == 429
    async with services.read() as s:
        row = await s.get(FormRequest, request_id)
        hits = await s.scalar(select(func.count()).select_from(FormHit))
    assert row is not None and row.answers.get("first") == "Ana8"  # the refused save changed nothing
    assert hits == 10  # refusals are not counted (they cost a read, never a write)

    # Another address is not held back by this one.
    await form_limits.admit(services, "203.0.113.9")
    # Once the window has passed, the patient goes on; the sweeper's prune drops the old rows.
    await _age_hits(carrier, 601)
    status, _, body = await _call("PUT", f"{link}/draft", json={"answers": {"first": "Later"}})
    assert status == 200, body
    await form_limits.prune(services)
    async with services.read() as s:
        kept = list(await s.execute(select(FormHit.addr, FormHit.kind)))
    assert [tuple(k) for k in kept] == [("127.0.0.1", "request")]  # only the save after the window


async def test_uploads_have_their_own_tighter_limit_and_a_refused_one_keeps_nothing(
    carrier: Carrier, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    link = await link_of(carrier, await _sent(carrier, staff))
    status, _, card = await _call("POST", f"{link}/uploads/card", data=JPEG)
    assert status == 201
    status, _, _ = await _call("POST", f"{link}/uploads/sign", data=png())
    assert status == 201
    status, headers, body = await _call("POST", f"{link}/uploads/card", data=JPEG + b"\x00")
    assert status == 429 and "Too many uploads" in body["error"]["message"] and "Retry-After" in headers
    async with services.read() as s:
        cards = list(await s.scalars(select(FormUpload.id).where(FormUpload.field_key == "card")))
    assert cards == [card["upload_id"]]  # the refused upload replaced nothing
    status, _, _ = await _call("PUT", f"{link}/draft", json={"answers": {"first": "Ana"}})
    assert status == 200  # saving answers is still fine


async def test_guessing_links_from_one_address_is_stopped_even_for_a_real_link(
    carrier: Carrier, staff: Desk
) -> None:
    link = await link_of(carrier, await _sent(carrier, staff))
    base = link.rsplit("/", 1)[0]
    for guess in ("A" * 32, "B" * 32, "bad"):
        status, _, _ = await _call("GET", f"{base}/{guess}")
        assert status == 404
    status, headers, page = await _call("GET", link)
    assert status == 429 and "not valid" in page and "Retry-After" in headers
    status, _, body = await _call("PUT", f"{link}/draft", json={"answers": {"first": "Ana"}})
    assert status == 429 and "not valid" in body["error"]["message"]
    with pytest.raises(RateLimited):
        await form_limits.admit(carrier.app[SERVICES], "127.0.0.1")


async def _email_patient(carrier: Carrier) -> int:
    async with carrier.app[SERVICES].unit() as unit:
        contact = Contact(practice_id=carrier.practice.practice_id, first_name="Eve", last_name="Mail")
        contact.emails.append(ContactEmail(address="eve@example.com"))
        unit.session.add(contact)
        await unit.session.flush()
        conversation = Conversation(contact_id=contact.id, location_id=carrier.practice.loc_a)
        unit.session.add(conversation)
        await unit.session.flush()
        return conversation.id


async def _age(carrier: Carrier, request_id: int, days: float) -> None:
    async with carrier.app[SERVICES].unit() as unit:
        await unit.session.execute(
            update(FormRequest)
            .where(FormRequest.id == request_id)
            .values(created_at=utcnow() - dt.timedelta(days=days))
        )


async def test_a_form_sent_by_e_mail_is_reminded_by_e_mail_until_the_patient_says_stop(
    carrier: Carrier, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    conversation_id = await _email_patient(carrier)
    request_id = await _sent(carrier, staff, conversation_id, channel="email")
    await _age(carrier, request_id, 2.1)
    assert await remind_due(services) == [request_id]
    async with services.read() as s:
        mails = list(
            await s.scalars(
                select(TimelineItem)
                .where(TimelineItem.conversation_id == conversation_id, TimelineItem.kind == "email")
                .order_by(TimelineItem.id)
            )
        )
        texts = await s.scalar(select(func.count()).where(TimelineItem.kind == "sms"))
    assert texts == 0 and [m.meta.get("followup") for m in mails] == [None, "reminder"]
    reminder = mails[1]
    assert reminder.meta["subject"].endswith("North: a reminder about your forms")  # threaded: "Re: "
    assert reminder.meta["to"] == ["eve@example.com"]
    links = re.findall(r"http\S+/f/[A-Za-z0-9_-]+", reminder.body)
    stop = re.search(r"http\S+/f/[A-Za-z0-9_-]+/stop", reminder.body)
    assert stop is not None and links and links[0] != mails[0].body.rsplit(" ", 1)[1]  # a fresh link

    status, _, page = await _call("GET", stop.group(0))
    assert status == 200 and "No more reminders" in page and 'method="post"' in page
    assert "<h1>North</h1>" in page
    async with services.read() as s:
        row = await s.get(FormRequest, request_id)
        assert row is not None and row.reminders_sent == 1  # looking at the page stops nothing
    status, _, page = await _call("GET", stop.group(0).replace("/stop", "x/stop"))
    assert status == 404 and "not valid" in page
    status, _, page = await _call("POST", stop.group(0).replace("/stop", "x/stop"))
    assert status == 404 and "not valid" in page  # a tampered stop link stops nothing
    async with services.read() as s:
        row = await s.get(FormRequest, request_id)
        assert row is not None and row.reminders_sent == 1
    status, _, page = await _call("POST", stop.group(0))
    assert status == 200 and "no more reminders" in page
    status, _, page = await _call("POST", stop.group(0))
    assert status == 200  # twice is fine, and said once in the thread
    await _age(carrier, request_id, 6)
    assert await remind_due(services) == []
    async with services.read() as s:
        notes = list(
            await s.scalars(
                select(TimelineItem.body).where(
                    TimelineItem.conversation_id == conversation_id, TimelineItem.kind == "activity"
                )
            )
        )
        stops = await s.scalar(select(func.count()).where(AuditEntry.action == "stop_reminders"))
        row = await s.get(FormRequest, request_id)
    assert notes == ["The patient asked for no more reminders about this form."] and stops == 1
    assert row is not None and row.status in ("sent", "opened")  # the form itself stays open
    status, _, _ = await _call("GET", links[0])
    assert status == 200


async def test_an_e_mail_reminder_to_a_patient_without_an_address_is_not_sent_and_the_thread_says_so(
    carrier: Carrier, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    conversation_id = await _email_patient(carrier)
    request_id = await _sent(carrier, staff, conversation_id, channel="email")
    async with services.unit() as unit:
        await unit.session.execute(ContactEmail.__table__.delete())
    await _age(carrier, request_id, 6)
    assert await remind_due(services) == []
    async with services.read() as s:
        note = await s.scalar(
            select(TimelineItem.body).where(
                TimelineItem.conversation_id == conversation_id, TimelineItem.kind == "activity"
            )
        )
        sent = await s.scalar(select(func.count()).where(TimelineItem.kind.in_(("sms", "email"))))
    assert note == "Form reminder not sent: this patient has no e-mail address." and sent == 1


async def test_an_ipv6_client_is_counted_by_its_64_prefix_not_by_each_of_its_addresses(
    carrier: Carrier,
) -> None:
    """A phone or home line holds a whole /64 and may pick a new address per request (privacy addresses)."""
    services = carrier.app[SERVICES]
    for n in range(LIMITS["requests_per_address"]):
        await form_limits.admit(services, f"2001:db8:1:2::{n + 1:x}")
    with pytest.raises(RateLimited):
        await form_limits.admit(services, "2001:db8:1:2:ffff:ffff:ffff:ffff")
    await form_limits.admit(services, "2001:db8:1:3::1")  # the next /64 is someone else
    await form_limits.admit(services, "::ffff:198.51.100.7")  # an IPv4 peer seen through IPv6 is itself
    await form_limits.admit(services, "::ffff:198.51.100.8")
    await form_limits.admit(services, "fe80::1%eth0")  # a link-local peer with its zone
    async with services.read() as s:
        keys = set(await s.scalars(select(FormHit.addr)))
    assert keys == {"2001:db8:1:2::/64", "2001:db8:1:3::/64", "198.51.100.7", "198.51.100.8", "fe80::/64"}
