"""Private ICS feeds: each provider's appointments for a calendar app, behind a secret token.

A calendar app cannot sign in, so the feed's URL carries a random token (in the query string, which
the access log leaves out); only its SHA-256 is stored. Minimum necessary: an event says what kind of
visit, where and its status, never who the patient is. Every fetch is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from icalendar import Calendar, Event
from sqlalchemy import delete, select

from comms import audit
from comms.access import Actor
from comms.errors import NotFound
from comms.models import Location, utcnow
from comms.schedule_models import Appointment, AppointmentType, Provider, ProviderFeed
from comms.schedule_setup import provider_of
from comms.services import Services
from schemas.schedule import FeedOut

PATH = "/api/v1/feeds/provider.ics"
PAST, AHEAD = dt.timedelta(days=30), dt.timedelta(days=180)
# RFC 5545 STATUS for a VEVENT; cancelled visits stay in the feed so calendar apps drop them.
ICS_STATUS = {"scheduled": "TENTATIVE", "cancelled": "CANCELLED"}
WORDS = {"checked_in": "checked in", "no_show": "no-show"}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate(services: Services, actor: Actor, provider_id: int) -> FeedOut:
    """A new feed URL for a provider (admins); the old one stops working at once."""
    actor.require_admin()
    token = secrets.token_urlsafe(32)
    async with services.unit() as unit:
        s = unit.session
        await provider_of(s, actor, provider_id)
        await s.execute(delete(ProviderFeed).where(ProviderFeed.provider_id == provider_id))
        s.add(ProviderFeed(provider_id=provider_id, token_sha256=_digest(token)))
        audit.record(s, actor, "issue", "provider_feed", provider_id)
    base = services.settings.server.public_base_url.rstrip("/")
    return FeedOut(provider_id=provider_id, url=f"{base}{PATH}?token={token}")


async def render(services: Services, token: str, remote_addr: str | None) -> bytes:
    """The feed's calendar for a token; NotFound for any token that is not a provider's current one."""
    async with services.unit() as unit:
        s = unit.session
        feed = await s.scalar(select(ProviderFeed).where(ProviderFeed.token_sha256 == _digest(token)))
        if feed is None:
            raise NotFound("no such feed")
        provider = await s.get(Provider, feed.provider_id)
        if provider is None:
            raise NotFound("no such feed")
        now = utcnow()
        rows = (
            await s.execute(
                select(Appointment, AppointmentType.name, Location.name)
                .join(AppointmentType, AppointmentType.id == Appointment.type_id)
                .join(Location, Location.id == Appointment.location_id)
                .where(
                    Appointment.provider_id == provider.id,
                    Appointment.starts_at < now + AHEAD,
                    Appointment.ends_at > now - PAST,
                )
                .order_by(Appointment.starts_at)
            )
        ).all()
        audit.record(
            s, None, "export", "provider_feed", provider.id, {"events": len(rows)}, remote_addr=remote_addr
        )
    cal = Calendar()
    cal.add("prodid", "-//Frontdesk//Provider schedule//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{provider.name} (Frontdesk)")
    for a, type_name, location_name in rows:
        event = Event()
        event.add("uid", f"appointment-{a.id}@frontdesk")
        event.add("dtstamp", a.updated_at)
        event.add("last-modified", a.updated_at)
        event.add("dtstart", a.starts_at)
        event.add("dtend", a.ends_at)
        event.add("summary", type_name)
        event.add("location", location_name)
        event.add("status", ICS_STATUS.get(a.status, "CONFIRMED"))
        event.add("description", f"Status: {WORDS.get(a.status, a.status)}")
        cal.add_component(event)
    return bytes(cal.to_ical())
