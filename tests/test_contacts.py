"""Contacts on both stores: one phone format, households from shared numbers, unknown senders, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from comms.access import Actor
from comms.contacts import contacts_by_phone, create_contact, find_or_create_unknown
from comms.errors import InvalidRequest, NotFound
from comms.models import AuditEntry, Contact, Household
from comms.practice import add_staff, ensure_practice
from comms.services import Services


@pytest.fixture
async def practice_id(services: Services) -> int:
    return await ensure_practice(services, "Test Dental")


async def load(services: Services, contact_id: int) -> Contact:
    async with services.read() as session:
        contact = await session.get(Contact, contact_id)
    assert contact is not None
    return contact


async def test_phones_become_e164_and_emails_lower_case(services: Services, practice_id: int) -> None:
    born = dt.date(1984, 2, 29)
    contact_id = await create_contact(
        services,
        practice_id,
        " Maria ",
        "Garcia",
        ["(202) 555-0143", "+1 202 555 0143", "617.555.0199"],
        ["  Maria.Garcia@Example.COM ", "maria.garcia@example.com"],
        date_of_birth=born,
    )
    contact = await load(services, contact_id)
    assert (contact.first_name, contact.last_name, contact.date_of_birth) == ("Maria", "Garcia", born)
    assert [p.e164 for p in contact.phones] == ["+12025550143", "+16175550199"]
    assert [e.address for e in contact.emails] == ["maria.garcia@example.com"]
    assert not contact.is_unknown and contact.household_id is None


@pytest.mark.parametrize("phone", ["555-0143", "not a number", "", "+1 202 555 014"])
async def test_an_invalid_phone_is_refused(services: Services, practice_id: int, phone: str) -> None:
    with pytest.raises(InvalidRequest):
        await create_contact(services, practice_id, "Maria", "Garcia", [phone])
    async with services.read() as session:
        assert list(await session.scalars(select(Contact))) == []


@pytest.mark.parametrize("email", ["maria", "maria@", "@example.com", "maria@example", "ma ria@example.com"])
async def test_an_invalid_email_is_refused(services: Services, practice_id: int, email: str) -> None:
    with pytest.raises(InvalidRequest, match="e-mail"):
        await create_contact(services, practice_id, "Maria", "Garcia", ["2025550143"], [email])


async def test_a_patient_needs_a_name_and_a_real_practice(services: Services, practice_id: int) -> None:
    with pytest.raises(InvalidRequest, match="name"):
        await create_contact(services, practice_id, " ", "", ["2025550143"])
    with pytest.raises(NotFound):
        await create_contact(services, practice_id + 1, "Maria", "Garcia", ["2025550143"])
    stranger = Actor(1, practice_id + 1, "admin", None, "session")
    with pytest.raises(NotFound):
        await create_contact(services, practice_id, "Maria", "Garcia", ["2025550143"], actor=stranger)


async def test_a_shared_phone_makes_a_household(services: Services, practice_id: int) -> None:
    maria = await create_contact(services, practice_id, "Maria", "Garcia", ["202-555-0143"])
    other = await create_contact(services, practice_id, "Sam", "Lee", ["202-555-0144"])
    luis = await create_contact(services, practice_id, "Luis", "Garcia", ["+12025550143"])
    ana = await create_contact(services, practice_id, "Ana", "Reyes", ["617-555-0100", "(202) 555-0143"])

    family = await contacts_by_phone(services, practice_id, "+12025550143")
    assert [c.id for c in family] == [maria, luis, ana]
    household_ids = {c.household_id for c in family}
    assert len(household_ids) == 1 and None not in household_ids
    async with services.read() as session:
        households = list(await session.scalars(select(Household)))
    assert [(h.id, h.name, h.practice_id) for h in households] == [
        (household_ids.pop(), "Garcia household", practice_id)
    ]
    assert (await load(services, other)).household_id is None
    assert [c.id for c in await contacts_by_phone(services, practice_id, "+16175550100")] == [ana]
    assert await contacts_by_phone(services, practice_id, "+13125550100") == []


async def test_households_stay_within_a_practice_and_skip_merged_contacts(
    services: Services, practice_id: int
) -> None:
    other_practice = await ensure_other_practice(services)
    elsewhere = await create_contact(services, other_practice, "Maria", "Garcia", ["2025550143"])
    maria = await create_contact(services, practice_id, "Maria", "Garcia", ["2025550143"])
    assert (await load(services, maria)).household_id is None
    assert [c.id for c in await contacts_by_phone(services, other_practice, "+12025550143")] == [elsewhere]

    duplicate = await create_contact(services, practice_id, "Mary", "Garcia", ["2025550143"])
    async with services.unit() as unit:
        row = await unit.session.get(Contact, duplicate)
        assert row is not None
        row.merged_into_id = maria
    assert [c.id for c in await contacts_by_phone(services, practice_id, "+12025550143")] == [maria]


async def ensure_other_practice(services: Services) -> int:
    """A second practice row (ensure_practice only ever returns the first one)."""
    from comms.models import Practice

    async with services.unit() as unit:
        practice = Practice(name="Elsewhere Dental")
        unit.session.add(practice)
        await unit.session.flush()
        return practice.id


async def test_an_unknown_number_creates_one_unknown_contact(services: Services, practice_id: int) -> None:
    contact_id, created = await find_or_create_unknown(services, practice_id, "+12025550150")
    assert created
    contact = await load(services, contact_id)
    assert contact.is_unknown and contact.display_name == "Unknown" and contact.household_id is None
    assert [p.e164 for p in contact.phones] == ["+12025550150"]
    assert await find_or_create_unknown(services, practice_id, "+12025550150") == (contact_id, False)


async def test_a_known_number_finds_its_patient(services: Services, practice_id: int) -> None:
    maria = await create_contact(services, practice_id, "Maria", "Garcia", ["2025550143"])
    assert await find_or_create_unknown(services, practice_id, "+12025550143") == (maria, False)


async def test_a_shared_number_goes_to_the_oldest_known_patient(services: Services, practice_id: int) -> None:
    unknown, _ = await find_or_create_unknown(services, practice_id, "+12025550143")
    maria = await create_contact(services, practice_id, "Maria", "Garcia", ["2025550143"])
    luis = await create_contact(services, practice_id, "Luis", "Garcia", ["2025550143"])
    assert await find_or_create_unknown(services, practice_id, "+12025550143") == (maria, False)
    # The unknown placeholder is not family: it never joins the household the patients formed.
    members = {c.id: c.household_id for c in await contacts_by_phone(services, practice_id, "+12025550143")}
    assert members[unknown] is None and members[maria] == members[luis] is not None


async def test_creates_are_audited_without_phi(services: Services, practice_id: int) -> None:
    user_id = await add_staff(
        services, practice_id, "ada@test.example", "Ada", "correct horse battery", "admin"
    )
    actor = Actor(user_id, practice_id, "admin", None, "session", "10.0.0.7")
    maria = await create_contact(
        services, practice_id, "Maria", "Garcia", ["2025550143"], ["maria@example.com"], actor=actor
    )
    luis = await create_contact(services, practice_id, "Luis", "Garcia", ["2025550143"])
    unknown, _ = await find_or_create_unknown(services, practice_id, "+16175550100")
    async with services.read() as session:
        query = select(AuditEntry).where(AuditEntry.record_type != "staff_user").order_by(AuditEntry.id)
        rows = list(await session.scalars(query))
    assert (rows[0].actor_id, rows[0].remote_addr) == (user_id, "10.0.0.7")
    assert rows[1].actor_id is None
    assert [(r.action, r.record_type) for r in rows] == [
        ("create", "contact"),
        ("create", "household"),
        ("create", "contact"),
        ("create", "contact"),
    ]
    assert [r.record_id for r in rows if r.record_type == "contact"] == [str(maria), str(luis), str(unknown)]
    assert rows[0].detail == {"phones": 1, "emails": 1, "household_id": None}
    assert rows[2].detail["household_id"] is not None and rows[3].detail["unknown"] is True
    logged = repr([(r.record_id, r.detail) for r in rows])
    for phi in ("Maria", "Garcia", "555", "example.com"):
        assert phi not in logged
