"""Setting up the practice itself: locations, their numbers, staff accounts."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from comms import audit
from comms.access import Actor
from comms.errors import Conflict, InvalidRequest
from comms.models import Location, LocationEmail, LocationNumber, Practice, StaffLocation, StaffUser
from comms.passwords import hash_password
from comms.phones import to_e164
from comms.services import Services

ROLES = ("admin", "staff")


async def ensure_practice(services: Services, name: str) -> int:
    """The one practice this server runs for; created on first use."""
    async with services.unit() as unit:
        existing = await unit.session.scalar(select(Practice).order_by(Practice.id).limit(1))
        if existing is not None:
            return existing.id
        practice = Practice(name=name)
        unit.session.add(practice)
        await unit.session.flush()
        return practice.id


async def add_location(
    services: Services,
    practice_id: int,
    name: str,
    timezone: str,
    numbers: Iterable[str] = (),
    emails: Iterable[str] = (),
) -> int:
    """A location with its time zone (validated against the tz database), numbers and e-mail addresses."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"unknown time zone {timezone!r}") from None
    async with services.unit() as unit:
        location = Location(practice_id=practice_id, name=name, timezone=timezone)
        unit.session.add(location)
        await unit.session.flush()
        for raw in numbers:
            unit.session.add(LocationNumber(location_id=location.id, e164=to_e164(raw)))
        for address in emails:
            if "@" not in address:
                raise InvalidRequest("a location e-mail address needs an @")
            unit.session.add(LocationEmail(location_id=location.id, address=address.strip().lower()))
        return location.id


async def add_staff(
    services: Services,
    practice_id: int,
    email: str,
    name: str,
    password: str,
    role: str = "staff",
    location_ids: Iterable[int] = (),
    actor: Actor | None = None,
) -> int:
    """One account per person (HIPAA unique user identification); e-mail is the login."""
    email = email.strip().lower()
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 320:
        raise InvalidRequest("e-mail address is not valid")
    password_hash = hash_password(password)
    async with services.unit() as unit:
        s = unit.session
        if await s.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
            raise Conflict(f"a staff account for {email} already exists")
        user = StaffUser(
            practice_id=practice_id,
            email=email,
            name=name.strip() or email,
            password_hash=password_hash,
            role=role,
        )
        s.add(user)
        await s.flush()
        wanted = set(location_ids)
        known = set(await s.scalars(select(Location.id).where(Location.practice_id == practice_id)))
        if wanted - known:
            raise InvalidRequest(f"unknown location ids: {sorted(wanted - known)}")
        s.add_all(StaffLocation(user_id=user.id, location_id=loc) for loc in sorted(wanted))
        audit.record(s, actor, "create", "staff_user", user.id, {"role": role})
        return user.id
