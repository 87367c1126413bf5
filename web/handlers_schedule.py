"""REST: the calendar's set-up (providers, appointment types, hours, time off, holidays), open slots,
booking from a conversation, rescheduling and the appointment lifecycle, schedules to read, provider
calendar feeds, reminder rules with their preview, and alerts about replies to reminders marked handled."""

from __future__ import annotations

from aiohttp import web

from comms import appointment_reads, appointments, calendar_feed, reminders, reply_handled, schedule_setup
from schemas.api import TimelineItemOut
from schemas.schedule import (
    AppointmentOut,
    AppointmentTypeIn,
    AppointmentTypeOut,
    AppointmentTypeUpdate,
    BookIn,
    FeedOut,
    FeedQuery,
    HolidayIn,
    HolidayOut,
    HoursIn,
    PreviewIn,
    PreviewOut,
    ProviderIn,
    ProviderOut,
    ProviderUpdate,
    ReminderRuleIn,
    ReminderRuleOut,
    RescheduleIn,
    ScheduleQuery,
    SlotOut,
    SlotQuery,
    StatusIn,
    TimeOffIn,
    TimeOffOut,
)
from web.api import ApiRouter, int_param, parse_body, parse_query, reply
from web.carrier import wake_sender
from web.client import client_addr
from web.keys import SERVICES, SETTINGS
from web.staff_auth import require_actor

router = ApiRouter("schedule")


@router.route(
    "POST",
    "/api/v1/providers",
    summary="Add a provider patients can be booked with, at some of the practice's locations (admins)",
    body=ProviderIn,
    response=ProviderOut,
    status=201,
    errors=(404, 409),
)
async def create_provider(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ProviderIn)
    return reply(await schedule_setup.add_provider(request.app[SERVICES], actor, body), status=201)


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/providers",
    summary="The providers who see patients at a location",
    response=list[ProviderOut],
)
async def list_providers(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    location_id = int_param(request, "location_id")
    return reply(await schedule_setup.providers_at(request.app[SERVICES], actor, location_id))


@router.route(
    "GET",
    "/api/v1/providers/{provider_id}/hours",
    summary="A provider's working week, per location, in local time",
    response=HoursIn,
)
async def get_hours(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await schedule_setup.get_hours(request.app[SERVICES], actor, int_param(request, "provider_id"))
    )


@router.route(
    "PUT",
    "/api/v1/providers/{provider_id}/hours",
    summary="Replace a provider's working week (admins)",
    body=HoursIn,
    response=HoursIn,
)
async def put_hours(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, HoursIn)
    provider_id = int_param(request, "provider_id")
    return reply(await schedule_setup.set_hours(request.app[SERVICES], actor, provider_id, body))


@router.route(
    "POST",
    "/api/v1/providers/{provider_id}/time-off",
    summary="Mark a provider away for a while (admins)",
    body=TimeOffIn,
    response=TimeOffOut,
    status=201,
)
async def create_time_off(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, TimeOffIn)
    provider_id = int_param(request, "provider_id")
    return reply(
        await schedule_setup.add_time_off(request.app[SERVICES], actor, provider_id, body), status=201
    )


@router.route(
    "POST",
    "/api/v1/locations/{location_id}/holidays",
    summary="Close a location for booking on a local date (admins)",
    body=HolidayIn,
    response=HolidayOut,
    status=201,
    errors=(409,),
)
async def create_holiday(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, HolidayIn)
    location_id = int_param(request, "location_id")
    return reply(
        await schedule_setup.add_holiday(request.app[SERVICES], actor, location_id, body), status=201
    )


@router.route(
    "GET",
    "/api/v1/appointment-types",
    summary="The practice's appointment types",
    response=list[AppointmentTypeOut],
)
async def list_types(request: web.Request) -> web.Response:
    return reply(await schedule_setup.list_types(request.app[SERVICES], await require_actor(request)))


@router.route(
    "POST",
    "/api/v1/appointment-types",
    summary="Add an appointment type with its duration, buffer and colour (admins)",
    body=AppointmentTypeIn,
    response=AppointmentTypeOut,
    status=201,
    errors=(409,),
)
async def create_type(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, AppointmentTypeIn)
    return reply(await schedule_setup.add_type(request.app[SERVICES], actor, body), status=201)


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/slots",
    summary="Open slots for an appointment type over local dates at a location",
    query=SlotQuery,
    response=list[SlotOut],
)
async def slots(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    query = parse_query(request, SlotQuery)
    location_id = int_param(request, "location_id")
    return reply(await appointment_reads.open_slots(request.app[SERVICES], actor, location_id, query))


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/appointments",
    summary="A location's appointments over local dates, for the day and week views (audited)",
    query=ScheduleQuery,
    response=list[AppointmentOut],
)
async def schedule(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    query = parse_query(request, ScheduleQuery)
    location_id = int_param(request, "location_id")
    return reply(await appointment_reads.location_schedule(request.app[SERVICES], actor, location_id, query))


@router.route(
    "GET",
    "/api/v1/contacts/{contact_id}/appointments",
    summary="A patient's upcoming appointments at the locations this staff member sees (audited)",
    response=list[AppointmentOut],
)
async def contact_appointments(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    contact_id = int_param(request, "contact_id")
    return reply(await appointment_reads.upcoming_for_contact(request.app[SERVICES], actor, contact_id))


@router.route(
    "POST",
    "/api/v1/conversations/{conversation_id}/appointments",
    summary="Book the conversation's patient; the booking appears in the thread",
    body=BookIn,
    response=AppointmentOut,
    status=201,
    errors=(409,),
)
async def book(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, BookIn)
    conversation_id = int_param(request, "conversation_id")
    return reply(await appointments.book(request.app[SERVICES], actor, conversation_id, body), status=201)


@router.route(
    "POST",
    "/api/v1/appointments/{appointment_id}/reschedule",
    summary="Move an upcoming appointment to another time (or provider here)",
    body=RescheduleIn,
    response=AppointmentOut,
    errors=(409,),
)
async def reschedule(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, RescheduleIn)
    appointment_id = int_param(request, "appointment_id")
    moved = await appointments.reschedule(request.app[SERVICES], actor, appointment_id, body)
    wake_sender(request.app)  # the old time may have been offered to the waitlist
    return reply(moved)


@router.route(
    "POST",
    "/api/v1/appointments/{appointment_id}/status",
    summary="Confirm, check in, complete, cancel or mark a no-show (only as the lifecycle allows)",
    body=StatusIn,
    response=AppointmentOut,
    errors=(409,),
)
async def set_status(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, StatusIn)
    appointment_id = int_param(request, "appointment_id")
    changed = await appointments.set_status(request.app[SERVICES], actor, appointment_id, body.status)
    wake_sender(request.app)  # a cancelled time may have been offered to the waitlist
    return reply(changed)


@router.route(
    "POST",
    "/api/v1/providers/{provider_id}/feed",
    summary="A new private ICS feed URL for a provider's calendar app; the old URL stops working (admins)",
    response=FeedOut,
    status=201,
)
async def rotate_feed(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    provider_id = int_param(request, "provider_id")
    return reply(await calendar_feed.rotate(request.app[SERVICES], actor, provider_id), status=201)


@router.route(
    "GET",
    "/api/v1/feeds/provider.ics",
    summary="A provider's appointments as an iCalendar feed (type, place and status; no patient names)",
    query=FeedQuery,
    auth=False,
    errors=(404,),
    binary_types=("text/calendar",),
)
async def provider_feed(request: web.Request) -> web.Response:
    query = parse_query(request, FeedQuery)
    remote = client_addr(request, request.app[SETTINGS])
    body = await calendar_feed.render(request.app[SERVICES], query.token, remote)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )


@router.route(
    "GET",
    "/api/v1/reminder-rules",
    summary="The practice's appointment reminder rules",
    response=list[ReminderRuleOut],
)
async def list_reminder_rules(request: web.Request) -> web.Response:
    return reply(await reminders.list_rules(request.app[SERVICES], await require_actor(request)))


@router.route(
    "POST",
    "/api/v1/reminder-rules",
    summary="Add a reminder rule: how long before, the text with placeholders, quiet hours (admins)",
    body=ReminderRuleIn,
    response=ReminderRuleOut,
    status=201,
)
async def create_reminder_rule(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ReminderRuleIn)
    return reply(await reminders.save_rule(request.app[SERVICES], actor, body), status=201)


@router.route(
    "PUT",
    "/api/v1/reminder-rules/{rule_id}",
    summary="Change or switch off a reminder rule (admins); reminders already sent stay sent",
    body=ReminderRuleIn,
    response=ReminderRuleOut,
)
async def put_reminder_rule(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ReminderRuleIn)
    rule_id = int_param(request, "rule_id")
    return reply(await reminders.save_rule(request.app[SERVICES], actor, body, rule_id))


@router.route(
    "POST",
    "/api/v1/reminder-rules/preview",
    summary="What a reminder template says, for one appointment or a made-up one, and its segments",
    body=PreviewIn,
    response=PreviewOut,
)
async def preview_reminder(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, PreviewIn)
    return reply(await reminders.preview(request.app[SERVICES], actor, body))


@router.route(
    "PUT",
    "/api/v1/providers/{provider_id}",
    summary="Rename a provider, change their locations, or retire them (admins)",
    body=ProviderUpdate,
    response=ProviderOut,
    errors=(409,),
)
async def put_provider(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, ProviderUpdate)
    provider_id = int_param(request, "provider_id")
    base = ProviderIn(name=body.name, location_ids=body.location_ids)
    return reply(
        await schedule_setup.update_provider(request.app[SERVICES], actor, provider_id, base, body.active)
    )


@router.route(
    "PUT",
    "/api/v1/appointment-types/{type_id}",
    summary="Change an appointment type, or retire it (admins)",
    body=AppointmentTypeUpdate,
    response=AppointmentTypeOut,
    errors=(409,),
)
async def put_type(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await parse_body(request, AppointmentTypeUpdate)
    type_id = int_param(request, "type_id")
    base = AppointmentTypeIn(**body.model_dump(exclude={"active"}))
    return reply(await schedule_setup.update_type(request.app[SERVICES], actor, type_id, base, body.active))


@router.route(
    "GET",
    "/api/v1/providers/{provider_id}/time-off",
    summary="A provider's time off still to come",
    response=list[TimeOffOut],
)
async def list_time_off(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    provider_id = int_param(request, "provider_id")
    return reply(await schedule_setup.list_time_off(request.app[SERVICES], actor, provider_id))


@router.route("DELETE", "/api/v1/time-off/{time_off_id}", summary="Remove time off (admins)", status=204)
async def delete_time_off(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await schedule_setup.remove_time_off(request.app[SERVICES], actor, int_param(request, "time_off_id"))
    return reply(None)


@router.route(
    "GET",
    "/api/v1/locations/{location_id}/holidays",
    summary="A location's holidays",
    response=list[HolidayOut],
)
async def list_holidays(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    location_id = int_param(request, "location_id")
    return reply(await schedule_setup.list_holidays(request.app[SERVICES], actor, location_id))


@router.route("DELETE", "/api/v1/holidays/{holiday_id}", summary="Remove a holiday (admins)", status=204)
async def delete_holiday(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    await schedule_setup.remove_holiday(request.app[SERVICES], actor, int_param(request, "holiday_id"))
    return reply(None)


@router.route(
    "POST",
    "/api/v1/items/{item_id}/handled",
    summary="Mark an alert about a reply to a reminder handled; its notifications clear for everyone",
    response=TimelineItemOut,
    errors=(404, 422),
)
async def mark_reply_handled(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(
        await reply_handled.mark_handled(request.app[SERVICES], actor, int_param(request, "item_id"))
    )
