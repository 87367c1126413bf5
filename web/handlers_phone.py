"""REST: the softphone (token, on duty), calls going on now and their call pop, and each location's
phone set-up (hours, phone tree, ring groups, queue, voicemail, text-back) for admins."""

from __future__ import annotations

from aiohttp import web

from comms import audit, calls, voice_setup
from comms.errors import Unavailable
from comms.models import utcnow
from schemas.voice import (
    CallControlOut,
    Caller,
    CallOut,
    CompleteTransferIn,
    OnDutyIn,
    RecordingControlIn,
    RecordingControlOut,
    RingGroupIn,
    RingGroupOut,
    SoftphoneToken,
    TransferIn,
    VoiceConfig,
)
from telephony.softphone import access_token
from telephony.voice_control import VoiceControl
from web.api import ApiRouter, int_param, parse_body, reply
from web.keys import SERVICES, SETTINGS, VOICE_CONTROL
from web.staff_auth import require_actor

router = ApiRouter("phone")


@router.route(
    "POST",
    "/api/v1/phone/token",
    summary="A short-lived access token for this staff member's softphone",
    response=SoftphoneToken,
    errors=(503,),
)
async def token(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    issued = access_token(request.app[SETTINGS].twilio, actor.user_id, utcnow())
    async with request.app[SERVICES].unit() as unit:
        audit.record(unit.session, actor, "issue", "softphone_token", actor.user_id)
    return reply(issued)


@router.route(
    "GET", "/api/v1/phone/duty", summary="Whether this staff member takes calls now", response=OnDutyIn
)
async def get_duty(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(OnDutyIn(on_duty=await voice_setup.is_on_duty(request.app[SERVICES], actor.user_id)))


@router.route(
    "PUT",
    "/api/v1/phone/duty",
    summary="Start or stop taking calls (only on-duty softphones ring)",
    body=OnDutyIn,
    response=OnDutyIn,
)
async def put_duty(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, OnDutyIn)
    return reply(OnDutyIn(on_duty=await voice_setup.set_on_duty(request.app[SERVICES], actor, body)))


@router.route(
    "GET", "/api/v1/calls/active", summary="Calls ringing, queued or in progress now", response=list[CallOut]
)
async def active_calls(request: web.Request) -> web.Response:
    return reply(await calls.active(request.app[SERVICES], await require_actor(request)))


@router.route(
    "GET",
    "/api/v1/calls/{call_id}/caller",
    summary="Who is calling: the call pop for a call (audited)",
    response=Caller,
    errors=(404,),
)
async def caller(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await calls.pop_for(request.app[SERVICES], actor, int_param(request, "call_id")))


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/voice",
    summary="How a location answers its phones",
    response=VoiceConfig,
    errors=(404,),
)
async def get_voice(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await voice_setup.get_config(request.app[SERVICES], actor, int_param(request, "location_id"))
    )


@router.route(
    "PUT",
    "/api/v1/locations/{location_id}/voice",
    summary="Change business hours, holidays, phone tree, queue, voicemail and text-back (admins)",
    body=VoiceConfig,
    response=VoiceConfig,
    errors=(404,),
)
async def put_voice(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, VoiceConfig)
    location_id = int_param(request, "location_id")
    return reply(await voice_setup.put_config(request.app[SERVICES], actor, location_id, body))


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/ring-groups",
    summary="The location's ring groups and their members",
    response=list[RingGroupOut],
    errors=(404,),
)
async def list_groups(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await voice_setup.list_groups(request.app[SERVICES], actor, int_param(request, "location_id"))
    )


@router.route(
    "POST",
    "/api/v1/locations/{location_id}/ring-groups",
    summary="Create a ring group (admins)",
    body=RingGroupIn,
    response=RingGroupOut,
    status=201,
    errors=(404, 409),
)
async def create_group(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, RingGroupIn)
    location_id = int_param(request, "location_id")
    return reply(await voice_setup.save_group(request.app[SERVICES], actor, location_id, body), status=201)


@router.route(
    "PUT",
    "/api/v1/locations/{location_id}/ring-groups/{group_id}",
    summary="Rename a ring group or change its members (admins)",
    body=RingGroupIn,
    response=RingGroupOut,
    errors=(404,),
)
async def put_group(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, RingGroupIn)
    location_id, group_id = int_param(request, "location_id"), int_param(request, "group_id")
    return reply(await voice_setup.save_group(request.app[SERVICES], actor, location_id, body, group_id))


def _control(request: web.Request) -> VoiceControl:
    control = request.app.get(VOICE_CONTROL)
    if control is None:
        raise Unavailable("calls are off: Twilio is not configured on this server")
    return control


@router.route(
    "POST",
    "/api/v1/calls/{call_id}/hold",
    summary="Put the patient on hold (the call moves into its conference)",
    response=CallControlOut,
    errors=(404, 409, 503),
)
async def hold(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    result = await _control(request).hold(actor, int_param(request, "call_id"))
    return reply(CallControlOut(result=result))


@router.route(
    "POST",
    "/api/v1/calls/{call_id}/resume",
    summary="Take the patient off hold (or say the softphone must rejoin the call first)",
    response=CallControlOut,
    errors=(404, 409, 503),
)
async def resume(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    result = await _control(request).resume(actor, int_param(request, "call_id"))
    return reply(CallControlOut(result=result))


@router.route(
    "POST",
    "/api/v1/calls/{call_id}/transfer",
    summary="Transfer the call to a colleague, cold (they ring, we drop) or warm (we talk first)",
    body=TransferIn,
    response=CallControlOut,
    errors=(404, 409, 503),
)
async def transfer(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, TransferIn)
    call_id = int_param(request, "call_id")
    result = await _control(request).transfer(actor, call_id, body.to_user_id, body.mode)
    return reply(CallControlOut(result=result))


@router.route(
    "POST",
    "/api/v1/calls/{call_id}/transfer/complete",
    summary="Hand a warm transfer over: the colleague has the patient, off hold",
    body=CompleteTransferIn,
    response=CallControlOut,
    errors=(404, 409, 503),
)
async def complete_transfer(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, CompleteTransferIn)
    result = await _control(request).complete(actor, int_param(request, "call_id"), body.to_user_id)
    return reply(CallControlOut(result=result))


@router.route(
    "POST",
    "/api/v1/calls/{call_id}/recording",
    summary="Pause or resume the recording of a recorded call (409 when the call is not recorded)",
    body=RecordingControlIn,
    response=RecordingControlOut,
    errors=(404, 409, 503),
)
async def recording(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, RecordingControlIn)
    status = await _control(request).recording(actor, int_param(request, "call_id"), body.action)
    return reply(RecordingControlOut(recording="paused" if status == "paused" else "in-progress"))


@router.route(
    "POST",
    "/api/v1/calls/{call_id}/hangup",
    summary="End the call for everyone on it",
    response=CallControlOut,
    errors=(404, 409, 503),
)
async def hang_up(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    result = await _control(request).hang_up(actor, int_param(request, "call_id"))
    return reply(CallControlOut(result=result))
