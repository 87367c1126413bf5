"""Sessions are looked up in one read per burst, not one read per request or socket handshake.

After a network blip every staff socket of a node reconnects at once. Each handshake read its session,
its staff member and their locations on its own: thousands of reads queued on the store's few pooled
connections, each waiting behind the others' round trips, which held 3,000 reconnects for 10-15 s
while the server sat mostly idle. Lookups that arrive together now share two statements (the same
batching as `group_commit`); one alone is read at once, as before. A batch is read after every lookup
in it was asked for, so a session written before the lookup is always seen (no cache, nothing stale).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from comms.group_commit import PerStore
from comms.models import StaffLocation, StaffSession, StaffUser
from comms.services import Services

LOOKUP_MOST = 500  # session ids per statement (SQLite's bound-parameter limit is far above it)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What authenticating a request needs from a session row and its staff member."""

    session_id: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    user_id: int
    practice_id: int
    role: str
    active: bool
    name: str
    email: str
    locations: frozenset[int] | None  # None: an admin, who sees every location


_lookups: PerStore[str, SessionRecord | None] = PerStore(LOOKUP_MOST)


async def find(services: Services, session_id: str) -> SessionRecord | None:
    """The session with this id and its staff member, or None; read with whatever else is asked meanwhile."""

    async def read(session_ids: list[str]) -> list[SessionRecord | Exception | None]:
        found = await _read(services, session_ids)
        return [found.get(sid) for sid in session_ids]

    return await _lookups.get(services.sessionmaker, read).submit(session_id)


async def _read(services: Services, session_ids: list[str]) -> dict[str, SessionRecord]:
    wanted = sorted(set(session_ids))
    async with services.read() as session:
        rows = (
            await session.execute(
                select(
                    StaffSession.id,
                    StaffSession.csrf_token,
                    StaffSession.created_at,
                    StaffSession.last_seen_at,
                    StaffSession.expires_at,
                    StaffUser.id.label("user_id"),
                    StaffUser.practice_id,
                    StaffUser.role,
                    StaffUser.active,
                    StaffUser.name,
                    StaffUser.email,
                )
                .join(StaffUser, StaffUser.id == StaffSession.user_id)
                .where(StaffSession.id.in_(wanted))
            )
        ).all()
        staff = sorted({row.user_id for row in rows if row.role != "admin"})
        places: defaultdict[int, set[int]] = defaultdict(set)
        if staff:
            pairs = await session.execute(
                select(StaffLocation.user_id, StaffLocation.location_id).where(
                    StaffLocation.user_id.in_(staff)
                )
            )
            for user_id, location_id in pairs:
                places[user_id].add(location_id)
    return {
        row.id: SessionRecord(
            *row, locations=None if row.role == "admin" else frozenset(places.get(row.user_id, ()))
        )
        for row in rows
    }
