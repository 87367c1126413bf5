"""Appointment reminders: the practice's rules, a preview, and the runner every node runs.

A reminder is sent by one transaction that writes its `appointment_reminders` row (unique per
appointment and rule) and queues the text through the outbox (which delivers it, once). Two nodes
that pick the same reminder race on that unique key and one of them backs off; a node that was down
when a reminder came due sends it on its next pass, as long as the visit is still to come. Numbers
that texted STOP get nothing, nor do patients without an address for the rule's channel: the reminder
is recorded as skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit
from comms.access import Actor
from comms.email_actions import queue_email
from comms.errors import InvalidRequest, NotFound, OptedOut
from comms.logsafe import log_failure
from comms.messaging import queue_sms, write_unit
from comms.models import Contact, Conversation, Location, Practice, utcnow
from comms.reminder_plan import due_at, render, values
from comms.schedule_models import (
    Appointment,
    AppointmentReminder,
    AppointmentType,
    Provider,
    ReminderRule,
)
from comms.segments import count_segments
from comms.services import Services
from schemas.schedule import PreviewIn, PreviewOut, ReminderRuleIn, ReminderRuleOut

log = logging.getLogger(__name__)
POLL_SECONDS = 30.0
REMINDED = ("scheduled", "confirmed")  # a visit in any other state gets no reminder
SLACK = dt.timedelta(days=2)  # quiet hours can move a reminder earlier by up to a day


def rule_out(rule: ReminderRule) -> ReminderRuleOut:
    return ReminderRuleOut(
        id=rule.id,
        minutes_before=rule.minutes_before,
        channel="email" if rule.channel == "email" else "sms",
        template=rule.template,
        quiet_from=rule.quiet_from,
        quiet_until=rule.quiet_until,
        active=rule.active,
    )


async def list_rules(services: Services, actor: Actor) -> list[ReminderRuleOut]:
    async with services.read() as s:
        rows = await s.scalars(
            select(ReminderRule)
            .where(ReminderRule.practice_id == actor.practice_id)
            .order_by(ReminderRule.minutes_before.desc(), ReminderRule.id)
        )
        return [rule_out(r) for r in rows]


async def save_rule(
    services: Services, actor: Actor, body: ReminderRuleIn, rule_id: int | None = None
) -> ReminderRuleOut:
    """Add a rule, or change one (admins); a change applies to reminders not yet sent."""
    actor.require_admin()
    async with services.unit() as unit:
        s = unit.session
        if rule_id is None:
            rule = ReminderRule(practice_id=actor.practice_id)
            s.add(rule)
        else:
            found = await s.get(ReminderRule, rule_id)
            if found is None or found.practice_id != actor.practice_id:
                raise NotFound("no such reminder rule")
            rule = found
        rule.minutes_before, rule.channel, rule.template = body.minutes_before, body.channel, body.template
        rule.quiet_from, rule.quiet_until, rule.active = body.quiet_from, body.quiet_until, body.active
        await s.flush()
        audit.record(s, actor, "create" if rule_id is None else "update", "reminder_rule", rule.id)
        return rule_out(rule)


async def _filled(s: AsyncSession, appointment: Appointment) -> tuple[dict[str, str], Location]:
    """The placeholders' values for one appointment."""
    location = await s.get(Location, appointment.location_id)
    contact = await s.get(Contact, appointment.contact_id)
    provider = await s.get(Provider, appointment.provider_id)
    kind = await s.get(AppointmentType, appointment.type_id)
    practice = await s.get(Practice, location.practice_id) if location else None
    if location is None or contact is None or provider is None or kind is None or practice is None:
        raise NotFound("no such appointment")
    tz = ZoneInfo(location.timezone)
    filled = values(
        contact.first_name, practice.name, location.name, provider.name, kind.name, appointment.starts_at, tz
    )
    return filled, location


async def preview(services: Services, actor: Actor, body: PreviewIn) -> PreviewOut:
    """The text a template gives for one of the actor's appointments, or for a made-up one."""
    async with services.unit() as unit:
        s = unit.session
        if body.appointment_id is not None:
            a = await s.get(Appointment, body.appointment_id)
            if a is None:
                raise NotFound("no such appointment")
            actor.require_location(a.location_id)
            filled, _ = await _filled(s, a)
            audit.record(s, actor, "view", "appointment", a.id, {"preview": True})
        else:
            practice = await s.get(Practice, actor.practice_id)
            location = await s.scalar(
                select(Location).where(Location.practice_id == actor.practice_id).order_by(Location.id)
            )
            tz = ZoneInfo(location.timezone if location else "UTC")
            start = dt.datetime.combine(dt.date.today() + dt.timedelta(days=2), dt.time(9, 30), tzinfo=tz)
            filled = values(
                "Pat",
                practice.name if practice else "",
                location.name if location else "",
                "Dr Example",
                "Cleaning",
                start.astimezone(dt.UTC),
                tz,
            )
    text = render(body.template, filled)
    return PreviewOut(text=text, segments=count_segments(text).segments)


class _Taken(Exception):
    """Another node recorded this reminder first."""


async def candidates(services: Services, now: dt.datetime) -> list[tuple[int, int]]:
    """(appointment, rule) pairs whose reminder is due now and was never sent or skipped."""
    async with services.read() as s:
        longest = await s.scalar(select(func.max(ReminderRule.minutes_before)).where(ReminderRule.active))
        if longest is None:
            return []
        horizon = now + dt.timedelta(minutes=int(longest)) + SLACK
        rows = await s.execute(
            select(Appointment.id, Appointment.starts_at, Location.timezone, ReminderRule)
            .join(Location, Location.id == Appointment.location_id)
            .join(ReminderRule, and_(ReminderRule.practice_id == Location.practice_id, ReminderRule.active))
            .outerjoin(
                AppointmentReminder,
                and_(
                    AppointmentReminder.appointment_id == Appointment.id,
                    AppointmentReminder.rule_id == ReminderRule.id,
                ),
            )
            .where(
                AppointmentReminder.id.is_(None),
                Appointment.status.in_(REMINDED),
                Appointment.starts_at > now,
                Appointment.starts_at <= horizon,
            )
            .order_by(Appointment.starts_at)
        )
        due: list[tuple[int, int]] = []
        for appointment_id, starts_at, timezone, rule in rows.all():
            if due_at(starts_at, rule.minutes_before, ZoneInfo(timezone), _quiet(rule)) <= now:
                due.append((appointment_id, rule.id))
        return due


def _quiet(rule: ReminderRule) -> tuple[dt.time, dt.time] | None:
    if rule.quiet_from is None or rule.quiet_until is None:
        return None
    return rule.quiet_from, rule.quiet_until


async def send_one(services: Services, appointment_id: int, rule_id: int, now: dt.datetime) -> str | None:
    """Send (or skip, with the reason) one due reminder; None when it is not due or another node has it."""
    try:
        async with write_unit(services) as unit:
            s = unit.session
            a = await s.get(Appointment, appointment_id)
            rule = await s.get(ReminderRule, rule_id)
            if a is None or rule is None or not rule.active or a.status not in REMINDED or a.starts_at <= now:
                return None
            taken = await s.scalar(
                select(AppointmentReminder.id).where(
                    AppointmentReminder.appointment_id == a.id, AppointmentReminder.rule_id == rule.id
                )
            )
            if taken is not None:
                return None
            filled, location = await _filled(s, a)
            due = due_at(a.starts_at, rule.minutes_before, ZoneInfo(location.timezone), _quiet(rule))
            if due > now:
                return None
            row = AppointmentReminder(appointment_id=a.id, rule_id=rule.id, due_at=due, state="queued")
            s.add(row)
            try:
                await s.flush()
            except IntegrityError:
                raise _Taken from None
            if a.created_at > due:  # booked after its moment (a 7-day reminder for tomorrow's visit)
                row.state, row.reason = "skipped", "booked_later"
            else:
                conversation = await s.get(Conversation, a.conversation_id)
                if conversation is None:
                    raise NotFound("no such conversation")
                text = render(rule.template, filled)
                try:
                    if rule.channel == "email":
                        subject = f"Reminder: {filled['type']} on {filled['date']} at {filled['time']}"
                        email_meta: dict[str, object] = {
                            "reminder": {"appointment_id": a.id, "rule_id": rule.id}
                        }
                        item = await queue_email(
                            services,
                            unit,
                            conversation,
                            text,
                            subject=subject,
                            author_id=None,
                            meta=email_meta,
                        )
                    else:
                        meta: dict[str, object] = {"reminder": {"appointment_id": a.id, "rule_id": rule.id}}
                        item = await queue_sms(unit, conversation, text, author_id=None, meta=meta)
                    row.item_id = item.id
                except OptedOut:
                    row.state, row.reason = "skipped", "opted_out"
                except InvalidRequest:  # no mobile number, no e-mail address, no texting number here
                    row.state, row.reason = (
                        "skipped",
                        f"cannot_{'email' if rule.channel == 'email' else 'text'}",
                    )
            await s.flush()
            audit.record(s, None, "send", "appointment_reminder", row.id, {"state": row.state})
            return row.state if row.reason is None else f"{row.state}:{row.reason}"
    except _Taken:
        return None


async def run_once(services: Services, now: dt.datetime | None = None) -> int:
    """Send every reminder that is due; returns how many this pass recorded."""
    now = now or utcnow()
    done = 0
    for appointment_id, rule_id in await candidates(services, now):
        if await send_one(services, appointment_id, rule_id, now) is not None:
            done += 1
    return done


class ReminderRunner:
    """Every node runs one: a pass every POLL_SECONDS; a failed pass is logged and the next one retries."""

    def __init__(self, services: Services, poll: float = POLL_SECONDS) -> None:
        self.services, self.poll = services, poll

    async def run_forever(self) -> None:
        while True:
            try:
                await run_once(self.services)
            except Exception as exc:  # the runner must outlive a failed pass (database restarting...)
                log_failure(log, "reminder pass failed", exc=exc)
            await asyncio.sleep(self.poll)
