"""Reading one patient record, and the rule for which staff may see it.

A patient is visible to a staff member when one of the patient's conversations is at a location they
work at, or when the patient has no conversation yet (an imported record belongs to the whole
practice until someone writes). Anything else answers "not found", so ids reveal nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.errors import NotFound
from comms.models import Contact, Conversation, Household
from comms.services import Services
from schemas.contacts import (
    Address,
    ContactConversation,
    ContactOut,
    HouseholdMember,
    HouseholdOut,
    InsuranceOut,
    PhoneOut,
)


async def conversations_of(session: AsyncSession, contact_id: int) -> list[Conversation]:
    """Every conversation of the patient, at any location, oldest first."""
    query = select(Conversation).where(Conversation.contact_id == contact_id).order_by(Conversation.id)
    return list(await session.scalars(query))


def may_see(actor: Actor, conversations: list[Conversation]) -> bool:
    """A record without conversations belongs to the practice; otherwise one visible location suffices."""
    return not conversations or any(actor.may_see(c.location_id) for c in conversations)


async def load_contact(
    session: AsyncSession, actor: Actor, contact_id: int, *, lock: bool = False
) -> tuple[Contact, list[Conversation]]:
    """A live (not merged) patient of the actor's practice they may see, with its conversations."""
    query = select(Contact).where(Contact.id == contact_id)
    if lock:  # PostgreSQL row lock so two merges or edits of one record queue up; SQLite ignores it
        query = query.with_for_update()
    contact = await session.scalar(query)
    if contact is None or contact.practice_id != actor.practice_id or contact.merged_into_id is not None:
        raise NotFound("no such patient")
    conversations = await conversations_of(session, contact.id)
    if not may_see(actor, conversations):
        raise NotFound("no such patient")
    return contact, conversations


async def household_out(session: AsyncSession, household_id: int | None) -> HouseholdOut | None:
    """The household with its live members (merged duplicates are gone from every list)."""
    if household_id is None:
        return None
    household = await session.get(Household, household_id)
    if household is None:
        return None
    members = await session.scalars(
        select(Contact)
        .where(Contact.household_id == household_id, Contact.merged_into_id.is_(None))
        .order_by(Contact.id)
    )
    return HouseholdOut(
        id=household.id,
        name=household.name,
        members=[HouseholdMember(id=m.id, name=m.display_name) for m in members],
    )


ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code")
INSURANCE_PARTS = ("carrier", "member_id", "group_number")


def address_of(contact: Contact) -> Address:
    return Address(**{part: getattr(contact, f"address_{part}") for part in ADDRESS_PARTS})


async def contact_out(
    session: AsyncSession, actor: Actor, contact: Contact, conversations: list[Conversation]
) -> ContactOut:
    """The wire form, listing only the conversations this actor may open."""
    return ContactOut(
        id=contact.id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        display_name=contact.display_name,
        date_of_birth=contact.date_of_birth,
        is_unknown=contact.is_unknown,
        phones=[PhoneOut(e164=p.e164, label=p.label) for p in contact.phones],
        emails=[e.address for e in contact.emails],
        address=address_of(contact),
        insurance=InsuranceOut(
            carrier=contact.insurance_carrier,
            member_id=contact.insurance_member_id,
            group_number=contact.insurance_group_number,
            card_url=(
                f"/api/v1/form-uploads/{contact.insurance_card_upload_id}"
                if contact.insurance_card_upload_id
                else None
            ),
        ),
        household=await household_out(session, contact.household_id),
        conversations=[
            ContactConversation(id=c.id, location_id=c.location_id)
            for c in conversations
            if actor.may_see(c.location_id)
        ],
    )


async def get_contact(services: Services, actor: Actor, contact_id: int) -> ContactOut:
    """One patient record; opening it is audited as a view like opening a thread."""
    async with services.unit() as unit:
        contact, conversations = await load_contact(unit.session, actor, contact_id)
        out = await contact_out(unit.session, actor, contact, conversations)
        audit.record(unit.session, actor, "view", "contact", contact.id)
        return out
