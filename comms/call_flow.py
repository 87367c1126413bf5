"""The call flow: each voice webhook becomes one action that records the call's progress and says
what the caller hears next (a `Step`, which telephony turns into TwiML).

in hours → phone tree (optional) → ring a group's on-duty softphones → queue with hold music →
voicemail; after hours or on a holiday → voicemail. Every step is written to the call's route.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select

from comms import audit
from comms.call_pop import caller_of
from comms.calls import (
    add_step,
    announce,
    apply_leg,
    busy_staff,
    by_sid,
    call_out,
    find,
    finish,
    mark_answered,
)
from comms.contacts import _create as insert_contact
from comms.contacts import _holders as holders_of
from comms.errors import NotFound
from comms.models import Contact, Conversation, Location, LocationNumber, TimelineItem, utcnow
from comms.phones import to_e164
from comms.recording_state import note_answered
from comms.regroup import conversation_at
from comms.services import Services, Unit
from comms.timeline import add_item
from comms.voice_models import Call
from comms.voice_setup import config_of, group_members, on_duty_ids, staff_of_location
from routing.audience import Audience
from routing.call_routing import choose_option, is_open, render, ring_targets
from schemas.voice import CallRinging, VoiceConfig, VoiceWebhook

StepKind = Literal[
    "menu", "ring", "queue", "voicemail", "message", "hangup", "reject", "goodbye", "dial", "dequeue", "join"
]


@dataclass(frozen=True)
class Step:
    """What the caller hears next; telephony.voice_twiml renders each kind."""

    kind: StepKind
    call_id: int = 0
    location_id: int = 0
    config: VoiceConfig = field(default_factory=VoiceConfig)
    staff_ids: tuple[int, ...] = ()
    attempt: int = 1
    again: bool = False
    greet: str = ""
    text: str = ""
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Flow:
    """One webhook's view of its call: the row, its location, set-up and the softphones online now."""

    unit: Unit
    call: Call
    location: Location
    config: VoiceConfig
    online: frozenset[int]

    def step(self, kind: StepKind, **values: Any) -> Step:
        return Step(kind, self.call.id, self.location.id, self.config, **values)

    def greeting(self) -> str:
        return render(self.config.greeting, location=self.location.name)


async def load_flow(unit: Unit, call: Call, online: Iterable[int]) -> Flow:
    """The call with its location and set-up, for deciding its next step."""
    location = await unit.session.get(Location, call.location_id)
    if location is None:
        raise NotFound("the call's location is gone")
    return Flow(unit, call, location, await config_of(unit.session, location.id), frozenset(online))


async def _caller(unit: Unit, practice_id: int, raw_from: str) -> tuple[Contact, list[int], str]:
    """The patient calling (or the household sharing the number); a withheld number gets its own record."""
    s = unit.session
    try:
        e164 = to_e164(raw_from)
    except Exception:  # "anonymous", "restricted" or garbage: still a caller who must reach the office
        contact = await insert_contact(s, None, practice_id, "Withheld", "number", [], [], None, True)
        await s.refresh(contact, ["phones", "emails"])
        return contact, [], ""
    holders = await holders_of(s, practice_id, [e164])
    known = [c for c in holders if not c.is_unknown]
    if holders:
        chosen = (known or holders)[0]
        return chosen, [c.id for c in known] if len(known) > 1 else [], e164
    contact = await insert_contact(s, None, practice_id, "", "", [e164], [], None, True)
    await s.refresh(contact, ["phones", "emails"])  # loaded now: the call's events read them
    return contact, [], e164


async def inbound(services: Services, hook: VoiceWebhook, online: Iterable[int]) -> Step:
    """A call to one of our numbers: record it (once; Twilio may retry) and route it."""
    async with services.unit() as unit:
        s = unit.session
        existing = await by_sid(s, hook.call_sid)
        if existing is not None:
            return await _resume(await load_flow(unit, existing, online))
        try:
            called = to_e164(hook.to)
        except Exception:
            return Step("reject")
        location = await s.scalar(select(Location).join(LocationNumber).where(LocationNumber.e164 == called))
        if location is None:
            return Step("reject")
        contact, household, e164 = await _caller(unit, location.practice_id, hook.from_)
        conversation, _ = await conversation_at(s, contact.id, location.id)
        call = Call(
            call_sid=hook.call_sid,
            location_id=location.id,
            conversation_id=conversation.id,
            direction="in",
            patient_e164=e164 or "withheld",
            practice_e164=called,
            state="ringing",
            stage="greeting",
            route=[],
        )
        s.add(call)
        await s.flush()
        item = TimelineItem(
            kind="call",
            direction="in",
            status="ringing",
            carrier_sid=hook.call_sid,
            meta={
                "call_id": call.id,
                "from": e164,
                "to": called,
                **({"household": household} if household else {}),
            },
        )
        call.item_id = (await add_item(unit, conversation, item)).id
        audit.record(s, None, "receive", "call", call.id)
        flow = await load_flow(unit, call, online)
        step = await _route(flow, household)
        await announce(unit, call)
        return step


async def _route(flow: Flow, household: list[int] | None = None) -> Step:
    """A new call: closed → voicemail; a phone tree if there is one; else ring the default group."""
    call, config = flow.call, flow.config
    if not is_open(config, flow.location.timezone, utcnow()):
        add_step(call, "closed")
        return _voicemail(flow, render(config.after_hours_message, location=flow.location.name), greet=True)
    if config.menu_enabled:
        call.stage = "menu"
        add_step(call, "menu")
        return flow.step("menu", greet=flow.greeting())
    return await _ring(flow, config.default_group_id, greet=flow.greeting(), household=household)


async def _resume(flow: Flow) -> Step:
    """A retried first webhook (Twilio never got our answer): the same step again, never routed twice."""
    call, greet = flow.call, flow.greeting()
    if call.stage == "menu":
        return flow.step("menu", greet=greet)
    if call.stage == "voicemail":
        closed = any(step.get("step") == "closed" for step in call.route or [])
        prompt = flow.config.after_hours_message if closed else flow.config.voicemail_prompt
        return flow.step("voicemail", text=render(prompt, location=flow.location.name), greet=greet)
    if call.stage == "queued":
        return flow.step("queue", greet=greet)
    if call.stage == "ringing":
        staff = tuple(call.route[-1].get("staff", [])) if call.route else ()
        conversation = await flow.unit.session.get(Conversation, call.conversation_id)
        patient_id = conversation.contact_id if conversation else None
        return flow.step("ring", staff_ids=staff, params=_params(call, patient_id), greet=greet)
    return flow.step("hangup")


def _params(call: Call, patient_id: int | None = None) -> dict[str, str]:
    """What the ringing softphone is told: ids only (names and numbers come from our API, signed in)."""
    params = {"call_id": str(call.id), "conversation_id": str(call.conversation_id)}
    if patient_id is not None:
        params["patient_id"] = str(patient_id)
    return params


def _voicemail(flow: Flow, prompt: str, *, greet: bool = False) -> Step:
    flow.call.stage = "voicemail"
    add_step(flow.call, "voicemail")
    return flow.step("voicemail", text=prompt, greet=flow.greeting() if greet else "")


async def _ring(
    flow: Flow, group_id: int | None, *, greet: str = "", household: list[int] | None = None
) -> Step:
    """Ring the group's on-duty, online, free softphones with a call pop; nobody there → overflow."""
    s, call = flow.unit.session, flow.call
    members = (
        await group_members(s, group_id)
        if group_id is not None
        else await staff_of_location(s, flow.location.practice_id, flow.location.id)
    )
    staff = ring_targets(members, await on_duty_ids(s, members), flow.online, await busy_staff(s, members))
    if not staff:
        add_step(call, "ring", group=group_id, staff=[], why="nobody available")
        return _overflow(flow, greet=greet)
    call.stage, call.group_id = "ringing", group_id
    add_step(call, "ring", group=group_id, staff=staff)
    patient_id = await _pop(flow, staff, household)
    return flow.step("ring", staff_ids=tuple(staff), params=_params(call, patient_id), greet=greet)


async def _pop(flow: Flow, staff: list[int], household: list[int] | None) -> int | None:
    """Show every ringing softphone who is calling, before anyone answers; the patient's id."""
    s, call = flow.unit.session, flow.call
    conversation = await s.get(Conversation, call.conversation_id)
    contact = await s.get(Contact, conversation.contact_id) if conversation else None
    if contact is None:
        return None
    if household is None:
        item = await s.get(TimelineItem, call.item_id) if call.item_id else None
        household = [int(x) for x in ((item.meta or {}).get("household") or [])] if item else []
    caller = await caller_of(s, contact, household, {flow.location.id})
    await s.flush()
    event = CallRinging(location_id=flow.location.id, call=await call_out(s, call), caller=caller)
    flow.unit.publish(event, Audience.staff(*staff))
    return contact.id


def _overflow(flow: Flow, *, greet: str = "") -> Step:
    """Nobody answered (or nobody could): the queue when it is on and not tried yet, else voicemail."""
    call, config = flow.call, flow.config
    if config.queue_enabled and call.queued_at is None and config.queue_max_wait_seconds > 0:
        call.stage, call.queued_at = "queued", utcnow()
        add_step(call, "queue")
        return flow.step("queue", greet=greet)
    return _voicemail(flow, config.voicemail_prompt, greet=bool(greet))


async def menu_choice(
    services: Services, call_id: int, hook: VoiceWebhook, attempt: int, back: bool, online: Iterable[int]
) -> Step:
    """The caller pressed a key, said something, or nothing: follow the choice or ask again."""
    async with services.unit() as unit:
        call = await find(unit.session, call_id, hook.call_sid)
        if call is None or call.ended_at is not None:
            return Step("hangup")
        flow = await load_flow(unit, call, online)
        if call.stage != "menu":
            return await _resume(flow)  # a retried menu request after the call moved on
        if back:  # after an information choice: the menu again, without "sorry"
            return flow.step("menu", attempt=attempt)
        option = choose_option(flow.config, hook.digits, hook.speech_result)
        if option is None:
            if attempt <= flow.config.menu_retries:
                add_step(call, "menu", choice=None, attempt=attempt)
                await announce(unit, call)
                return flow.step("menu", attempt=attempt + 1, again=True)
            step = await _ring(flow, flow.config.default_group_id)
            await announce(unit, call)
            return step
        add_step(call, "menu", choice=option.digit, label=option.label)
        if option.action == "message":
            await announce(unit, call)
            return flow.step("message", text=option.message or "", attempt=attempt)
        if option.action == "voicemail":
            step = _voicemail(flow, flow.config.voicemail_prompt)
        elif option.action == "queue":
            step = _overflow(flow)
        else:
            step = await _ring(
                flow, option.group_id if option.group_id is not None else flow.config.default_group_id
            )
        await announce(unit, call)
        return step


async def dial_ended(services: Services, call_id: int, hook: VoiceWebhook, online: Iterable[int]) -> Step:
    """The softphones' <Dial> is over: an answered call ends; an unanswered one overflows."""
    async with services.unit() as unit:
        call = await find(unit.session, call_id, hook.call_sid)
        if call is None:
            return Step("hangup")
        status = hook.dial_call_status or ""
        if call.direction == "out":
            if status in ("completed", "answered") and hook.call_duration:
                mark_answered(call, call.placed_by_id, hook.dial_call_sid, utcnow())
            await finish(unit, call, "completed", None, dial_status=status)
            await announce(unit, call)
            return Step("hangup")
        if status in ("completed", "answered") or call.answered_at is not None or call.ended_at is not None:
            return Step("hangup")
        if status == "canceled" or hook.call_status in ("completed", "canceled"):
            return Step("hangup")  # the caller hung up while it rang
        flow = await load_flow(unit, call, online)
        add_step(call, "no answer", dial=status)
        step = _overflow(flow)
        await announce(unit, call)
        return step


async def leg(services: Services, call_id: int, hook: VoiceWebhook) -> None:
    """A softphone leg's progress: the first to answer is recorded, the others stop ringing."""
    async with services.unit() as unit:
        call = await find(unit.session, call_id, hook.parent_call_sid or hook.call_sid)
        if call is None:
            return
        if await apply_leg(unit, call, hook.call_sid, hook.to, hook.call_status, hook.call_duration):
            await note_answered(unit.session, call, services.settings.recording)
            await announce(unit, call)


async def queue_done(services: Services, call_id: int, hook: VoiceWebhook) -> Step:
    """The caller left the queue: bridged (answered), gave up, or waited too long (voicemail)."""
    async with services.unit() as unit:
        call = await find(unit.session, call_id, hook.call_sid)
        if call is None:
            return Step("hangup")
        result = hook.queue_result or ""
        add_step(call, "queue result", result=result, waited=hook.queue_time)
        if result in ("bridged", "bridging-in-process") or call.answered_at is not None:
            return Step("hangup")
        if result == "hangup" or hook.call_status in ("completed", "canceled"):
            await announce(unit, call)
            return Step("hangup")
        flow = await load_flow(unit, call, [])
        step = _voicemail(flow, "Sorry to keep you waiting. " + flow.config.voicemail_prompt)
        await announce(unit, call)
        return step


async def queue_connect(services: Services, hook: VoiceWebhook, user_id: int) -> None:
    """A staff softphone dequeued this caller (Twilio tells the queued caller's leg before bridging)."""
    async with services.unit() as unit:
        call = await by_sid(unit.session, hook.call_sid)
        if call is None:
            return
        if mark_answered(call, user_id, hook.dequeueing_call_sid, utcnow()):
            add_step(call, "answered from queue", by=user_id)
            await note_answered(unit.session, call, services.settings.recording)
            await announce(unit, call)


async def status(services: Services, hook: VoiceWebhook) -> bool:
    """The carrier's own word that a call ended (the number's or the TwiML App's status callback)."""
    async with services.unit() as unit:
        call = await by_sid(unit.session, hook.call_sid)
        if call is None or hook.call_status not in ("completed", "busy", "no-answer", "failed", "canceled"):
            return False
        if not await finish(unit, call, hook.call_status, hook.call_duration):
            return False
        await announce(unit, call)
        return True


async def voicemail_left(services: Services, call_id: int, hook: VoiceWebhook) -> Step:
    """The Record verb finished (message left, or silence): thank the caller and hang up."""
    async with services.unit() as unit:
        call = await find(unit.session, call_id, hook.call_sid)
        if call is not None:
            add_step(call, "voicemail left", seconds=hook.recording_duration or 0)
    if hook.recording_duration:
        return Step("goodbye", text="Thank you. We will get back to you soon. Goodbye.")
    return Step("goodbye", text="We did not receive a message. Goodbye.")


async def config_for(services: Services, call_id: int, call_sid: str) -> VoiceConfig:
    """The set-up of the location a call came in to (defaults when the call is unknown)."""
    async with services.read() as session:
        call = await find(session, call_id, call_sid)
        return await config_of(session, call.location_id) if call is not None else VoiceConfig()
