"""Patients and households: creating and editing contacts, and finding who holds a phone number.

A household is the set of patients who share a phone number (a parent's mobile on the children's
records). It forms on its own: when a new contact is given a number another contact of the practice
already holds, both end up in one household, so a text from that number can show the whole family.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.contacts_read import ADDRESS_PARTS, INSURANCE_PARTS, contact_out, conversations_of, load_contact
from comms.errors import InvalidRequest, NotFound
from comms.inbox import publish_state
from comms.models import Contact, ContactEmail, ContactPhone, Household, Practice
from comms.one_line import has_controls, one_line
from comms.phones import to_e164
from comms.services import Services, Unit
from schemas.contacts import ContactOut, ContactUpdate

MAX_NAME = 100
MAX_EMAIL = 320


def _unique(values: Iterable[str]) -> list[str]:
    """Drop repeats but keep the order staff typed them in (the first number is the main one)."""
    return list(dict.fromkeys(values))


def normalize_email(raw: str) -> str:
    """One form for matching inbound mail: trimmed and lower-cased."""
    address = raw.strip().lower()
    local, at, domain = address.partition("@")
    spaced = any(c.isspace() for c in address) or has_controls(address)
    if not (at and local and "." in domain) or len(address) > MAX_EMAIL or spaced:
        raise InvalidRequest("e-mail address is not valid")
    return address


def _name(raw: str, field: str) -> str:
    name = one_line(raw, field)
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
) -> tuple[int | None, set[int]]:
    """Put the contact in the household of those sharing its numbers, creating it when there is none.

    Unknown senders are placeholders staff will identify or merge, not family members, so they never
    form or join a household. When the sharers already sit in different households we join the oldest
    one (or stay in the contact's own) and leave the others as they are: merging families is a decision
    for staff. Returns the household and the ids of the contacts whose household changed.
    """
    known = [c for c in sharing if not c.is_unknown and c.id != contact.id]
    if contact.is_unknown or not known:
        return contact.household_id, set()
    household_id = contact.household_id or next(
        (c.household_id for c in known if c.household_id is not None), None
    )
    if household_id is None:
        eldest = known[0]
        household = Household(
            practice_id=contact.practice_id, name=f"{eldest.last_name or 'Shared'} household"
        )
        session.add(household)
        await session.flush()
        household_id = household.id
        audit.record(session, actor, "create", "household", household_id, {"first_contact_id": eldest.id})
    changed = set()
    for member in (contact, *known):
        if member.household_id is None:
            member.household_id = household_id
            changed.add(member.id)
    return household_id, changed


async def prune_household(session: AsyncSession, actor: Actor | None, household_id: int) -> set[int]:
    """Dissolve a household left with fewer than two live members; returns the contacts it released."""
    rows = list(await session.scalars(select(Contact).where(Contact.household_id == household_id)))
    live = [c for c in rows if c.merged_into_id is None]
    if len(live) >= 2:
        return set()
    for contact in rows:
        contact.household_id = None
    await session.flush()  # release the members before the household row goes
    household = await session.get(Household, household_id)
    if household is not None:
        await session.delete(household)
        await session.flush()
        audit.record(session, actor, "delete", "household", household_id, {"members": len(live)})
    return {c.id for c in live}


async def rehouse(session: AsyncSession, actor: Actor | None, contact: Contact) -> set[int]:
    """Re-evaluate household membership after a contact's numbers or identity changed, as create does.

    A contact that no longer shares a number with anyone of its household leaves it (a household left
    with one member dissolves), then joins whoever shares its numbers now. Returns the contacts whose
    household changed, so their conversations can be announced again.
    """
    numbers = [p.e164 for p in contact.phones]
    others = [c for c in await _holders(session, contact.practice_id, numbers) if c.id != contact.id]
    changed: set[int] = set()
    old = contact.household_id
    if old is not None and (
        contact.is_unknown or not any(c.household_id == old and not c.is_unknown for c in others)
    ):
        contact.household_id = None
        changed.add(contact.id)
    _, joined = await _join_household(session, actor, contact, others)
    changed |= joined
    if old is not None and contact.household_id != old:
        changed |= await prune_household(session, actor, old)
    return changed


@dataclass(frozen=True)
class NewContact:
    """A contact to insert, already validated: names trimmed, numbers E.164, addresses normalized."""

    first_name: str
    last_name: str
    phones: list[str]
    emails: list[str] = field(default_factory=list)
    date_of_birth: dt.date | None = None
    is_unknown: bool = False
    details: dict[str, str] = field(default_factory=dict)  # address and insurance columns, by name


# The record's address and insurance columns (text), as an import or a form fills them.
DETAIL_COLUMNS = (
    "address_line1",
    "address_line2",
    "address_city",
    "address_region",
    "address_postal_code",
    "insurance_carrier",
    "insurance_member_id",
    "insurance_group_number",
)


HOLDER_BATCH = 500  # numbers per IN list, well under every backend's parameter limit


async def insert_contacts(
    session: AsyncSession, actor: Actor | None, practice_id: int, new: Sequence[NewContact]
) -> list[Contact]:
    """Insert contacts in the caller's transaction, forming households exactly as creating them one by
    one in this order would, and audit each; one flush for all (an import may hold thousands)."""
    numbers = _unique(number for spec in new for number in spec.phones)
    holders: dict[str, dict[int, Contact]] = {}
    for offset in range(0, len(numbers), HOLDER_BATCH):
        chunk = numbers[offset : offset + HOLDER_BATCH]
        for holder in await _holders(session, practice_id, chunk):
            for phone in holder.phones:
                holders.setdefault(phone.e164, {})[holder.id] = holder
    contacts = []
    for spec in new:
        # Every attribute set here, empty lists and None included: SQLAlchemy 2 leaves an untouched
        # attribute of a new object unloaded after the flush, and reading it then would lazy-load,
        # which async sessions cannot do (an unknown sender's first text failed on `contact.emails`).
        contact = Contact(
            practice_id=practice_id,
            first_name=spec.first_name,
            last_name=spec.last_name,
            date_of_birth=spec.date_of_birth,
            is_unknown=spec.is_unknown,
            household_id=None,
            merged_into_id=None,
            phones=[ContactPhone(e164=number) for number in spec.phones],
            emails=[ContactEmail(address=address) for address in spec.emails],
            **{column: spec.details.get(column, "") for column in DETAIL_COLUMNS},
        )
        contacts.append(contact)
    session.add_all(contacts)
    await session.flush()
    for contact, spec in zip(contacts, new, strict=True):
        sharing = {c.id: c for number in spec.phones for c in holders.get(number, {}).values()}
        household_id, _ = await _join_household(session, actor, contact, sorted(sharing.values(), key=_by_id))
        for number in spec.phones:
            holders.setdefault(number, {})[contact.id] = contact
        # Counts and ids only: names, numbers and addresses are PHI and stay out of the audit log.
        detail: dict[str, object] = {
            "phones": len(spec.phones),
            "emails": len(spec.emails),
            "household_id": household_id,
        }
        if spec.details:
            detail["details"] = sorted(spec.details)
        if spec.is_unknown:
            detail["unknown"] = True
        audit.record(session, actor, "create", "contact", contact.id, detail)
    return contacts


def _by_id(contact: Contact) -> int:
    return contact.id


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
    """Insert one contact with its numbers and addresses in the caller's transaction, and audit it."""
    spec = NewContact(first_name, last_name, phones, emails, date_of_birth, is_unknown)
    return (await insert_contacts(session, actor, practice_id, [spec]))[0]


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


def _numbers(fields: ContactUpdate) -> list[tuple[str, str]] | None:
    """The update's numbers as (E.164, label), repeats dropped, or None when phones are not changing."""
    if fields.phones is None:
        return None
    labelled: dict[str, str] = {}
    for phone in fields.phones:
        labelled.setdefault(to_e164(phone.number), one_line(phone.label, "phone label") or "mobile")
    return list(labelled.items())


async def _replace_phones(unit: Unit, contact: Contact, numbers: list[tuple[str, str]]) -> bool:
    """Make the contact's numbers these, in this order (the first is the one texts go to)."""
    if [p.e164 for p in contact.phones] == [number for number, _ in numbers]:
        changed = False
        for phone, (_, label) in zip(contact.phones, numbers, strict=True):
            changed |= phone.label != label
            phone.label = label
        return changed
    contact.phones.clear()
    await unit.session.flush()  # delete before insert: (contact, number) is unique
    contact.phones.extend(ContactPhone(e164=number, label=label) for number, label in numbers)
    await unit.session.flush()
    return True


async def _replace_emails(unit: Unit, contact: Contact, addresses: list[str]) -> bool:
    if [e.address for e in contact.emails] == addresses:
        return False
    contact.emails.clear()
    await unit.session.flush()
    contact.emails.extend(ContactEmail(address=address) for address in addresses)
    await unit.session.flush()
    return True


async def announce(unit: Unit, contact_ids: Iterable[int]) -> None:
    """Queue conversation.updated for every conversation of these contacts, so lists show the change."""
    for contact_id in sorted(set(contact_ids)):
        for conversation in await conversations_of(unit.session, contact_id):
            await publish_state(unit, conversation)


def _set_parts(contact: Contact, fields: ContactUpdate) -> list[str]:
    """Apply a staff edit's address and insurance (each given as a whole); the columns that changed."""
    given = [("address", fields.address, ADDRESS_PARTS), ("insurance", fields.insurance, INSURANCE_PARTS)]
    changed = []
    for prefix, value, parts in given:
        if value is None:
            continue
        for part in parts:
            attr = f"{prefix}_{part}"
            new = one_line(getattr(value, part), f"{prefix} {part.replace('_', ' ')}")
            if getattr(contact, attr) != new:
                setattr(contact, attr, new)
                changed.append(attr)
    return changed


async def update_contact(
    services: Services, actor: Actor, contact_id: int, fields: ContactUpdate
) -> ContactOut:
    """Edit a patient; naming an unknown sender identifies them, and new numbers may form a household."""
    given = fields.model_fields_set
    first = _name(fields.first_name, "first name") if fields.first_name is not None else None
    last = _name(fields.last_name, "last name") if fields.last_name is not None else None
    numbers = _numbers(fields)
    addresses = _unique(normalize_email(raw) for raw in fields.emails) if fields.emails is not None else None
    async with services.unit() as unit:
        contact, conversations = await load_contact(unit.session, actor, contact_id, lock=True)
        changed: list[str] = []
        for attr, value in (("first_name", first), ("last_name", last)):
            if value is not None and value != getattr(contact, attr):
                setattr(contact, attr, value)
                changed.append(attr)
        if "date_of_birth" in given and fields.date_of_birth != contact.date_of_birth:
            contact.date_of_birth = fields.date_of_birth
            changed.append("date_of_birth")
        named = bool(contact.first_name or contact.last_name)
        if (first is not None or last is not None) and not named:
            raise InvalidRequest("a patient needs a first or a last name")
        identified = contact.is_unknown and named and (first is not None or last is not None)
        if identified:
            contact.is_unknown = False
            changed.append("is_unknown")
        changed += _set_parts(contact, fields)
        if numbers is not None and await _replace_phones(unit, contact, numbers):
            changed.append("phones")
        if addresses is not None and await _replace_emails(unit, contact, addresses):
            changed.append("emails")
        touched = {contact.id}
        if identified or "phones" in changed:
            touched |= await rehouse(unit.session, actor, contact)
        # Field names and counts only: the values are PHI.
        audit.record(
            unit.session,
            actor,
            "update",
            "contact",
            contact.id,
            {"fields": changed, "phones": len(contact.phones), "household_id": contact.household_id},
        )
        if changed:
            await announce(unit, touched)
        return await contact_out(unit.session, actor, contact, conversations)
