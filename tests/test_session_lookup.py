"""Session lookups that arrive together (a reconnect storm) share one read, and each gets its own answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update

from comms import auth
from comms.errors import Unauthenticated
from comms.models import StaffSession, StaffUser, utcnow
from comms.services import Services
from tests.helpers import Practice, seed_practice


async def _session_for(services: Services, email: str, **times: dt.datetime) -> str:
    """A session row for this staff member; its token."""
    now = utcnow()
    token = secrets.token_urlsafe(16)
    async with services.unit() as unit:
        user_id = await unit.session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        unit.session.add(
            StaffSession(
                id=auth.session_id_for(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(8),
                created_at=times.get("created_at", now),
                last_seen_at=times.get("last_seen_at", now),
                expires_at=times.get("expires_at", now + dt.timedelta(hours=8)),
            )
        )
    return token


def _count_session_reads(services: Services) -> tuple[list[str], Any]:
    reads: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.split()).upper()
        if text.startswith("SELECT") and "FROM STAFF_SESSIONS JOIN STAFF_USERS" in text:
            reads.append(text)

    return reads, seen


async def test_a_burst_of_handshakes_is_one_read_with_each_answer_its_own(services: Services) -> None:
    practice: Practice = await seed_practice(services)
    now = utcnow()
    admin = [await _session_for(services, practice.admin) for _ in range(5)]
    north = [await _session_for(services, practice.staff_a) for _ in range(20)]
    south = [await _session_for(services, practice.staff_b) for _ in range(10)]
    expired = await _session_for(services, practice.staff_a, expires_at=now - dt.timedelta(minutes=1))
    unknown = secrets.token_urlsafe(16)
    tokens = [*admin, *north, *south, expired, unknown]

    reads, seen = _count_session_reads(services)
    engine = services.sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        answers = await asyncio.gather(
            *(auth.authenticate(services, t, "127.0.0.1") for t in tokens), return_exceptions=True
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    # One SELECT for all 37 handshakes (one each before); locations come in one more statement.
    assert len(reads) == 1, reads
    by_token = dict(zip(tokens, answers, strict=True))
    for token in admin:
        info = by_token[token]
        assert isinstance(info, auth.SessionInfo) and info.actor.role == "admin"
        assert info.actor.locations is None and info.email == practice.admin
    for token in north:
        info = by_token[token]
        assert isinstance(info, auth.SessionInfo) and info.actor.locations == {practice.loc_a}
    for token in south:
        info = by_token[token]
        assert isinstance(info, auth.SessionInfo) and info.actor.locations == {practice.loc_b}
    csrf = {by_token[t].csrf_token for t in north if isinstance(by_token[t], auth.SessionInfo)}
    assert len(csrf) == len(north)  # each session's own token, not a neighbour's in the batch
    assert isinstance(by_token[expired], Unauthenticated)
    assert isinstance(by_token[unknown], Unauthenticated)
    async with services.read() as s:  # the expired one is ended, as a lone lookup would do
        assert await s.get(StaffSession, auth.session_id_for(expired)) is None


async def test_nothing_is_cached_a_session_ended_or_changed_is_seen_at_once(services: Services) -> None:
    practice = await seed_practice(services)
    token = await _session_for(services, practice.staff_a)
    info = await auth.authenticate(services, token, None)
    assert info.actor.locations == {practice.loc_a}

    async with services.unit() as unit:  # deactivated: the very next lookup refuses
        await unit.session.execute(
            update(StaffUser).where(StaffUser.email == practice.staff_a).values(active=False)
        )
    with pytest.raises(Unauthenticated):
        await auth.authenticate(services, token, None)

    other = await _session_for(services, practice.staff_b)
    await auth.authenticate(services, other, None)
    async with services.unit() as unit:  # signed out elsewhere (another node deleted the row)
        await unit.session.execute(delete(StaffSession).where(StaffSession.id == auth.session_id_for(other)))
    with pytest.raises(Unauthenticated):
        await auth.authenticate(services, other, None)
