"""Call pop: who is calling, shown on every ringing softphone before anyone answers.

Only what the ringing staff may see: the caller's record (or the household sharing the number) and
their conversations at locations those staff work at, and through `EXTRAS` the next appointment (and
later the open balance).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.appointment_pop import next_appointment
from comms.models import Contact, Conversation, Location
from comms.payment_balance import caller_balance
from schemas.voice import Caller

# Each extra fills more of the Caller (next appointment, balance) from the store; none may raise.
Extra = Callable[[AsyncSession, Caller], Awaitable[None]]
EXTRAS: list[Extra] = [next_appointment, caller_balance]


async def caller_of(
    session: AsyncSession, contact: Contact, household: list[int], location_ids: set[int] | None
) -> Caller:
    """The caller as one patient, with the other patients who share the number listed for staff to pick."""
    members: list[dict[str, object]] = []
    if household:
        rows = await session.scalars(select(Contact).where(Contact.id.in_(household)).order_by(Contact.id))
        members = [{"id": c.id, "name": c.display_name} for c in rows]
    query = (
        select(Conversation, Location.name)
        .join(Location, Location.id == Conversation.location_id)
        .where(Conversation.contact_id.in_([contact.id, *household]))
        .order_by(Conversation.last_item_at.desc())
    )
    conversations = [
        {
            "id": conv.id,
            "contact_id": conv.contact_id,
            "location_id": conv.location_id,
            "location": name,
            "status": conv.status,
            "last_item_at": conv.last_item_at.isoformat(),
        }
        for conv, name in (await session.execute(query)).all()
        if location_ids is None or conv.location_id in location_ids
    ]
    caller = Caller(
        contact_id=contact.id,
        name=contact.display_name,
        unknown=contact.is_unknown,
        household=members,
        conversations=conversations[:10],
    )
    for extra in EXTRAS:
        await extra(session, caller)
    return caller
