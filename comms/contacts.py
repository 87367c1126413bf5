"""Patients and households: creating contacts, and finding who holds a phone number.

A household is the set of patients who share a phone number (a parent's mobile on the children's
records). It forms on its own: when a new contact is given a number another contact of the practice
already holds, both end up in one household, so a text from that number can show the whole family.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import InvalidRequest, NotFound
from comms.models import Contact, ContactEmail, ContactPhone, Household, Practice
from comms.phones import to_e164
from comms.services import Services

MAX_NAME = 100
MAX_EMAIL = 320


def _unique(values: Iterable[str]) -> list[str]:
    """Drop repeats but keep the order staff typed them in (the first number is the main one)."""
    return list(dict.fromkeys(values))


def normalize_email(raw: str) -> str:
    """One form for matching inbound mail: trimmed and lower-cased."""
    address = raw.strip().lower()
    local, at, domain = address.partition("@")
    if not (at and local and "." in domain) or len(address) > MAX_EMAIL or any(c.isspace() for c in address):
        raise InvalidRequest("e-mail address is not valid")
    return address


def _name(raw: str, field: str) -> str:
    name = raw.strip()
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"{field} is longer than {MAX_NAME} characters")
    return name


async def _holders(session: AsyncSession, practice_id: int, numbers: Sequence[str]) -> list[Contact]:
    """Contacts of the practice holding any of these numbers, oldest first; merged records left out."""
    if not numbers:
        return []
    holding = select(ContactPhone.contact_id).where(ContactPhone.e164.in_(numbers))
    query = (
        select(Contact)
        .where(Contact.practice_id == practice_id, Contact.merged_into_id.is_(None), Contact.id.in_(holding))
        .order_by(Contact.id)
    )
    return list(await session.scalars(query))


async def _check_practice(session: AsyncSession, practice_id: int, actor: Actor | None) -> None:
    if actor is not None and actor.practice_id != practice_id:
        raise NotFound("no such practice")
    if await session.get(Practice, practice_id) is None:
        raise NotFound("no such practice")


async def _join_household(
    session: AsyncSession, actor: Actor | None, contact: Contact, sharing: list[Contact]
) -> int | None:
    """Put the contact in the household of those sharing its numbers, creating it when there is none.

    Unknown senders are placeholders staff will identify or merge, not family members, so they never
    form or join a household. When the sharers already sit in different households we join the oldest
    one and leave the others as they are: merging families is a decision for staff.
    """
    known = [c for c in sharing if not c.is_unknown and c.id != contact.id]
    if contact.is_unknown or not known:
        return None
    household_id = next((c.household_id for c in known if c.household_id is not None), None)
    if household_id is None:
        eldest = known[0]
        household = Household(
            practice_id=contact.practice_id, name=f"{eldest.last_name or 'Shared'} household"
        )
        session.add(household)
        await session.flush()
        household_id = household.id
        audit.record(session, actor, "create", "household", household_id, {"first_contact_id": eldest.id})
    for member in (contact, *known):
        if member.household_id is None:
            member.household_id = household_id
    return household_id


async def _create(
    session: AsyncSession,
    actor: Actor | None,
    practice_id: int,
    first_name: str,
    last_name: str,
    phones: list[str],
    emails: list[str],
    date_of_birth: dt.date | None,
    is_unknown: bool,
) -> Contact:
    """Insert a contact with its numbers and addresses in the caller's transaction, and audit it."""
    sharing = await _holders(session, practice_id, phones)
    contact = Contact(
        practice_id=practice_id,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        is_unknown=is_unknown,
    )
    contact.phones.extend(ContactPhone(e164=number) for number in phones)
    contact.emails.extend(ContactEmail(address=address) for address in emails)
    session.add(contact)
    await session.flush()
    household_id = await _join_household(session, actor, contact, sharing)
    # Counts and ids only: names, numbers and addresses are PHI and stay out of the audit log.
    detail = {"phones": len(phones), "emails": len(emails), "household_id": household_id}
    if is_unknown:
        detail["unknown"] = True
    audit.record(session, actor, "create", "contact", contact.id, detail)
    return contact


async def create_contact(
    services: Services,
    practice_id: int,
    first_name: str,
    last_name: str,
    phones: Sequence[str],
    emails: Sequence[str] = (),
    date_of_birth: dt.date | None = None,
    actor: Actor | None = None,
) -> int:
    """Add a patient; numbers become E.164 and a number shared with another patient forms a household."""
    first, last = _name(first_name, "first name"), _name(last_name, "last name")
    if not (first or last):
        raise InvalidRequest("a patient needs a first or a last name")
    numbers = _unique(to_e164(raw) for raw in phones)
    addresses = _unique(normalize_email(raw) for raw in emails)
    async with services.unit() as unit:
        await _check_practice(unit.session, practice_id, actor)
        contact = await _create(
            unit.session, actor, practice_id, first, last, numbers, addresses, date_of_birth, False
        )
        return contact.id


async def contacts_by_phone(services: Services, practice_id: int, e164: str) -> list[Contact]:
    """Everyone of the practice who holds this E.164 number (a household shows them all), oldest first."""
    async with services.read() as session:
        return await _holders(session, practice_id, [e164])


async def find_or_create_unknown(
    services: Services, practice_id: int, e164: str, actor: Actor | None = None
) -> tuple[int, bool]:
    """The contact an inbound message from this number belongs to, creating an unknown one if nobody has it.

    Returns (contact id, created). When several contacts share the number (a household), we cannot
    tell who is writing: the message goes to the oldest known patient (lowest id; unknown placeholders
    only when there is no known patient) and staff move it to the right family member later.
    Two first messages from a new number racing each other may each create an unknown contact;
    staff merge them like any other duplicate.
    """
    number = to_e164(e164)
    async with services.unit() as unit:
        await _check_practice(unit.session, practice_id, actor)
        holders = await _holders(unit.session, practice_id, [number])
        if holders:
            known = [c for c in holders if not c.is_unknown]
            return (known or holders)[0].id, False
        contact = await _create(unit.session, actor, practice_id, "", "", [number], [], None, True)
        return contact.id, True
