"""The call pop's next appointment: what a ringing softphone shows of the caller's next visit."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from comms.models import Location, utcnow
from comms.schedule_models import Appointment, AppointmentType, Provider
from comms.slots import local_text
from schemas.voice import Caller

PENDING = ("scheduled", "confirmed", "checked_in")


async def next_appointment(session: AsyncSession, caller: Caller) -> None:
    """Call pop extra: the caller's next appointment at the locations the ringing staff may see (the
    locations of the conversations the pop already lists)."""
    locations = {int(str(c["location_id"])) for c in caller.conversations if "location_id" in c}
    if not locations:
        return
    row = (
        await session.execute(
            select(Appointment, Provider, AppointmentType, Location)
            .join(Provider, Provider.id == Appointment.provider_id)
            .join(AppointmentType, AppointmentType.id == Appointment.type_id)
            .join(Location, Location.id == Appointment.location_id)
            .where(
                Appointment.contact_id == caller.contact_id,
                Appointment.location_id.in_(locations),
                Appointment.status.in_(PENDING),
                Appointment.ends_at > utcnow(),
            )
            .order_by(Appointment.starts_at)
            .limit(1)
        )
    ).first()
    if row is None:
        return
    a, provider, kind, location = row
    caller.next_appointment = {
        "id": a.id,
        "starts_at": a.starts_at.isoformat(),
        "local_start": a.starts_at.astimezone(ZoneInfo(location.timezone)).isoformat(),
        "label": f"{kind.name} with {provider.name}, {local_text(a.starts_at, ZoneInfo(location.timezone))}",
        "provider": provider.name,
        "type": kind.name,
        "location": location.name,
        "status": a.status,
    }
