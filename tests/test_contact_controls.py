"""Control characters never reach a patient's record: a staff edit or a new contact naming one is refused
with the field named (PostgreSQL refuses NUL outright), an imported row holding one is rejected by column,
and a form answer filling the record is one clean line. Whitespace around and inside is normalized."""

from __future__ import annotations

import datetime as dt

import pytest

from comms.access import Actor
from comms.contacts import create_contact, update_contact
from comms.contacts_import import import_csv
from comms.contacts_read import get_contact
from comms.errors import InvalidRequest
from comms.form_validate import check_answers
from comms.practice import add_staff, ensure_practice
from comms.services import Services
from schemas.contacts import Address, ContactUpdate, Insurance, PhoneIn
from schemas.forms import FormDefinition

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b"]


@pytest.fixture
async def admin(services: Services) -> Actor:
    pid = await ensure_practice(services, "Test Dental")
    uid = await add_staff(services, pid, "ada@test.example", "Ada", "correct horse battery", "admin")
    return Actor(uid, pid, "admin", None, "s-admin", "10.0.0.7")


async def test_a_staff_edit_with_control_characters_is_refused_naming_the_field(
    services: Services, admin: Actor
) -> None:
    contact_id = await create_contact(services, admin.practice_id, "Ana", "Ng", ["6175550100"], actor=admin)
    edits = [
        (ContactUpdate(first_name="An\x00a"), "first name"),
        (ContactUpdate(last_name="Ng\x1b[2J"), "last name"),
        (ContactUpdate(address=Address(line1="5 Main\x00 St")), "address line1"),
        (ContactUpdate(address=Address(postal_code="2000\x851")), "address postal code"),
        (ContactUpdate(insurance=Insurance(member_id="M\x00123")), "insurance member id"),
        (ContactUpdate(phones=[PhoneIn(number="6175550100", label="cell\x00")]), "phone label"),
        (ContactUpdate(emails=["ana\x00@example.com"]), "e-mail"),
    ]
    for fields, named in edits:
        with pytest.raises(InvalidRequest, match=named):
            await update_contact(services, admin, contact_id, fields)
    record = await get_contact(services, admin, contact_id)
    assert (record.first_name, record.last_name, record.address.line1) == ("Ana", "Ng", "")
    assert record.insurance.member_id == "" and [p.label for p in record.phones] == ["mobile"]


async def test_tabs_and_line_breaks_in_a_staff_edit_become_single_spaces(
    services: Services, admin: Actor
) -> None:
    contact_id = await create_contact(services, admin.practice_id, "Ana", "Ng", ["6175550100"], actor=admin)
    out = await update_contact(
        services,
        admin,
        contact_id,
        ContactUpdate(
            first_name=" Ana\tMaria\r\n",
            address=Address(line1="5 Main St\nApt 2", city="  Bethesda "),
            insurance=Insurance(carrier="Blue\tCross"),
        ),
    )
    assert out.first_name == "Ana Maria" and out.address.line1 == "5 Main St Apt 2"
    assert out.address.city == "Bethesda" and out.insurance.carrier == "Blue Cross"


@pytest.mark.parametrize("control", CONTROLS)
async def test_a_new_contact_with_a_control_character_is_refused(
    services: Services, admin: Actor, control: str
) -> None:
    with pytest.raises(InvalidRequest, match="last name"):
        await create_contact(services, admin.practice_id, "Ana", f"N{control}g", ["6175550100"], actor=admin)


async def test_an_imported_row_with_control_characters_is_rejected_by_column(
    services: Services, admin: Actor
) -> None:
    data = (
        "First,Last,Mobile,City,Member ID\n"
        "Ana,Ng\x01,617-555-0100,,\n"
        "Ben,Ode,617-555-0110,Bethesda\x1b,\n"
        "Cy,Poe,617-555-0120,,M\x7f1\n"
        'Di,"Lu\tKim",617-555-0130,"Silver\nSpring",\n'
    )
    report = await import_csv(services, admin, admin.practice_id, data)
    assert [(r.line, r.reasons) for r in report.rejected] == [
        (2, ["last_name contains control characters"]),
        (3, ["address_city contains control characters"]),
        (4, ["insurance_member_id contains control characters"]),
    ]
    assert report.created == 1
    assert "Ng\x01" not in repr(report) and "Bethesda" not in repr(report)  # reasons never echo values


def _mapped_form() -> FormDefinition:
    fields = [
        {"key": "first", "label": "First", "kind": "text", "maps_to": "first_name"},
        {"key": "street", "label": "Street", "kind": "text", "maps_to": "address_line1"},
        {"key": "notes", "label": "Notes", "kind": "text"},
    ]
    return FormDefinition.model_validate({"sections": [{"title": "S", "fields": fields}]})


@pytest.mark.parametrize("control", CONTROLS)
def test_a_form_answer_with_a_control_character_is_refused(control: str) -> None:
    answers = {"first": f"Ana{control}", "street": f"5 Main{control} St", "notes": f"x{control}"}
    out = check_answers(_mapped_form(), answers, {}, final=False, today=dt.date(2026, 12, 2))
    assert set(out.errors) == {"first", "street", "notes"} and out.answers == {}


def test_a_form_answer_filling_the_record_is_one_line_and_free_text_keeps_its_lines() -> None:
    answers = {"first": " Ana\tMaria ", "street": "5 Main St\r\nApt 2", "notes": "line one\nline two"}
    out = check_answers(_mapped_form(), answers, {}, final=False, today=dt.date(2026, 12, 2))
    assert out.errors == {}
    assert out.answers == {"first": "Ana Maria", "street": "5 Main St Apt 2", "notes": "line one\nline two"}
