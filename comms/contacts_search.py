"""Finding patient records by name, phone or e-mail, with or without a conversation (an imported
patient who never wrote has none), so staff can pick the record to merge a duplicate into."""

from __future__ import annotations

from sqlalchemy import select

from comms import audit
from comms.access import Actor
from comms.contacts_read import conversations_of, may_see
from comms.models import Contact
from comms.one_line import without_controls
from comms.search import contact_match
from comms.services import Services
from schemas.contacts import ContactMatch

# Rows read per result wanted: records at locations the actor may not see are dropped after reading.
OVERSCAN = 3


async def find_contacts(services: Services, actor: Actor, q: str, limit: int = 20) -> list[ContactMatch]:
    """Live records of the actor's practice that they may see, best known first; audited by count only,
    since the query itself may be a patient's name."""
    q = without_controls(q).strip()  # a pasted NUL must not reach the database (PostgreSQL refuses it)
    found: list[ContactMatch] = []
    async with services.unit() as unit:
        s = unit.session
        rows = await s.scalars(
            select(Contact)
            .where(
                Contact.practice_id == actor.practice_id,
                Contact.merged_into_id.is_(None),
                contact_match(q, services.settings.database.is_sqlite),
            )
            .order_by(Contact.is_unknown, Contact.last_name, Contact.first_name, Contact.id)
            .limit(limit * OVERSCAN)
        )
        for contact in rows:
            if not may_see(actor, await conversations_of(s, contact.id)):
                continue
            found.append(
                ContactMatch(
                    id=contact.id,
                    name=contact.display_name,
                    is_unknown=contact.is_unknown,
                    date_of_birth=contact.date_of_birth,
                    phones=[p.e164 for p in contact.phones],
                    emails=[e.address for e in contact.emails],
                )
            )
            if len(found) == limit:
                break
        audit.record(s, actor, "search", "contact", "-", {"contacts": len(found)})
    return found
