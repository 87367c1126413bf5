"""Hold and transfer, the carrier half: the REST calls that move a live call's legs (twilio's async
client), between `comms.call_transfer.plan` and its `record_*`.

A carrier refusal becomes a clear error for staff and changes nothing in our records.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from comms import call_transfer
from comms.access import Actor
from comms.errors import Conflict, Unavailable
from comms.services import Services
from schemas.voice import ControlResult, VoiceConfig, identity
from telephony import voice_twiml as twiml
from telephony.voice_steps import effective
from telephony.voice_twiml import LEG_EVENTS, Urls

log = logging.getLogger(__name__)
T = TypeVar("T")
CURRENT_RECORDING = "Twilio.CURRENT"  # Twilio's name for a call's (or conference's) recording in progress


class VoiceControl:
    """Made once per process with the Twilio client; every method checks the staff member first."""

    def __init__(self, services: Services, client: Client) -> None:
        self.services = services
        self.client = client
        self.base = services.settings.server.public_base_url + "/twilio/voice"

    async def hold(self, actor: Actor, call_id: int) -> ControlResult:
        """Put the patient on hold; returns "held". The first hold moves them into the conference."""
        plan = await call_transfer.plan(self.services, actor, call_id)
        if plan.on_hold:
            return "held"
        urls = Urls(self.base, plan.call_id)
        if not plan.in_conference:
            await self._into_conference(actor, plan)
        else:
            await self._participant(plan, hold=True, hold_url=urls.at("hold-music"), hold_method="POST")
            await call_transfer.record_hold(self.services, actor, call_id, plan.conference, True)
        return "held"

    async def _into_conference(self, actor: Actor, plan: call_transfer.Plan) -> None:
        """Move the patient into the call's conference, on hold. The hold is recorded first: the
        conference's join event may come back before the carrier's answer, and must find it."""
        await call_transfer.record_hold(self.services, actor, plan.call_id, plan.conference, True)
        document = twiml.conference(
            self._config(plan), Urls(self.base, plan.call_id), plan.conference, staff=False
        )
        try:
            await self._carrier(self.client.calls(plan.patient_leg).update_async(twiml=document))
        except Unavailable:
            await call_transfer.record_hold(self.services, actor, plan.call_id, None, False)
            raise

    async def resume(self, actor: Actor, call_id: int) -> ControlResult:
        """Take the patient off hold: "resumed", or "join" when the staff softphone must rejoin first."""
        plan = await call_transfer.plan(self.services, actor, call_id)
        if not plan.on_hold:
            return "resumed"
        if plan.conference_sid is not None and await self._staff_in_conference(plan):
            await self._participant(plan, hold=False)
            await call_transfer.record_hold(self.services, actor, call_id, plan.conference, False)
            return "resumed"
        return "join"  # the softphone calls back in (TwiML App, action=join); joining ends the hold

    async def transfer(self, actor: Actor, call_id: int, to_user_id: int, mode: str) -> ControlResult:
        """Cold: the colleague's softphone rings with the call pop and we drop off. Warm: the patient
        waits on hold while we talk to the colleague in the conference, then we hand over."""
        plan = await call_transfer.plan(self.services, actor, call_id)
        await call_transfer.check_target(self.services, actor, plan.location_id, to_user_id)
        urls = Urls(self.base, plan.call_id)
        if mode == "cold" and not plan.in_conference:
            params = {"call_id": str(plan.call_id)}
            document = twiml.ring(self._config(plan), urls, [to_user_id], params)
            await self._carrier(self.client.calls(plan.patient_leg).update_async(twiml=document))
        else:
            if not plan.in_conference:
                await self._into_conference(actor, plan)
            await self._carrier(
                self.client.conferences(plan.conference_sid or plan.conference).participants.create_async(
                    from_=plan.practice_number,
                    to="client:" + identity(to_user_id),
                    label=identity(to_user_id),
                    end_conference_on_exit=mode == "cold",
                    status_callback=urls.at("leg"),
                    status_callback_event=LEG_EVENTS.split(),
                )
            )
        await call_transfer.record_transfer(self.services, actor, call_id, to_user_id, mode)
        return "ringing"

    async def complete(self, actor: Actor, call_id: int, to_user_id: int) -> ControlResult:
        """End a warm transfer: the patient comes off hold with the colleague; our softphone hangs up."""
        plan = await call_transfer.plan(self.services, actor, call_id)
        if plan.on_hold and plan.conference_sid is not None:
            await self._participant(plan, hold=False)
        await call_transfer.complete_warm(self.services, actor, call_id, to_user_id)
        return "transferred"

    async def hang_up(self, actor: Actor, call_id: int) -> ControlResult:
        plan = await call_transfer.plan(self.services, actor, call_id)
        await self._carrier(self.client.calls(plan.patient_leg).update_async(status="completed"))
        return "ended"

    async def patient_hold(self, call_id: int, hold: bool) -> None:
        """The server's own follow-up to a conference event: hold or release the patient's leg."""
        plan = await call_transfer.system_plan(self.services, call_id)
        if plan is None or plan.conference_sid is None:
            return
        urls = Urls(self.base, plan.call_id)
        changes: dict[str, object] = {"hold": hold}
        if hold:
            changes.update(hold_url=urls.at("hold-music"), hold_method="POST")
        try:
            await self._participant(plan, **changes)
        except (Unavailable, Conflict) as exc:
            log.warning("could not %s call %s: %s", "hold" if hold else "release", call_id, exc.message)

    async def recording(self, actor: Actor, call_id: int, action: str) -> str:
        """Pause or resume the call's recording where it is made now: the <Dial>'s (on the leg that
        dialled) or, once the call has moved there, the conference's. Returns the recording's state."""
        plan = await call_transfer.plan(self.services, actor, call_id)
        if not self._config(plan).record_calls:
            raise Conflict("this call is not being recorded")
        status = "paused" if action == "pause" else "in-progress"
        changes: dict[str, object] = {"status": status}
        if status == "paused":
            changes["pause_behavior"] = "skip"  # the paused stretch is left out, not kept as silence
        if plan.in_conference:
            # Our record of the conference's sid may lag its first event (a pause just after rejoining).
            conference_sid = plan.conference_sid or await self._live_conference_sid(plan.conference)
            if conference_sid is None:
                raise Conflict("the call's conference has not started yet; try again in a moment")
            target = self.client.conferences(conference_sid).recordings(CURRENT_RECORDING)
        else:
            target = self.client.calls(plan.call_sid or plan.patient_leg).recordings(CURRENT_RECORDING)
        await self._carrier(target.update_async(**changes))
        await call_transfer.record_recording(self.services, actor, call_id, status)
        return status

    async def _live_conference_sid(self, name: str) -> str | None:
        rooms = await self._carrier(
            self.client.conferences.list_async(friendly_name=name, status="in-progress", limit=1)
        )
        return str(rooms[0].sid) if rooms else None

    def _config(self, plan: call_transfer.Plan) -> VoiceConfig:
        """The location's set-up with the practice's recording choice (a moved call stays recorded)."""
        return effective(plan.config, self.services.settings.recording)

    async def _staff_in_conference(self, plan: call_transfer.Plan) -> bool:
        assert plan.conference_sid is not None
        rows = await self._carrier(self.client.conferences(plan.conference_sid).participants.list_async())
        return any(p.call_sid != plan.patient_leg for p in rows)

    async def _participant(self, plan: call_transfer.Plan, **changes: object) -> None:
        if plan.conference_sid is None:
            raise Conflict("the call's conference has not started yet; try again in a moment")
        participant = self.client.conferences(plan.conference_sid).participants(plan.patient_leg)
        await self._carrier(participant.update_async(**changes))

    async def _carrier(self, pending: Awaitable[T]) -> T:
        """Await a carrier call; its refusal is a clear error (the call stays as it was)."""
        try:
            return await pending
        except TwilioRestException as exc:
            log.warning("carrier refused a call change: %s %s", exc.status, exc.code)
            raise Unavailable(f"the carrier refused the change ({exc.code or exc.status})") from None
