"""What kind of line a number is, as the carrier's lookup said, kept so each number is looked up rarely."""

from __future__ import annotations

import datetime as dt

from comms.models import utcnow
from comms.services import Services
from comms.voice_models import PhoneLineType

FRESH_FOR = dt.timedelta(days=90)  # numbers get ported between mobile and landline, but rarely


async def cached(services: Services, e164: str) -> str | None:
    """The remembered line type, or None when unknown or too old to trust."""
    async with services.read() as session:
        row = await session.get(PhoneLineType, e164)
        if row is None or utcnow() - row.checked_at > FRESH_FOR:
            return None
        return row.line_type


async def remember(services: Services, e164: str, line_type: str) -> None:
    async with services.unit() as unit:
        row = await unit.session.get(PhoneLineType, e164)
        if row is None:
            unit.session.add(PhoneLineType(e164=e164, line_type=line_type, checked_at=utcnow()))
        else:
            row.line_type, row.checked_at = line_type, utcnow()
