"""Call records: one row per call and one timeline item that follows it live, updated forward only.

Twilio's callbacks for a call (its own status, each softphone leg, the dial and queue results) can
arrive late, twice or out of order; everything here is idempotent and never moves a call backwards.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.call_pop import caller_of
from comms.errors import NotFound
from comms.messaging import publish_update
from comms.models import Contact, Conversation, TimelineItem, utcnow
from comms.recording_state import recording_state
from comms.services import Services, Unit
from comms.voice_models import Call, CallLeg, Recording
from routing.audience import Audience
from schemas.voice import Caller, CallOut, CallUpdated, user_of

STATE_RANK = {
    "queued": 0,
    "initiated": 0,
    "ringing": 1,
    "in-progress": 2,
    "answered": 2,
    "completed": 3,
    "busy": 3,
    "no-answer": 3,
    "failed": 3,
    "canceled": 3,
}
FINAL_STATES = frozenset(s for s, rank in STATE_RANK.items() if rank == 3)
LIVE_STAGES = frozenset({"connected", "hold"})
# A call whose end never reached us (a lost status callback) stops counting as "busy" after this.
STALE_AFTER = dt.timedelta(hours=4)
# The item's status while the call lasts (short codes; the staff UI puts them in words).
_STATUS_CODES = {
    "greeting": "ringing",
    "menu": "menu",
    "ringing": "ringing",
    "queued": "queued",
    "connected": "in-progress",
    "hold": "on-hold",
    "voicemail": "voicemail",
}


def forward(current: str, new: str) -> bool:
    """True when `new` is a later call status than `current` (unknown statuses never move a call)."""
    return new in STATE_RANK and STATE_RANK[new] > STATE_RANK.get(current, -1)


def display_status(call: Call) -> str:
    """The item's status: where the call is while it lasts, its outcome once it has ended."""
    if call.stage == "ended":
        return call.outcome or "completed"
    return _STATUS_CODES.get(call.stage, "ringing")


def ringing_ids(call: Call) -> list[int]:
    """Whose softphones ring right now (the last ring step), empty once anyone answers."""
    if call.stage != "ringing":
        return []
    for step in reversed(call.route or []):
        if isinstance(step, dict) and step.get("step") in ("ring", "transfer"):
            return [int(x) for x in step.get("staff", [])]
    return []


def add_step(call: Call, step: str, **detail: Any) -> None:
    """Append to the call's route (reassigned, so the JSON column sees the change)."""
    call.route = [*(call.route or []), {"step": step, "at": utcnow().isoformat(), **detail}]


async def call_out(session: AsyncSession, call: Call) -> CallOut:
    conversation = await session.get(Conversation, call.conversation_id)
    contact = await session.get(Contact, conversation.contact_id) if conversation else None
    recording, paused = recording_state(call)
    return CallOut(
        id=call.id,
        conversation_id=call.conversation_id,
        location_id=call.location_id,
        direction="out" if call.direction == "out" else "in",
        state=call.state,
        stage=call.stage,
        outcome=call.outcome,
        contact_name=contact.display_name if contact else "Unknown",
        answered_by_id=call.answered_by_id,
        placed_by_id=call.placed_by_id,
        ringing_user_ids=ringing_ids(call),
        on_hold=call.on_hold,
        recorded=call.recorded,
        recording=recording,
        recording_paused=paused,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        duration_seconds=call.duration_seconds,
    )


async def announce(unit: Unit, call: Call) -> CallOut:
    """Bring the call's timeline item up to date and tell the location's staff (ringing stops)."""
    s = unit.session
    await s.flush()
    out = await call_out(s, call)
    # Locked and read afresh (after the call's own lock): the media fetcher rewrites its meta too.
    item = (
        await s.get(TimelineItem, call.item_id, with_for_update=True, populate_existing=True)
        if call.item_id
        else None
    )
    if item is not None:
        item.status = display_status(call)
        item.meta = {
            **(item.meta or {}),
            "call_id": call.id,
            "stage": call.stage,
            "outcome": call.outcome,
            "answered_by_id": call.answered_by_id,
            "placed_by_id": call.placed_by_id,
            "duration": call.duration_seconds,
            "on_hold": call.on_hold,
            "recorded": call.recorded,
        }
        await publish_update(unit, item)
    unit.publish(CallUpdated(location_id=call.location_id, call=out), Audience.location(call.location_id))
    return out


async def by_sid(session: AsyncSession, call_sid: str) -> Call | None:
    """Locked until commit: callbacks and staff actions race, and each rewrites the call's route."""
    return await session.scalar(select(Call).where(Call.call_sid == call_sid).with_for_update())


async def find(session: AsyncSession, call_id: int | None, call_sid: str | None) -> Call | None:
    """The call a callback is about (locked): by our id in the callback URL, else by the carrier's sid."""
    if call_id:
        found = await session.get(Call, call_id, with_for_update=True)
        if found is not None:
            return found
    return await by_sid(session, call_sid) if call_sid else None


def mark_answered(call: Call, user_id: int | None, leg_sid: str | None, at: dt.datetime) -> bool:
    """The first answer wins (later answers of a ringing call are the transfer's target taking it)."""
    if call.stage not in ("greeting", "menu", "ringing", "queued") and call.answered_by_id is not None:
        return False
    if call.ended_at is not None and call.answered_at is not None:
        return False
    call.answered_by_id = user_id if user_id is not None else call.answered_by_id
    call.answered_leg_sid = leg_sid or call.answered_leg_sid
    call.answered_at = call.answered_at or at
    if call.ended_at is None:
        call.stage = "connected"
        call.on_hold = False
    if forward(call.state, "in-progress"):
        call.state = "in-progress"
    return True


async def has_voicemail(session: AsyncSession, call_id: int) -> bool:
    found = await session.scalar(
        select(Recording.id).where(Recording.call_id == call_id, Recording.kind == "voicemail")
    )
    return found is not None


async def finish(
    unit: Unit, call: Call, state: str, duration: int | None, *, dial_status: str | None = None
) -> bool:
    """The call is over: record how it went, once; a missed inbound call is due a text-back."""
    if call.ended_at is not None:
        return False
    now = utcnow()
    if forward(call.state, state) or call.state not in FINAL_STATES:
        call.state = state if state in FINAL_STATES else "completed"
    call.ended_at = now
    if duration is not None:
        call.duration_seconds = duration
    elif call.answered_at is not None:
        call.duration_seconds = max(0, int((now - call.answered_at).total_seconds()))
    if call.direction == "out":
        call.outcome = "answered" if call.answered_at else (dial_status or state)
        if call.outcome == "completed":
            call.outcome = "no-answer"
    elif call.answered_at is not None:
        call.outcome = "answered"
    elif await has_voicemail(unit.session, call.id):
        call.outcome = "voicemail"
    elif call.stage == "queued":
        call.outcome = "abandoned"
    else:
        call.outcome = "missed"
    call.stage = "ended"
    call.on_hold = False
    if call.direction == "in" and call.outcome in ("missed", "voicemail", "abandoned"):
        call.text_back = call.text_back or "due"
    return True


async def apply_leg(unit: Unit, call: Call, leg_sid: str, to: str, status: str, duration: int | None) -> bool:
    """A softphone (or the patient's phone, for outbound calls) rang, answered or hung up."""
    s = unit.session
    leg = await s.scalar(select(CallLeg).where(CallLeg.leg_sid == leg_sid))
    user_id = user_of(to)
    if leg is None:
        leg = CallLeg(call_id=call.id, leg_sid=leg_sid, user_id=user_id, state="initiated")
        s.add(leg)
    if forward(leg.state, status):
        leg.state = status
    answered = status in ("in-progress", "answered") or (status == "completed" and bool(duration))
    if not answered:
        return False
    at = utcnow() - dt.timedelta(seconds=duration or 0) if status == "completed" else utcnow()
    if call.direction == "out":
        return mark_answered(call, call.placed_by_id, leg_sid, at)
    if user_id is None:
        return False
    return mark_answered(call, user_id, leg_sid, at)


async def busy_staff(session: AsyncSession, user_ids: list[int]) -> set[int]:
    """Staff already on a live call (answered or placed), who must not ring for another."""
    if not user_ids:
        return set()
    since = utcnow() - STALE_AFTER
    live = (Call.ended_at.is_(None)) & (Call.started_at > since) & Call.stage.in_(LIVE_STAGES)
    answered = await session.scalars(
        select(Call.answered_by_id).where(live, Call.answered_by_id.in_(user_ids))
    )
    placed = await session.scalars(select(Call.placed_by_id).where(live, Call.placed_by_id.in_(user_ids)))
    return {u for u in [*answered, *placed] if u is not None}


async def active(services: Services, actor: Actor) -> list[CallOut]:
    """Calls going on now at the actor's locations (ringing, queued, connected, on hold)."""
    since = utcnow() - STALE_AFTER
    async with services.read() as session:
        query = select(Call).where(Call.ended_at.is_(None), Call.started_at > since).order_by(Call.id)
        if actor.locations is not None:
            query = query.where(Call.location_id.in_(actor.locations))
        return [await call_out(session, c) for c in await session.scalars(query)]


async def pop_for(services: Services, actor: Actor, call_id: int) -> Caller:
    """The call pop again (a page reloaded while the call rings); the look at the record is audited."""
    async with services.unit() as unit:
        s = unit.session
        call = await s.get(Call, call_id)
        if call is None:
            raise NotFound("no such call")
        actor.require_location(call.location_id)
        conversation = await s.get(Conversation, call.conversation_id)
        contact = await s.get(Contact, conversation.contact_id) if conversation else None
        item = await s.get(TimelineItem, call.item_id) if call.item_id else None
        if contact is None:
            raise NotFound("no such call")
        household = [int(x) for x in ((item.meta or {}).get("household") or [])] if item else []
        audit.record(s, actor, "view", "call", call.id)
        return await caller_of(s, contact, household, {call.location_id})
