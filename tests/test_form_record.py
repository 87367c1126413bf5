"""A completed intake form updates the patient's record in its own transaction: name, date of birth,
e-mail, the postal address and the insurance (with the card photo linked); the change is audited with
every value it replaced, and an e-mail the patient changed keeps the old one on the record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from comms.access import Actor
from comms.contacts_merge import merge_contacts
from comms.models import AuditEntry, Contact, ContactEmail, StaffUser
from tests.carrier import Carrier, start_pair
from tests.form_answers import RECORD_FORM, record_answers
from tests.forms_rig import JPEG, link_of, png, published_template
from tests.helpers import ORIGIN
from tests.voice import Desk, open_desk
from web.keys import SERVICES


@pytest.fixture
async def carrier(db_settings: dict[str, Any], aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Carrier]:
    yield await start_pair(db_settings, aiohttp_server, tmp_path)


@pytest.fixture
async def staff(carrier: Carrier) -> AsyncIterator[Desk]:
    desk = await open_desk(carrier.base, carrier.practice.staff_a, on_duty=False)
    yield desk
    await desk.close()


async def _post(url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(kw.pop("method", "POST"), url, **kw) as r:
        return r.status, await r.json()


async def _sent_link(carrier: Carrier, staff: Desk) -> tuple[int, str]:
    admin = await open_desk(carrier.base, carrier.practice.admin, on_duty=False)
    try:
        template = await published_template(admin, carrier.base, RECORD_FORM)
    finally:
        await admin.close()
    url = f"{carrier.base}/api/v1/conversations/{carrier.practice.conv_a}/form-requests"
    out = await staff.api("POST", url, {"template_id": template["id"]})
    return int(out["id"]), await link_of(carrier, out["id"])


async def test_address_and_insurance_fill_the_record_live_and_replaced_values_stay_in_the_audit(
    carrier: Carrier, staff: Desk
) -> None:
    services = carrier.app[SERVICES]
    contact_id = (await staff.api("GET", f"{carrier.base}/api/v1/conversations/{carrier.practice.conv_a}"))[
        "contact"
    ]["id"]
    # What the office had: an old e-mail and an old address (staff typed them in).
    before = {
        "emails": ["ana.old@example.com"],
        "address": {
            "line1": "1 Old Road",
            "line2": "",
            "city": "Arlington",
            "region": "VA",
            "postal_code": "22201",
        },
        "insurance": {"carrier": "Cigna", "member_id": "C-1", "group_number": ""},
    }
    await staff.api("PATCH", f"{carrier.base}/api/v1/contacts/{contact_id}", before)
    request_id, link = await _sent_link(carrier, staff)
    status, card = await _post(f"{link}/uploads/card", data=JPEG)
    assert status == 201
    status, sign = await _post(f"{link}/uploads/sign", data=png())
    assert status == 201
    answers = record_answers(card["upload_id"], sign["upload_id"], mail="Ana.New@Example.com")
    status, done = await _post(f"{link}/submit", json={"answers": answers})
    assert status == 200 and done["status"] == "completed", done

    # Live: the thread hears of the changed record (the panel re-reads it on this event).
    await staff.event(
        lambda e: e.get("type") == "conversation.updated" and e["conversation"]["contact"]["name"] == "Ana Ng"
    )
    record = await staff.api("GET", f"{carrier.base}/api/v1/contacts/{contact_id}")
    assert record["address"] == {
        "line1": "12 Elm Street",
        "line2": "Apt 3",
        "city": "Washington",
        "region": "DC",
        "postal_code": "20001",
    }
    assert record["insurance"] == {
        "carrier": "Delta Dental",
        "member_id": "DD-4471",
        "group_number": "G-20",
        "card_url": f"/api/v1/form-uploads/{card['upload_id']}",
    }
    # The patient's new e-mail goes first (mail goes to it); the old one is kept, not lost.
    assert record["emails"] == ["ana.new@example.com", "ana.old@example.com"]
    async with staff.http.get(carrier.base + record["insurance"]["card_url"]) as r:
        assert r.status == 200 and await r.read() == JPEG

    async with services.read() as s:
        [change] = list(
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.record_type == "contact",
                    AuditEntry.record_id == str(contact_id),
                    AuditEntry.action == "update",
                    AuditEntry.actor_id.is_(None),
                )
            )
        )
    assert change.detail["form_request"] == request_id
    assert {
        "address_line1",
        "address_city",
        "insurance_carrier",
        "insurance_card_upload_id",
        "emails",
    } <= set(change.detail["fields"])
    assert change.detail["previous"] == {
        "first_name": "Pat",
        "last_name": "Patient0",
        "email": "ana.old@example.com",
        "address_line1": "1 Old Road",
        "address_city": "Arlington",
        "address_region": "VA",
        "address_postal_code": "22201",
        "insurance_carrier": "Cigna",
        "insurance_member_id": "C-1",
    }
    card_item = await staff.api("GET", f"{carrier.base}/api/v1/form-requests/{request_id}")
    assert {"address_line1", "insurance_member_id"} <= set(card_item["contact_updates"])


async def test_empty_optional_answers_never_clear_the_record(carrier: Carrier, staff: Desk) -> None:
    services = carrier.app[SERVICES]
    request_id, link = await _sent_link(carrier, staff)
    async with services.unit() as unit:
        contact = await unit.session.scalar(
            select(Contact).where(Contact.first_name == "Pat").order_by(Contact.id)
        )
        assert contact is not None
        contact.address_line2, contact.insurance_group_number = "Suite 9", "G-OLD"
        contact_id = contact.id
    status, sign = await _post(f"{link}/uploads/sign", data=png())
    answers = record_answers(0, sign["upload_id"], unit="", group=" ", mail="")
    del answers["card"]
    status, done = await _post(f"{link}/submit", json={"answers": answers})
    assert status == 200, done
    async with services.read() as s:
        contact = await s.get(Contact, contact_id)
        emails = list(
            await s.scalars(select(ContactEmail.address).where(ContactEmail.contact_id == contact_id))
        )
    assert (
        contact is not None
        and contact.address_line2 == "Suite 9"
        and contact.insurance_group_number == "G-OLD"
    )
    assert contact.address_line1 == "12 Elm Street" and contact.insurance_card_upload_id is None
    assert emails == []
    assert request_id


async def test_a_refused_submission_changes_nothing_on_the_record(carrier: Carrier, staff: Desk) -> None:
    services = carrier.app[SERVICES]
    _, link = await _sent_link(carrier, staff)
    too_long = record_answers(0, 0, zip="2" * 21)
    status, body = await _post(f"{link}/submit", json={"answers": too_long})
    assert status == 422 and set(body["errors"]) >= {"zip", "sign"}
    async with services.read() as s:
        contact = await s.scalar(select(Contact).where(Contact.first_name == "Pat").order_by(Contact.id))
        audits = list(await s.scalars(select(AuditEntry.action).where(AuditEntry.record_type == "contact")))
    assert contact is not None and contact.address_line1 == "" and contact.insurance_carrier == ""
    assert "update" not in audits


async def test_staff_edit_the_address_and_insurance_and_fields_too_long_are_refused(
    carrier: Carrier, staff: Desk
) -> None:
    conv = await staff.api("GET", f"{carrier.base}/api/v1/conversations/{carrier.practice.conv_a}")
    url = f"{carrier.base}/api/v1/contacts/{conv['contact']['id']}"
    out = await staff.api("PATCH", url, {"address": {"line1": "  5   Main St ", "city": "Bethesda"}})
    assert out["address"]["line1"] == "5 Main St" and out["address"]["region"] == ""
    headers = {"Origin": ORIGIN, "X-CSRF-Token": staff.csrf}
    async with staff.http.patch(url, json={"insurance": {"member_id": "x" * 65}}, headers=headers) as r:
        assert r.status == 422
    record = await staff.api("GET", url)
    assert record["insurance"]["member_id"] == "" and record["address"]["city"] == "Bethesda"


async def test_merging_a_duplicate_brings_its_address_and_insurance_whole_when_the_record_has_none(
    carrier: Carrier,
) -> None:
    services = carrier.app[SERVICES]
    pid = carrier.practice.practice_id
    async with services.unit() as unit:
        kept = Contact(practice_id=pid, first_name="Ana", last_name="Ng", address_city="Kept City")
        duplicate = Contact(
            practice_id=pid,
            first_name="Ana",
            last_name="Ng",
            address_line1="12 Elm Street",
            address_city="Washington",
            insurance_carrier="Delta Dental",
            insurance_member_id="DD-1",
            insurance_card_upload_id=77,
        )
        unit.session.add_all([kept, duplicate])
        await unit.session.flush()
        kept_id, duplicate_id = kept.id, duplicate.id
    async with services.read() as s:
        admin_id = await s.scalar(select(StaffUser.id).where(StaffUser.email == carrier.practice.admin))
    assert admin_id is not None
    admin = Actor(admin_id, pid, "admin", None, "test")
    result = await merge_contacts(services, admin, kept_id, duplicate_id)
    # The kept record had part of an address: it keeps its own (two halves make no address).
    assert result.contact.address.city == "Kept City" and result.contact.address.line1 == ""
    assert result.contact.insurance.carrier == "Delta Dental" and result.contact.insurance.member_id == "DD-1"
    assert result.contact.insurance.card_url == "/api/v1/form-uploads/77"
