"""Rate limit for the patient's waitlist links (`/w/<token>`): each request is recorded in the audit log
with its address, and a client past the configured count in the window is refused (429) until its
oldest counted request leaves the window. A client is counted as the form limits count it
(comms/client_key.py: an IPv6 client by its /64, which may hand out a new address per request); its key
is the entry's record id, so the audit keeps the exact address and the count reads the record index.
Counting and recording share one transaction, serialized per client on PostgreSQL, so parallel
requests from one client cannot all slip under the limit; a refused request is rolled back and does
not extend the wait."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from sqlalchemy import func, select

from comms.client_key import client_key
from comms.errors import RateLimited
from comms.messaging import write_unit
from comms.models import AuditEntry, utcnow
from comms.services import Services

ACTION, RECORD = "open_link", "waitlist_link"
REFUSED = (
    "Too many tries from this connection. Please wait a few minutes and tap the link again, "
    "or call the office."
)


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"waitlist_link:{key}".encode()).digest()[:8], "big", signed=True)


async def admit(
    services: Services, remote_addr: str | None, method: str, now: dt.datetime | None = None
) -> None:
    """Record one request to a waitlist link from this client, or raise RateLimited past the limit."""
    now = now or utcnow()
    limits = services.settings.waitlist
    window = dt.timedelta(minutes=limits.link_window_minutes)
    key = client_key(remote_addr)
    async with write_unit(services) as unit:
        s = unit.session
        if not services.settings.database.is_sqlite:
            await s.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))
        # As audit.record writes it, but at `now`: the window is then testable with a controlled clock.
        s.add(
            AuditEntry(
                at=now,
                action=ACTION,
                record_type=RECORD,
                record_id=key,
                remote_addr=remote_addr or "-",
                detail={"method": method},
            )
        )
        await s.flush()
        count, oldest = (
            await s.execute(
                select(func.count(), func.min(AuditEntry.at)).where(
                    AuditEntry.action == ACTION,
                    AuditEntry.record_type == RECORD,
                    AuditEntry.record_id == key,
                    AuditEntry.at >= now - window,
                )
            )
        ).one()
        if count > limits.link_requests_per_address:
            wait = (oldest + window - now).total_seconds() if oldest else window.total_seconds()
            raise RateLimited(REFUSED, retry_after=max(1, math.ceil(wait)))
