"""Intake forms end to end on a real server: admins publish versioned templates, staff send a form from
a thread (a form card and a text with the private link), the patient opens it, saves as they go,
uploads a card photo and a drawn signature, leaves and comes back, submits; the card moves live, the
record is updated, staff read answers and uploads (audited, their locations only). Bad input, tampered
and expired links get clear answers and store nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update

from comms import appointments
from comms.form_followups import expire_due, remind_due
from comms.form_models import FormLink, FormRequest, FormTemplateVersion, FormUpload
from comms.models import (
    AuditEntry,
    Contact,
    ContactEmail,
    ContactPhone,
    Conversation,
    OptOut,
    TimelineItem,
    utcnow,
)
from schemas.schedule import BookIn
from tests.carrier import Carrier, start_pair
from tests.forms_rig import INTAKE, JPEG, link_of, png, published_template
from tests.helpers import ORIGIN
from tests.schedule_helpers import at, next_weekday, seed_calendar, staff_actor
from tests.voice import Desk, open_desk
from web.access_log import logged_path
from web.keys import SERVICES

PATIENT_A = "+12025550170"


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    forms = {"max_upload_bytes": 65536, "first_booking_template": "New patient intake"}
    yield await start_pair(db_settings, aiohttp_server, tmp_path, sections={"forms": forms})


@pytest.fixture
async def admin(carrier: Carrier) -> AsyncIterator[Desk]:
    desk = await open_desk(carrier.base, carrier.practice.admin, on_duty=False)
    yield desk
    await desk.close()


@pytest.fixture
async def staff(carrier: Carrier) -> AsyncIterator[Desk]:
    desk = await open_desk(carrier.base, carrier.practice.staff_a, on_duty=False)
    yield desk
    await desk.close()


async def _send(desk: Desk, carrier: Carrier, template_id: int) -> dict[str, Any]:
    url = f"{carrier.base}/api/v1/conversations/{carrier.practice.conv_a}/form-requests"
    return dict(await desk.api("POST", url, {"template_id": template_id}))


async def _raw(method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kw) as r:
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body


def _card(request_id: int, status: str) -> Any:
    def check(e: dict[str, Any]) -> bool:
        item = e.get("item") or {}
        return (
            e.get("type") in ("timeline.item_updated", "timeline.item_added")
            and item.get("kind") == "form"
            and item.get("meta", {}).get("form_request_id") == request_id
            and item.get("status") == status
        )

    return check


async def test_templates_are_admin_only_and_a_published_version_never_changes(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    base = carrier.base
    async with staff.http.post(
        f"{base}/api/v1/form-templates",
        json={"name": "Intake", "definition": INTAKE},
        headers={"Origin": ORIGIN, "X-CSRF-Token": staff.csrf},
    ) as r:
        assert r.status == 403, await r.text()
    template = await published_template(admin, base)
    [v1] = template["versions"]
    assert v1["status"] == "published" and template["published_version_id"] == v1["id"]
    changed = {
        "sections": [{"title": "Short", "fields": [{"key": "first", "label": "Name", "kind": "text"}]}]
    }
    again = await admin.api(
        "PUT", f"{base}/api/v1/form-templates/{template['id']}/draft", {"definition": changed}
    )
    assert [v["version"] for v in again["versions"]] == [1, 2]
    assert again["versions"][0]["definition"] == v1["definition"]  # v1 is frozen
    assert again["published_version_id"] == v1["id"]  # the draft is not sent yet
    sent = await _send(staff, carrier, template["id"])
    assert sent["version"] == 1
    bad = {"sections": [{"title": "S", "fields": [{"key": "a", "label": "A", "kind": "choice"}]}]}
    async with admin.http.put(
        f"{base}/api/v1/form-templates/{template['id']}/draft",
        json={"definition": bad},
        headers={"Origin": ORIGIN, "X-CSRF-Token": admin.csrf},
    ) as r:
        assert r.status == 422 and "at least one option" in (await r.json())["error"]["message"]
    published = await admin.api("POST", f"{base}/api/v1/form-templates/{template['id']}/publish")
    assert published["versions"][1]["status"] == "published" and published["published_version_id"] != v1["id"]
    async with admin.http.post(
        f"{base}/api/v1/form-templates/{template['id']}/publish",
        headers={"Origin": ORIGIN, "X-CSRF-Token": admin.csrf},
    ) as r:
        assert r.status == 409  # nothing left to publish
    async with carrier.app[SERVICES].read() as s:
        row = await s.get(FormTemplateVersion, v1["id"])
        assert row is not None and row.definition == v1["definition"]


async def test_patient_fills_in_leaves_comes_back_submits_and_the_thread_and_record_follow(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    base = carrier.base
    template = await published_template(admin, base)
    out = await _send(staff, carrier, template["id"])
    assert out["status"] == "sent" and out["template_name"] == "New patient intake"
    await staff.event(_card(out["id"], "sent"))
    link = await link_of(carrier, out["id"])
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 32
    async with carrier.app[SERVICES].read() as s:
        [digest] = await s.scalars(select(FormLink.token_sha256).where(FormLink.request_id == out["id"]))
        assert digest == hashlib.sha256(token.encode()).hexdigest()
        text = await s.scalar(select(TimelineItem).where(TimelineItem.kind == "sms"))
        assert (
            text is not None
            and text.body.startswith("North: please fill in your forms")
            and "intake" not in text.body
        )
        card = await s.get(TimelineItem, out["item_id"])
        assert card is not None and token not in str(card.meta)

    status, page = await _raw("GET", link)
    assert status == 200
    assert '<label for="f-first">First name <span class="req">(required)</span></label>' in page
    assert 'aria-describedby="e-first"' in page and "/static/form.js" in page
    await staff.event(_card(out["id"], "opened"))

    # Some answers, one of them wrong: the good ones are kept, the wrong one is named.
    status, saved = await _raw(
        "PUT", f"{link}/draft", json={"answers": {"first": "Ana", "dob": "1990-02-30"}}
    )
    assert status == 200 and saved["status"] == "in_progress" and "real date" in saved["errors"]["dob"]
    await staff.event(_card(out["id"], "in_progress"))
    status, card_up = await _raw(
        "POST", f"{link}/uploads/card", data=JPEG, headers={"Content-Type": "image/jpeg"}
    )
    assert status == 201
    status, sign_up = await _raw(
        "POST", f"{link}/uploads/sign", data=png(), headers={"Content-Type": "image/png"}
    )
    assert status == 201
    draft = {"first": "Ana", "last": "Ng", "insured": True, "carrier": "Delta", "card": card_up["upload_id"]}
    status, saved = await _raw("PUT", f"{link}/draft", json={"answers": draft})
    assert status == 200 and saved["errors"] == {}

    # The patient leaves and comes back with the same link: their answers are there.
    status, page = await _raw("GET", link)
    assert status == 200 and 'value="Ana"' in page and 'value="Ng"' in page
    assert '<option value="Delta" selected>' in page and "File received." in page

    # Submitting with required answers missing stores nothing and says what to fix.
    status, refused = await _raw("POST", f"{link}/submit", json={"answers": draft})
    assert status == 422 and set(refused["errors"]) == {"dob", "agree", "sign"}
    async with carrier.app[SERVICES].read() as s:
        row = await s.get(FormRequest, out["id"])
        assert row is not None and row.status == "in_progress" and row.completed_at is None
        contact = await s.get(Contact, row.contact_id)
        assert contact is not None and contact.first_name == "Pat" and contact.date_of_birth is None

    full = {
        **draft,
        "dob": "1990-04-23",
        "mail": "Ana@Example.com",
        "agree": True,
        "sign": sign_up["upload_id"],
    }
    status, done = await _raw("POST", f"{link}/submit", json={"answers": full})
    assert status == 200 and done["status"] == "completed", done
    completed = await staff.event(_card(out["id"], "completed"))
    assert set(completed["item"]["meta"]["contact_updates"]) == {
        "first_name",
        "last_name",
        "date_of_birth",
        "emails",
        "insurance_carrier",
        "insurance_card_upload_id",
    }
    assert completed["item"]["meta"]["pdf"] is True
    updated = await staff.event(
        lambda e: e.get("type") == "conversation.updated" and e["conversation"]["contact"]["name"] == "Ana Ng"
    )
    assert updated["conversation"]["id"] == carrier.practice.conv_a
    record = await staff.api("GET", f"{base}/api/v1/contacts/{out['contact_id']}")
    assert record["date_of_birth"] == "1990-04-23" and "ana@example.com" in record["emails"]

    status, page = await _raw("GET", link)
    assert status == 200 and "has been received" in page and 'value="Ana"' not in page
    status, again = await _raw("POST", f"{link}/submit", json={"answers": full})
    assert status == 409 and "already submitted" in again["error"]["message"]

    detail = await staff.api("GET", f"{base}/api/v1/form-requests/{out['id']}")
    assert detail["answers"]["dob"] == "1990-04-23" and detail["answers"]["mail"] == "ana@example.com"
    assert {u["field"] for u in detail["uploads"]} == {"card", "sign"}
    card_url = next(u["url"] for u in detail["uploads"] if u["field"] == "card")
    async with staff.http.get(base + card_url) as r:
        assert r.status == 200 and await r.read() == JPEG and r.headers["Content-Type"] == "image/jpeg"
    async with aiohttp.ClientSession() as anonymous, anonymous.get(base + card_url) as r:
        assert r.status == 401
    async with staff.http.get(f"{base}/api/v1/form-requests/{out['id']}/print") as r:
        printed = await r.text()
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "img-src 'self'" in r.headers["Content-Security-Policy"]
    assert '<p class="who" data-testid="print-patient">Ana Ng · North</p>' in printed
    assert '<td data-field="dob">1990-04-23</td>' in printed and '<td data-field="agree">Yes</td>' in printed
    assert f'src="{card_url}"' in printed and 'class="signature"' in printed
    other = await open_desk(base, carrier.practice.staff_b, on_duty=False)
    try:
        async with other.http.get(f"{base}/api/v1/form-requests/{out['id']}/print") as r:
            assert r.status == 404
        async with other.http.get(base + card_url) as r:
            assert r.status == 404  # another location's staff: not even a hint it exists
        async with other.http.get(f"{base}/api/v1/form-requests/{out['id']}") as r:
            assert r.status == 404
    finally:
        await other.close()
    async with carrier.app[SERVICES].read() as s:
        views = list(
            await s.scalars(
                select(AuditEntry).where(AuditEntry.record_type.in_(("form_request", "form_upload")))
            )
        )
    actions = {(a.action, a.record_type) for a in views}
    assert {("create", "form_request"), ("open", "form_request"), ("submit", "form_request")} <= actions
    assert ("view", "form_request") in actions and ("view", "form_upload") in actions
    assert ("print", "form_request") in actions
    assert all("Ana" not in str(a.detail) for a in views)  # field names, never values


async def test_bad_uploads_are_refused_clearly_and_nothing_is_kept(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    template = await published_template(admin, carrier.base)
    out = await _send(staff, carrier, template["id"])
    link = await link_of(carrier, out["id"])
    status, body = await _raw("POST", f"{link}/uploads/card", data=JPEG + b"\x00" * 70000)
    assert status == 413 and "too large" in body["error"]["message"]
    status, body = await _raw(
        "POST",
        f"{link}/uploads/card",
        data=b"MZ\x90\x00" + b"\x00" * 100,
        headers={"Content-Type": "image/jpeg"},
    )
    assert status == 422 and "cannot be uploaded" in body["error"]["message"]
    status, body = await _raw("POST", f"{link}/uploads/sign", data=JPEG)
    assert status == 422 and "sign again" in body["error"]["message"]
    status, body = await _raw("POST", f"{link}/uploads/card", data=b"")
    assert status == 422 and "empty" in body["error"]["message"]
    status, body = await _raw("POST", f"{link}/uploads/first", data=JPEG)
    assert status == 404  # a text field takes no file
    async with staff.http.get(f"{carrier.base}/api/v1/form-requests/{out['id']}/print") as r:
        assert r.status == 409  # nothing to print yet
    async with carrier.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(FormUpload)) == 0
        row = await s.get(FormRequest, out["id"])
        assert row is not None and row.answers == {}


async def test_tampered_and_expired_links_get_a_clear_page_and_change_nothing(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    template = await published_template(admin, carrier.base)
    out = await _send(staff, carrier, template["id"])
    link = await link_of(carrier, out["id"])
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    status, page = await _raw("GET", tampered)
    assert status == 404 and "not valid" in page
    status, page = await _raw("GET", f"{carrier.base}/f/<script>")
    assert status == 404 and "<script>" not in page
    status, body = await _raw("PUT", f"{tampered}/draft", json={"answers": {"first": "Eve"}})
    assert status == 404
    async with carrier.app[SERVICES].unit() as unit:
        await unit.session.execute(
            update(FormRequest)
            .where(FormRequest.id == out["id"])
            .values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
    status, page = await _raw("GET", link)
    assert status == 410 and "expired" in page
    await staff.event(_card(out["id"], "expired"))
    status, body = await _raw("PUT", f"{link}/draft", json={"answers": {"first": "Eve"}})
    assert status == 410 and body["error"]["code"] == "expired"
    status, body = await _raw("POST", f"{link}/uploads/sign", data=png())
    assert status == 410
    async with carrier.app[SERVICES].read() as s:
        row = await s.get(FormRequest, out["id"])
        assert row is not None and row.answers == {} and row.status == "expired"
        assert await s.scalar(select(func.count()).select_from(FormUpload)) == 0


async def test_an_opted_out_patient_or_an_unpublished_template_refuses_the_whole_request(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    base = carrier.base
    draft = await admin.api(
        "POST", f"{base}/api/v1/form-templates", {"name": "Consent", "definition": INTAKE}
    )
    url = f"{base}/api/v1/conversations/{carrier.practice.conv_a}/form-requests"
    headers = {"Origin": ORIGIN, "X-CSRF-Token": staff.csrf}
    async with staff.http.post(url, json={"template_id": draft["id"]}, headers=headers) as r:
        assert r.status == 409 and "published" in (await r.json())["error"]["message"]
    template = await published_template(admin, base)
    async with carrier.app[SERVICES].unit() as unit:
        unit.session.add(OptOut(practice_id=carrier.practice.practice_id, e164=PATIENT_A, source="sms"))
    async with staff.http.post(url, json={"template_id": template["id"]}, headers=headers) as r:
        assert r.status == 409 and (await r.json())["error"]["code"] == "opted_out"
    async with carrier.app[SERVICES].read() as s:
        assert await s.scalar(select(func.count()).select_from(FormRequest)) == 0
        assert await s.scalar(select(func.count()).where(TimelineItem.kind == "form")) == 0


def test_the_access_log_never_holds_a_form_links_token() -> None:
    assert logged_path("/f/AbC_123-xyzTOKENtoken0123456789") == "/f/…"
    assert logged_path("/f/AbC_123-xyzTOKENtoken0123456789/uploads/card") == "/f/…/uploads/card"
    assert logged_path("/api/v1/form-requests/12") == "/api/v1/form-requests/12"


async def _age(carrier: Carrier, request_id: int, days: float) -> None:
    async with carrier.app[SERVICES].unit() as unit:
        await unit.session.execute(
            update(FormRequest)
            .where(FormRequest.id == request_id)
            .values(created_at=utcnow() - dt.timedelta(days=days))
        )


async def test_unfinished_forms_are_reminded_once_each_with_a_fresh_link_until_completed(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    template = await published_template(admin, carrier.base)
    out = await _send(staff, carrier, template["id"])
    first = await link_of(carrier, out["id"])
    assert await remind_due(services) == []  # not due yet (reminder_days 2, 5)
    await _age(carrier, out["id"], 2.1)
    assert await remind_due(services) == [out["id"]]
    assert await remind_due(services) == []  # claimed: never twice
    async with services.read() as s:
        texts = list(
            await s.scalars(select(TimelineItem).where(TimelineItem.kind == "sms").order_by(TimelineItem.id))
        )
        assert await s.scalar(select(func.count()).where(FormLink.request_id == out["id"])) == 2
    assert [t.meta.get("followup") for t in texts] == [None, "reminder"]
    assert texts[1].body.startswith("North: a reminder to fill in your forms")
    second = texts[1].body.rsplit(" ", 1)[1]
    assert second != first and "/f/" in second
    for link in (first, second):  # both texts' links open the same form
        status, _ = await _raw("GET", link)
        assert status == 200
    await staff.event(
        lambda e: e.get("type") == "timeline.item_updated" and e["item"]["meta"].get("reminders_sent") == 1
    )
    # Completed: no more reminders, however late it gets.
    status, sign = await _raw("POST", f"{second}/uploads/sign", data=png())
    answers = {"first": "Ana", "last": "Ng", "dob": "1990-04-23", "agree": True, "sign": sign["upload_id"]}
    status, _ = await _raw("POST", f"{second}/submit", json={"answers": answers})
    assert status == 200
    await _age(carrier, out["id"], 6)
    assert await remind_due(services) == []


async def test_a_reminder_to_a_patient_who_replied_stop_is_not_sent_and_the_thread_says_so(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    template = await published_template(admin, carrier.base)
    out = await _send(staff, carrier, template["id"])
    async with services.unit() as unit:
        unit.session.add(OptOut(practice_id=carrier.practice.practice_id, e164=PATIENT_A, source="sms"))
    await _age(carrier, out["id"], 6)
    assert await remind_due(services) == []
    async with services.read() as s:
        note = await s.scalar(select(TimelineItem).where(TimelineItem.kind == "activity"))
        row = await s.get(FormRequest, out["id"])
        assert await s.scalar(select(func.count()).where(TimelineItem.kind == "sms")) == 1
    assert note is not None and note.body == "Form reminder not sent: the patient replied STOP."
    assert row is not None and row.reminders_sent == 2


async def test_the_sweeper_marks_a_link_that_ran_out_expired_live(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    template = await published_template(admin, carrier.base)
    out = await _send(staff, carrier, template["id"])
    assert await expire_due(carrier.app[SERVICES]) == []
    async with carrier.app[SERVICES].unit() as unit:
        await unit.session.execute(
            update(FormRequest)
            .where(FormRequest.id == out["id"])
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert await expire_due(carrier.app[SERVICES]) == [out["id"]]
    await staff.event(_card(out["id"], "expired"))
    assert await expire_due(carrier.app[SERVICES]) == []


async def test_a_new_patients_first_booking_sends_the_chosen_form_and_later_bookings_do_not(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    p = carrier.practice
    assert services.settings.forms.first_booking_template == "New patient intake"
    await published_template(admin, carrier.base)
    url = f"{carrier.base}/api/v1/form-templates"
    consent = await admin.api("POST", url, {"name": "Consent", "definition": INTAKE})
    await admin.api("POST", f"{url}/{consent['id']}/publish")  # published, but not the one named
    cal = await seed_calendar(services, p)
    actor = await staff_actor(services, p, p.staff_a, p.loc_a)

    def body(hour: int) -> BookIn:
        return BookIn(
            provider_id=cal.provider_id,
            type_id=cal.type_id,
            starts_at=dt.datetime.fromisoformat(at(next_weekday(1), hour)),
        )

    await appointments.book(services, actor, p.conv_a, body(9))
    card = await staff.event(_card_added(p.conv_a))
    assert card["item"]["body"] == "New patient intake" and card["item"]["meta"]["form_request_id"]
    archived = await admin.api("PATCH", f"{url}/{consent['id']}", {"archived": True, "name": "Old consent"})
    assert archived["archived"] is True and archived["name"] == "Old consent"
    await appointments.book(services, actor, p.conv_a, body(11))  # not the first: nothing more
    async with services.read() as s:
        assert await s.scalar(select(func.count()).select_from(FormRequest)) == 1
        [req] = list(await s.scalars(select(FormRequest)))
        assert req.created_by_id == actor.user_id and req.conversation_id == p.conv_a
    await link_of(carrier, req.id)  # the text went out with its link

    # An opted-out new patient: the booking stands, the thread says why no form was sent.
    async with services.unit() as unit:
        unit.session.add(OptOut(practice_id=p.practice_id, e164="+12025550171", source="sms"))
    # A second new patient at North (where the calendar's providers work).
    async with services.unit() as unit:
        contact = Contact(practice_id=p.practice_id, first_name="New", last_name="Patient")
        contact.phones.append(ContactPhone(e164="+12025550171"))
        unit.session.add(contact)
        await unit.session.flush()
        conversation = Conversation(contact_id=contact.id, location_id=p.loc_a)
        unit.session.add(conversation)
        await unit.session.flush()
        conversation_id = conversation.id
    booked = await appointments.book(services, actor, conversation_id, body(13))
    assert booked.id
    async with services.read() as s:
        note = await s.scalar(
            select(TimelineItem).where(
                TimelineItem.conversation_id == conversation_id, TimelineItem.kind == "activity"
            )
        )
        assert await s.scalar(select(func.count()).select_from(FormRequest)) == 1
    assert note is not None and note.body == "New patient intake not sent: the patient replied STOP."


def _card_added(conversation_id: int) -> Any:
    def check(e: dict[str, Any]) -> bool:
        return (
            e.get("type") == "timeline.item_added"
            and e["item"]["kind"] == "form"
            and e["conversation_id"] == conversation_id
        )

    return check


async def test_a_patient_without_a_mobile_gets_the_link_by_e_mail(
    carrier: Carrier, admin: Desk, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    p = carrier.practice
    async with services.unit() as unit:
        contact = Contact(practice_id=p.practice_id, first_name="Eve", last_name="Mail")
        contact.emails.append(ContactEmail(address="eve@example.com"))
        unit.session.add(contact)
        await unit.session.flush()
        conversation = Conversation(contact_id=contact.id, location_id=p.loc_a)
        unit.session.add(conversation)
        await unit.session.flush()
        conversation_id = conversation.id
    template = await published_template(admin, carrier.base)
    url = f"{carrier.base}/api/v1/conversations/{conversation_id}/form-requests"
    headers = {"Origin": ORIGIN, "X-CSRF-Token": staff.csrf}
    async with staff.http.post(url, json={"template_id": template["id"]}, headers=headers) as r:
        assert (
            r.status == 422 and "no phone number" in (await r.json())["error"]["message"]
        )  # by text: refused whole
    out = await staff.api("POST", url, {"template_id": template["id"], "channel": "email"})
    async with services.read() as s:
        mail = await s.scalar(select(TimelineItem).where(TimelineItem.kind == "email"))
        assert await s.scalar(select(func.count()).select_from(FormRequest)) == 1
    assert mail is not None and mail.meta["form_request_id"] == out["id"]
    link = mail.body.rsplit(" ", 1)[1].strip()
    assert link.startswith(f"{carrier.base}/f/")
    status, page = await _raw("GET", link)
    assert status == 200 and "First name" in page
