"""Hold and transfer, conference-based: the state half (who may, what the call becomes).

The first hold or warm transfer moves the patient's leg into the call's own conference, where they
wait with hold music until staff join it; later holds are a conference participant's hold flag.
Telephony (telephony.voice_control) makes the carrier's REST calls between `plan` and `record`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.call_pop import caller_of
from comms.calls import add_step, announce, call_out, finish
from comms.errors import Conflict, InvalidRequest, NotFound
from comms.models import Contact, Conversation, StaffUser
from comms.recording_state import note_started
from comms.services import Services
from comms.voice_models import Call
from comms.voice_setup import config_of, staff_of_location
from routing.audience import Audience
from schemas.voice import CallRinging, VoiceConfig


@dataclass(frozen=True)
class Plan:
    """Everything the carrier calls need, read before any of them is made."""

    call_id: int
    location_id: int
    patient_leg: str
    practice_number: str
    conference: str
    conference_sid: str | None
    in_conference: bool
    on_hold: bool
    config: VoiceConfig
    call_sid: str = ""  # the leg whose <Dial> records the call (the patient's inbound, or the softphone's)


async def plan(services: Services, actor: Actor, call_id: int) -> Plan:
    """Only the staff member on the call (or an admin) may hold or transfer it, and only while it lasts."""
    async with services.read() as session:
        call = await session.get(Call, call_id)
        if call is None:
            raise NotFound("no such call")
        actor.require_location(call.location_id)
        if call.ended_at is not None or call.stage not in ("connected", "hold"):
            raise Conflict("this call is not in progress")
        if actor.user_id not in (call.answered_by_id, call.placed_by_id) and not actor.is_admin:
            raise Conflict("a colleague has this call")
        return await _plan(session, call)


async def _live_call(s: AsyncSession, call_id: int) -> Call | None:
    """The call, locked for this change, unless it has ended (a late control request changes nothing)."""
    call = await s.get(Call, call_id, with_for_update=True)
    return call if call is not None and call.ended_at is None else None


async def system_plan(services: Services, call_id: int) -> Plan | None:
    """The same facts for the server's own follow-ups (holding a patient who joined the conference)."""
    async with services.read() as session:
        call = await session.get(Call, call_id)
        if call is None or call.ended_at is not None:
            return None
        return await _plan(session, call)


def patient_leg(call: Call) -> str | None:
    """The patient's side of the call: the inbound call itself, or the leg an outbound call dialled."""
    return call.call_sid if call.direction == "in" else call.answered_leg_sid


async def _plan(session: AsyncSession, call: Call) -> Plan:
    leg = patient_leg(call)
    if not leg:
        raise Conflict("the patient's side of this call is not connected yet")
    return Plan(
        call.id,
        call.location_id,
        leg,
        call.practice_e164,
        call.conference or f"call-{call.id}",
        call.conference_sid,
        call.conference is not None,
        call.on_hold,
        await config_of(session, call.location_id),
        call.call_sid,
    )


def warm_transfer_pending(call: Call) -> bool:
    """A warm transfer was started and not yet completed: the patient stays on hold meanwhile."""
    for step in reversed(call.route or []):
        if step.get("step") == "transferred":
            return False
        if step.get("step") == "transfer":
            return step.get("mode") == "warm"
    return False


async def record_hold(
    services: Services, actor: Actor, call_id: int, conference: str | None, on_hold: bool
) -> None:
    """The call is (or is no longer) on hold; `conference` None: it never reached the conference."""
    async with services.unit() as unit:
        call = await _live_call(unit.session, call_id)
        if call is None:
            return
        moved = call.conference is None and conference is not None
        call.conference = conference
        call.on_hold = on_hold
        call.stage = "hold" if on_hold else "connected"
        add_step(call, "hold" if on_hold else "resumed", by=actor.user_id)
        if moved:
            note_started(call, "conference")  # the conference records afresh (from its start, unpaused)
        await announce(unit, call)


async def record_recording(services: Services, actor: Actor, call_id: int, status: str) -> None:
    """Staff paused (or resumed) the call's recording: on its route, audited, shown live."""
    async with services.unit() as unit:
        call = await _live_call(unit.session, call_id)
        if call is None:
            return
        add_step(call, "recording", status=status, by=actor.user_id)
        audit.record(unit.session, actor, "change", "call", call.id, {"recording": status})
        await announce(unit, call)


async def check_target(services: Services, actor: Actor, location_id: int, to_user_id: int) -> None:
    """A call goes only to active staff who may take this location's calls, never back to oneself."""
    if to_user_id == actor.user_id:
        raise InvalidRequest("choose a colleague to transfer to")
    async with services.read() as session:
        user = await session.get(StaffUser, to_user_id)
        allowed = await staff_of_location(session, actor.practice_id, location_id)
        if user is None or to_user_id not in allowed:
            raise InvalidRequest("that colleague cannot take this location's calls")


async def record_transfer(services: Services, actor: Actor, call_id: int, to_user_id: int, mode: str) -> None:
    """The call rings the colleague (with a call pop); they have it once they answer."""
    async with services.unit() as unit:
        s = unit.session
        call = await _live_call(s, call_id)
        if call is None:
            return
        if mode == "cold":
            call.stage, call.on_hold = "ringing", False
        add_step(call, "transfer", staff=[to_user_id], mode=mode, by=actor.user_id)
        conversation = await s.get(Conversation, call.conversation_id)
        contact = await s.get(Contact, conversation.contact_id) if conversation else None
        if contact is not None:
            caller = await caller_of(s, contact, [], {call.location_id})
            await s.flush()
            event = CallRinging(location_id=call.location_id, call=await call_out(s, call), caller=caller)
            unit.publish(event, Audience.staff(to_user_id))
        await announce(unit, call)


async def complete_warm(services: Services, actor: Actor, call_id: int, to_user_id: int) -> None:
    """The colleague took over in the conference: theirs now, and off hold."""
    async with services.unit() as unit:
        call = await _live_call(unit.session, call_id)
        if call is None:
            return
        call.answered_by_id = to_user_id
        call.stage, call.on_hold = "connected", False
        add_step(call, "transferred", to=to_user_id, by=actor.user_id)
        await announce(unit, call)


async def conference_event(
    services: Services, call_id: int, call_sid: str, conference_sid: str | None, event: str
) -> str | None:
    """Twilio's conference events: keep its sid; what the carrier must do next, if anything.

    "hold" when the patient joins while the call is on hold (so they hear hold music even after staff
    join), "unhold" when staff join a call that is no longer on hold, "ended" when the patient left.
    """
    async with services.unit() as unit:
        s = unit.session
        call = await s.get(Call, call_id, with_for_update=True) if call_id else None
        if call is None:
            return None
        if conference_sid and not call.conference_sid:
            call.conference_sid = conference_sid
        is_patient = call_sid == patient_leg(call)
        if event == "participant-leave" and is_patient and call.ended_at is None:
            await finish(unit, call, "completed", None)
            await announce(unit, call)
            return "ended"
        if event == "participant-join" and call.ended_at is None:
            if is_patient and call.on_hold:
                return "hold"
            if not is_patient and not call.on_hold:
                return "unhold"
        return None
