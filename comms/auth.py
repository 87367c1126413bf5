"""Staff login, server-side sessions and their limits (idle timeout, absolute lifetime, rate limits)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from comms import audit
from comms.access import Actor
from comms.errors import RateLimited, Unauthenticated
from comms.models import LoginFailure, StaffLocation, StaffSession, StaffUser, utcnow
from comms.passwords import hash_password, needs_rehash, verify_password
from comms.services import Services
from routing.audience import Audience
from routing.hub import SESSION_ENDED

# Writing last_seen on every request would make every read a write; a minute of slack is harmless.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


def session_id_for(token: str) -> str:
    """Sessions are stored by the hash of their cookie, so a leaked table holds no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginResult:
    token: str
    csrf_token: str
    actor: Actor
    name: str
    email: str
    expires_at: dt.datetime


async def _locations_of(services: Services, user: StaffUser) -> frozenset[int] | None:
    if user.role == "admin":
        return None
    async with services.read() as session:
        rows = await session.scalars(
            select(StaffLocation.location_id).where(StaffLocation.user_id == user.id)
        )
        return frozenset(rows)


async def login(
    services: Services, email: str, password: str, remote_addr: str | None, user_agent: str | None
) -> LoginResult:
    """Check the password under per-account and per-address limits, then open a session."""
    limits = services.settings.login
    now = utcnow()
    since = now - dt.timedelta(minutes=limits.window_minutes)
    email = email.strip().lower()
    account_key, address_key = f"account:{email}", f"address:{remote_addr or '-'}"
    async with services.unit() as unit:
        s = unit.session
        await s.execute(delete(LoginFailure).where(LoginFailure.at < since))
        rows = await s.execute(
            select(LoginFailure.key, func.count())
            .where(LoginFailure.key.in_([account_key, address_key]), LoginFailure.at >= since)
            .group_by(LoginFailure.key)
        )
        counts: dict[str, int] = {key: count for key, count in rows}
    retry = limits.window_minutes * 60
    if counts.get(account_key, 0) >= limits.max_failures_per_account:
        raise RateLimited("too many failed logins for this account; try again later", retry_after=retry)
    if counts.get(address_key, 0) >= limits.max_failures_per_address:
        raise RateLimited("too many failed logins from this address; try again later", retry_after=retry)

    async with services.read() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        async with services.unit() as unit:
            unit.session.add_all(
                [LoginFailure(key=account_key, at=now), LoginFailure(key=address_key, at=now)]
            )
            audit.record(
                unit.session,
                None,
                "login_failed",
                "staff_user",
                user.id if user else "-",
                remote_addr=remote_addr,
            )
        raise Unauthenticated("wrong e-mail or password")

    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    sid = session_id_for(token)
    cfg = services.settings.sessions
    expires = now + dt.timedelta(hours=cfg.absolute_lifetime_hours)
    locations = await _locations_of(services, user)
    actor = Actor(user.id, user.practice_id, user.role, locations, sid, remote_addr)
    async with services.unit() as unit:
        s = unit.session
        s.add(
            StaffSession(
                id=sid,
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
                remote_addr=remote_addr,
                user_agent=(user_agent or "")[:300],
            )
        )
        await s.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
        if needs_rehash(user.password_hash):
            db_user = await s.get(StaffUser, user.id)
            if db_user is not None:
                db_user.password_hash = hash_password(password)
        audit.record(s, actor, "login", "staff_user", user.id)
    return LoginResult(token, csrf, actor, user.name, user.email, expires)


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    csrf_token: str
    name: str
    email: str


async def authenticate(services: Services, token: str, remote_addr: str | None) -> SessionInfo:
    """Resolve a cookie to its staff member, enforcing idle timeout and absolute lifetime."""
    if not token:
        raise Unauthenticated("not signed in")
    sid = session_id_for(token)
    now = utcnow()
    idle = dt.timedelta(minutes=services.settings.sessions.idle_timeout_minutes)
    async with services.read() as session:
        row = (
            await session.execute(
                select(StaffSession, StaffUser).join(StaffUser).where(StaffSession.id == sid)
            )
        ).first()
    if row is None:
        raise Unauthenticated("not signed in")
    staff_session, user = row
    if not user.active or staff_session.expires_at <= now or staff_session.last_seen_at + idle <= now:
        await end_session(services, sid, reason="expired")
        raise Unauthenticated("your session has ended; sign in again")
    if now - staff_session.last_seen_at >= TOUCH_INTERVAL:
        async with services.unit() as unit:
            db_session = await unit.session.get(StaffSession, sid)
            if db_session is not None:
                db_session.last_seen_at = now
    locations = await _locations_of(services, user)
    actor = Actor(user.id, user.practice_id, user.role, locations, sid, remote_addr)
    return SessionInfo(actor, staff_session.csrf_token, user.name, user.email)


async def session_alive(services: Services, session_id: str) -> bool:
    """For long-lived sockets: is the session still there and within its limits?"""
    now = utcnow()
    idle = dt.timedelta(minutes=services.settings.sessions.idle_timeout_minutes)
    async with services.read() as session:
        row = await session.get(StaffSession, session_id)
    return row is not None and row.expires_at > now and row.last_seen_at + idle > now


async def touch(services: Services, session_id: str) -> None:
    """Activity on a socket keeps its session from idling out, at most one write a minute."""
    now = utcnow()
    async with services.unit() as unit:
        row = await unit.session.get(StaffSession, session_id)
        if row is not None and now - row.last_seen_at >= TOUCH_INTERVAL:
            row.last_seen_at = now


async def end_session(
    services: Services, session_id: str, *, actor: Actor | None = None, reason: str = "logout"
) -> None:
    """Delete the session and close its sockets on every node."""
    async with services.unit() as unit:
        row = await unit.session.get(StaffSession, session_id)
        if row is None:
            return
        await unit.session.delete(row)
        audit.record(unit.session, actor, reason, "staff_session", row.user_id)
        unit.publish({"type": SESSION_ENDED, "reason": reason}, Audience.session(session_id))
