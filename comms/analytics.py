"""Office analytics: "how did we do" for one location and a range of its days, and the drill-downs.

Any staff member of a location may see its figures (admins: every location). The figures are counts
and times only; a drill-down names conversations by id, and opening one is audited where it is read.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from comms.access import Actor
from comms.analytics_messages import message_conversations, message_figures
from comms.analytics_phones import phone_figures
from comms.analytics_range import Scope, scope_for
from comms.analytics_staff import staff_figures
from comms.analytics_visits import visit_figures
from comms.errors import NotFound
from comms.models import Location, utcnow
from comms.services import Services
from comms.voice_setup import config_of
from schemas.analytics import DrillDown, DrillQuery, Figures, RangeQuery

MAX_DRILL = 1000


async def scope_of(session: AsyncSession, actor: Actor, query: RangeQuery, now: dt.datetime) -> Scope:
    """The range at a location the actor may see, in its time zone and with its business hours."""
    location = await session.get(Location, query.location_id)
    if location is None or location.practice_id != actor.practice_id:
        raise NotFound("no such location")
    actor.require_location(location.id)
    config = await config_of(session, location.id)
    return scope_for(location.id, location.timezone, query.start, query.end, now, config)


async def figures(
    services: Services, actor: Actor, query: RangeQuery, now: dt.datetime | None = None
) -> Figures:
    """Every figure of the range (now: the clock, for what is still unanswered, due or open)."""
    now = now or utcnow()
    async with services.read() as session:
        scope = await scope_of(session, actor, query, now)
        phones = await phone_figures(session, scope)
        messages = await message_figures(session, scope)
        staff = await staff_figures(session, scope)
        visits = await visit_figures(session, scope)
    return Figures(
        location_id=scope.location_id,
        timezone=scope.timezone,
        start=scope.start,
        end=scope.end,
        generated_at=now,
        phones=phones.figures,
        messages=messages.figures,
        staff=staff.rows,
        appointments=visits.appointments,
        payments=visits.payments,
        reviews=visits.reviews,
    )


async def drill(
    services: Services, actor: Actor, query: DrillQuery, now: dt.datetime | None = None
) -> DrillDown:
    """The conversations behind one figure, computed by the same queries as the figure itself."""
    now = now or utcnow()
    async with services.read() as session:
        scope = await scope_of(session, actor, query, now)
        if query.figure in ("inbound", "outbound"):
            ids = await message_conversations(session, scope, "in" if query.figure == "inbound" else "out")
        elif query.figure in ("responded", "unanswered"):
            ids = (await message_figures(session, scope)).conversations[query.figure]
        elif query.figure in ("booked", "waitlist_fills", "no_shows", "outstanding", "reviews_clicked"):
            ids = (await visit_figures(session, scope)).conversations[query.figure]
        elif query.figure == "staff":
            ids = (await staff_figures(session, scope)).conversations.get(query.staff_id or 0, set())
        else:
            ids = (await phone_figures(session, scope)).conversations[query.figure]
    return DrillDown(figure=query.figure, conversation_ids=sorted(ids, reverse=True)[:MAX_DRILL])
