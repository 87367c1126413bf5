"""Missed-call text-back: a caller nobody answered gets one text, at most once a day per location,
never when they opted out of texts and never to a landline.

A call that ends missed is marked `text_back = "due"` in the same transaction that ends it, so a crash
loses no text-back; a worker on each node claims due calls one by one (no two nodes send one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from comms.errors import FrontdeskError, OptedOut
from comms.messaging import is_opted_out, queue_sms
from comms.models import Conversation, Location, utcnow
from comms.services import Services
from comms.voice_models import Call, MissedCallText
from comms.voice_setup import config_of
from routing.call_routing import local_time, render

CLAIM_FOR = dt.timedelta(minutes=5)  # a worker that died holding a claim lets go after this
GIVE_UP_AFTER = dt.timedelta(hours=2)  # a text-back that could not be checked in time is dropped


@dataclass(frozen=True)
class Claim:
    call_id: int
    token: str
    e164: str
    ended_at: dt.datetime


async def due(services: Services, limit: int = 20) -> list[int]:
    """Calls waiting for their text-back decision, oldest first (stale claims included)."""
    stale = utcnow() - CLAIM_FOR
    async with services.read() as session:
        rows = await session.scalars(
            select(Call.id)
            .where(
                or_(
                    Call.text_back == "due",
                    (Call.text_back.like("working:%")) & (Call.updated_at < stale),
                )
            )
            .order_by(Call.id)
            .limit(limit)
        )
        return list(rows)


async def claim(services: Services, call_id: int, token: str) -> Claim | None:
    """Take one call's text-back for this worker; None when another worker has it or it is decided."""
    stale = utcnow() - CLAIM_FOR
    async with services.unit() as unit:
        result = await unit.session.execute(
            update(Call)
            .where(
                Call.id == call_id,
                or_(Call.text_back == "due", Call.text_back.like("working:%") & (Call.updated_at < stale)),
            )
            .values(text_back=f"working:{token}", updated_at=utcnow())
        )
        if not getattr(result, "rowcount", 0):
            return None
        call = await unit.session.get(Call, call_id, populate_existing=True, with_for_update=True)
        if call is None:
            return None
        return Claim(call.id, token, call.patient_e164, call.ended_at or utcnow())


async def settle(services: Services, claim_: Claim, outcome: str) -> None:
    """Record the decision ("sent", "skipped:<why>"), or hand the call back ("due") to try again."""
    if outcome == "due" and utcnow() - claim_.ended_at > GIVE_UP_AFTER:
        outcome = "skipped:lookup_unavailable"
    async with services.unit() as unit:
        await unit.session.execute(
            update(Call)
            .where(Call.id == claim_.call_id, Call.text_back == f"working:{claim_.token}")
            .values(text_back=outcome[:40])
        )


async def precheck(services: Services, claim_: Claim) -> str | None:
    """Reasons not to text that need no carrier lookup; None when a text may go (line type permitting)."""
    async with services.read() as session:
        call = await session.get(Call, claim_.call_id)
        location = await session.get(Location, call.location_id) if call else None
        if call is None or location is None:
            return "skipped:gone"
        if not claim_.e164.startswith("+"):
            return "skipped:withheld_number"
        config = await config_of(session, location.id)
        if not config.missed_call_text:
            return "skipped:off"
        if await is_opted_out(session, location.practice_id, claim_.e164):
            return "skipped:opted_out"
        if not any(n.sms for n in location.numbers):
            return "skipped:no_texting_number"
        return None


async def send(services: Services, claim_: Claim) -> str:
    """Queue the text through the one outbox every text uses; the unique day key stops a second one."""
    try:
        async with services.unit() as unit:
            s = unit.session
            call = await s.get(Call, claim_.call_id)
            if call is None or call.text_back != f"working:{claim_.token}":
                return "lost"
            location = await s.get(Location, call.location_id)
            conversation = await s.get(Conversation, call.conversation_id)
            if location is None or conversation is None:
                return "skipped:gone"
            config = await config_of(s, location.id)
            day = local_time(location.timezone, call.ended_at or utcnow()).date()
            s.add(MissedCallText(location_id=location.id, e164=claim_.e164, local_date=day, call_id=call.id))
            await s.flush()  # the unique (location, number, day) key refuses a second text today
            body = render(config.missed_call_text or "", location=location.name)
            item = await queue_sms(
                unit,
                conversation,
                body,
                author_id=None,
                meta={"automation": "missed_call", "call_id": call.id},
                to=claim_.e164,
            )
            text = await s.scalar(select(MissedCallText).where(MissedCallText.call_id == call.id))
            if text is not None:
                text.item_id = item.id
            call.text_back = "sent"
            return "sent"
    except IntegrityError:
        return "skipped:already_today"
    except OptedOut:
        return "skipped:opted_out"
    except FrontdeskError as exc:
        return "skipped:" + exc.code
