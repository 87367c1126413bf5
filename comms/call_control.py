"""What a staff softphone asks for through the TwiML App: call a patient from a thread, take the caller
waiting longest in a queue, or (re)join a call's conference after a hold or for a warm transfer.

Twilio signs these requests and names the softphone's identity in `From` (from the access token it
verified), so the staff member is known without a browser session; their locations still decide.
"""

from __future__ import annotations

from sqlalchemy import select

from comms import audit
from comms.access import Actor
from comms.call_flow import Flow, Step, load_flow
from comms.call_transfer import warm_transfer_pending
from comms.calls import add_step, announce, by_sid
from comms.errors import Forbidden, InvalidRequest, NotFound
from comms.models import Contact, Conversation, Location, StaffLocation, StaffUser, TimelineItem
from comms.services import Services
from comms.timeline import add_item
from comms.voice_models import Call
from comms.voice_setup import config_of
from schemas.voice import VoiceWebhook, user_of


async def softphone_actor(services: Services, address: str) -> Actor:
    """The active staff member behind `client:staff_12`, with the locations they may see."""
    user_id = user_of(address)
    if user_id is None:
        raise Forbidden("only staff softphones may call out")
    async with services.read() as session:
        user = await session.get(StaffUser, user_id)
        if user is None or not user.active:
            raise Forbidden("this softphone's staff account is not active")
        locations = None
        if user.role != "admin":
            rows = await session.scalars(
                select(StaffLocation.location_id).where(StaffLocation.user_id == user.id)
            )
            locations = frozenset(rows)
        return Actor(user.id, user.practice_id, user.role, locations, session_id="softphone")


def _int(params: dict[str, str], name: str) -> int:
    raw = params.get(name, "")
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidRequest(f"the softphone did not send a valid {name}")
    return int(raw)


async def softphone_request(services: Services, hook: VoiceWebhook) -> Step:
    """Route one outgoing softphone call by what the page asked for (`action`)."""
    actor = await softphone_actor(services, hook.from_)
    action = hook.params.get("action", "dial")
    if action == "dequeue":
        return await _dequeue(services, actor, _int(hook.params, "location_id"))
    if action == "join":
        return await _join(services, actor, _int(hook.params, "call_id"))
    if action == "dial":
        return await _dial(services, actor, hook)
    raise InvalidRequest("unknown softphone action")


async def _dequeue(services: Services, actor: Actor, location_id: int) -> Step:
    async with services.read() as session:
        location = await session.get(Location, location_id)
        if location is None or location.practice_id != actor.practice_id:
            raise NotFound("no such location")
        actor.require_location(location_id)
        config = await config_of(session, location_id)  # the taken call is recorded as the location says
    return Step("dequeue", location_id=location_id, config=config, params={"by": str(actor.user_id)})


async def _join(services: Services, actor: Actor, call_id: int) -> Step:
    """Back to a held call (or into a warm transfer): the staff member joins its conference."""
    async with services.unit() as unit:
        call = await unit.session.get(Call, call_id, with_for_update=True)
        if call is None or call.ended_at is not None or not call.conference:
            raise NotFound("this call is not waiting in a conference")
        actor.require_location(call.location_id)
        if call.answered_by_id not in (None, actor.user_id) and call.stage != "hold":
            raise Forbidden("a colleague has this call")
        flow = await load_flow(unit, call, [])
        if call.stage == "hold" and call.answered_by_id == actor.user_id and not warm_transfer_pending(call):
            call.stage, call.on_hold = "connected", False  # joining ends the hold (the join event unholds)
            add_step(call, "resumed", by=actor.user_id)
            await announce(unit, call)
        return flow.step("join", text=call.conference, params={"by": str(actor.user_id)})


async def _dial(services: Services, actor: Actor, hook: VoiceWebhook) -> Step:
    """Call the patient of a thread the staff member may see, shown as that location's number."""
    conversation_id = _int(hook.params, "conversation_id")
    async with services.unit() as unit:
        s = unit.session
        existing = await by_sid(s, hook.call_sid)
        if existing is not None:  # a retried request: same call, same answer
            flow = await load_flow(unit, existing, [])
            return _dial_step(flow, existing.patient_e164)
        conversation = await s.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        actor.require_location(conversation.location_id)
        contact = await s.get(Contact, conversation.contact_id)
        location = await s.get(Location, conversation.location_id)
        if contact is None or location is None:
            raise NotFound("no such conversation")
        numbers = [p.e164 for p in contact.phones]
        wanted = hook.to.strip() or (numbers[0] if numbers else "")
        if wanted not in numbers:
            # Only the patient's own numbers: a softphone is not a way to dial anywhere at our cost.
            raise InvalidRequest("that number is not one of this patient's")
        caller_id = next((n.e164 for n in location.numbers if n.voice), None)
        if caller_id is None:
            raise InvalidRequest("this location has no phone number to call from")
        call = Call(
            call_sid=hook.call_sid,
            location_id=location.id,
            conversation_id=conversation.id,
            direction="out",
            patient_e164=wanted,
            practice_e164=caller_id,
            state="ringing",
            stage="ringing",
            route=[],
            placed_by_id=actor.user_id,
        )
        s.add(call)
        await s.flush()
        add_step(call, "dial", by=actor.user_id)
        item = TimelineItem(
            kind="call",
            direction="out",
            status="ringing",
            author_id=actor.user_id,
            carrier_sid=hook.call_sid,
            meta={"call_id": call.id, "from": caller_id, "to": wanted},
        )
        call.item_id = (await add_item(unit, conversation, item)).id
        audit.record(s, actor, "call", "conversation", conversation.id, {"call_id": call.id})
        flow = await load_flow(unit, call, [])
        await announce(unit, call)
        return _dial_step(flow, wanted)


def _dial_step(flow: Flow, patient: str) -> Step:
    return flow.step("dial", text=patient, params={"caller_id": flow.call.practice_e164})
