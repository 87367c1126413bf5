"""Time-driven changes to form requests: links that run out are marked expired (posted live), and
unfinished forms are reminded on forms.reminder_days, each reminder with a fresh link of its own, by
text or by e-mail as the form itself was sent.

Every node runs a sweeper. A reminder is claimed by one conditional UPDATE of the request's reminder
count, so when every node looks at once exactly one sends it; reminders stop at completion, expiry,
STOP (said in the thread) or the patient following an e-mail reminder's stop link.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select

from comms import audit
from comms.email_actions import queue_email
from comms.errors import InvalidRequest, OptedOut
from comms.form_limits import prune
from comms.form_models import OPEN_STATUSES, FormRequest
from comms.forms import add_link, form_url, set_status
from comms.logsafe import log_failure
from comms.messaging import queue_sms, write_unit
from comms.models import Conversation, Location, utcnow
from comms.reminder_claim import claim_reminder
from comms.services import Services
from comms.timeline import add_activity

log = logging.getLogger(__name__)
BATCH = 200


def due_count(created_at: dt.datetime, days: tuple[int, ...], now: dt.datetime) -> int:
    """How many reminders should have gone by now; after a pause (a node down) only the latest is sent."""
    return sum(1 for d in days if created_at + dt.timedelta(days=d) <= now)


def reminder_text(location: str, url: str) -> str:
    return f"{location}: a reminder to fill in your forms before your visit: {url}"


def reminder_email(location: str, url: str) -> str:
    """An e-mail reminder, with the link that stops them (as the patient may ask of any e-mail)."""
    return (
        f"{reminder_text(location, url)}\n\n"
        f"To get no more reminders about this form, open this link: {url}/stop"
    )


async def expire_due(services: Services, now: dt.datetime | None = None) -> list[int]:
    """Mark every open request whose time has run out; returns their ids."""
    now = now or utcnow()
    async with services.read() as s:
        due = list(
            await s.scalars(
                select(FormRequest.id)
                .where(FormRequest.status.in_(OPEN_STATUSES), FormRequest.expires_at <= now)
                .order_by(FormRequest.expires_at)
                .limit(BATCH)
            )
        )
    expired = []
    for request_id in due:
        async with write_unit(services) as unit:
            request = await unit.session.get(
                FormRequest, request_id, populate_existing=True, with_for_update=True
            )
            if request is not None and request.status in OPEN_STATUSES:
                await set_status(unit, request, "expired")
                expired.append(request_id)
    return expired


async def _remind_one(services: Services, request_id: int, sent: int, due: int, now: dt.datetime) -> bool:
    days = services.settings.forms.reminder_days
    async with write_unit(services) as unit:
        s = unit.session
        if not await claim_reminder(s, FormRequest, request_id, sent, due, OPEN_STATUSES, now):
            return False  # completed, expired, or another node sent this one
        request = await s.get(FormRequest, request_id, populate_existing=True)
        conversation = await s.get(Conversation, request.conversation_id) if request else None
        location = await s.get(Location, conversation.location_id) if conversation else None
        if request is None or conversation is None or location is None:
            return False
        try:
            url = form_url(services, add_link(s, request))
            meta = {"form_request_id": request.id, "followup": "reminder"}
            if request.channel == "email":  # the reminder goes the way the form went
                await queue_email(
                    services,
                    unit,
                    conversation,
                    reminder_email(location.name, url),
                    subject=f"{location.name}: a reminder about your forms",
                    author_id=None,
                    meta=meta,
                )
            else:
                await queue_sms(
                    unit, conversation, reminder_text(location.name, url), author_id=None, meta=meta
                )
            ok = True
        except (OptedOut, InvalidRequest) as exc:
            why = "the patient replied STOP" if isinstance(exc, OptedOut) else exc.message
            await add_activity(
                unit,
                conversation,
                f"Form reminder not sent: {why}.",
                {"action": "form_reminder_skipped", "form_request_id": request.id},
            )
            request.reminders_sent = len(days)  # STOP, no number or no address: no more for this request
            ok = False
        await set_status(unit, request, request.status)  # the card shows the reminder count
        audit.record(s, None, "remind" if ok else "remind_skipped", "form_request", request.id)
        return ok


async def remind_due(services: Services, now: dt.datetime | None = None) -> list[int]:
    """Send every reminder that has come due; returns the requests reminded by this call."""
    now = now or utcnow()
    days = services.settings.forms.reminder_days
    if not days:
        return []
    async with services.read() as s:
        candidates = list(
            (
                await s.execute(
                    select(FormRequest.id, FormRequest.reminders_sent, FormRequest.created_at)
                    .where(
                        FormRequest.status.in_(OPEN_STATUSES),
                        FormRequest.expires_at > now,
                        FormRequest.reminders_sent < len(days),
                        FormRequest.created_at <= now - dt.timedelta(days=days[0]),
                    )
                    .order_by(FormRequest.id)
                    .limit(BATCH)
                )
            ).all()
        )
    reminded = []
    for request_id, sent, created_at in candidates:
        due = due_count(created_at, days, now)
        if due > sent and await _remind_one(services, request_id, sent, due, now):
            reminded.append(request_id)
    return reminded


class FormSweeper:
    """One per node: looks every `forms.sweep_seconds`."""

    def __init__(self, services: Services, on_queued: Callable[[], None] = lambda: None) -> None:
        self.services = services
        self.on_queued = on_queued

    async def sweep(self) -> None:
        await expire_due(self.services)
        await prune(self.services)
        if await remind_due(self.services):
            self.on_queued()  # the sender looks now rather than at its next poll

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_failure(log, "form sweep failed; retrying", exc=exc)
            await asyncio.sleep(self.services.settings.forms.sweep_seconds)
