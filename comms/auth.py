"""Staff login, server-side sessions and their limits (idle timeout, absolute lifetime, rate limits)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from comms import audit, session_lookup, session_touch
from comms.access import Actor
from comms.client_key import client_key
from comms.errors import RateLimited, Unauthenticated
from comms.models import LoginFailure, StaffLocation, StaffSession, StaffUser, utcnow
from comms.passwords import hash_password, needs_rehash, verify_password
from comms.services import Services
from comms.session_touch import TOUCH_INTERVAL
from routing.audience import Audience
from routing.hub import SESSION_ENDED

# Writing last_seen on every request would make every read a write; a minute of slack is harmless.


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


async def _locations_of(session: AsyncSession, user: StaffUser) -> frozenset[int] | None:
    if user.role == "admin":
        return None
    rows = await session.scalars(select(StaffLocation.location_id).where(StaffLocation.user_id == user.id))
    return frozenset(rows)


def _lock_id(key: str) -> int:
    """A stable signed 64-bit id for PostgreSQL's advisory locks, one per rate-limit key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


_PRUNE_LOCK = _lock_id("login_failures:prune")


async def _reserve_attempt(services: Services, account_key: str, address_key: str, now: dt.datetime) -> int:
    """Count this attempt as a failure before the password is checked, atomically with the limit check.

    Checking and recording in one transaction, serialized per key, is what stops parallel guesses
    (from one node or many) from all passing a check that none of them has yet recorded. PostgreSQL
    serializes on advisory locks taken in a fixed order; SQLite lets one writer in at a time, and the
    first statement here is a write, so the count that follows sees every earlier attempt.
    Returns the id of the address row, which a successful login takes back.
    """
    limits = services.settings.login
    since = now - dt.timedelta(minutes=limits.window_minutes)
    retry = limits.window_minutes * 60
    async with services.unit() as unit:
        s = unit.session
        if not services.settings.database.is_sqlite:
            for lock in sorted({_lock_id(account_key), _lock_id(address_key)}):
                await s.execute(select(func.pg_advisory_xact_lock(lock)))
        address_row = LoginFailure(key=address_key, at=now)
        s.add_all([LoginFailure(key=account_key, at=now), address_row])
        await s.flush()
        rows = await s.execute(
            select(LoginFailure.key, func.count())
            .where(LoginFailure.key.in_([account_key, address_key]), LoginFailure.at >= since)
            .group_by(LoginFailure.key)
        )
        counts: dict[str, int] = {key: count for key, count in rows}
        # The counts include this attempt. Raising rolls it back: a refused try does not extend the lock-out.
        if counts.get(account_key, 0) > limits.max_failures_per_account:
            raise RateLimited("too many failed logins for this account; try again later", retry_after=retry)
        if counts.get(address_key, 0) > limits.max_failures_per_address:
            raise RateLimited("too many failed logins from this address; try again later", retry_after=retry)
        return address_row.id


async def _prune_failures(services: Services, now: dt.datetime) -> None:
    """Forget failures well past the window; one node at a time, and never rows a login still counts."""
    cutoff = now - dt.timedelta(minutes=2 * services.settings.login.window_minutes)
    async with services.unit() as unit:
        s = unit.session
        if not services.settings.database.is_sqlite:
            if not await s.scalar(select(func.pg_try_advisory_xact_lock(_PRUNE_LOCK))):
                return
        await s.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))


async def login(
    services: Services, email: str, password: str, remote_addr: str | None, user_agent: str | None
) -> LoginResult:
    """Check the password under per-account and per-address limits, then open a session."""
    now = utcnow()
    email = email.strip().lower()
    # An IPv6 client counts by its /64, which it may walk through one address per guess.
    account_key, address_key = f"account:{email}", f"address:{client_key(remote_addr)}"
    address_row_id = await _reserve_attempt(services, account_key, address_key, now)

    async with services.read() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    # argon2 costs tens of milliseconds of CPU: off the event loop, so other requests keep flowing.
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        async with services.unit() as unit:
            audit.record(
                unit.session,
                None,
                "login_failed",
                "staff_user",
                user.id if user else "-",
                remote_addr=remote_addr,
            )
        await _prune_failures(services, now)
        raise Unauthenticated("wrong e-mail or password")

    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    sid = session_id_for(token)
    cfg = services.settings.sessions
    expires = now + dt.timedelta(hours=cfg.absolute_lifetime_hours)
    async with services.unit() as unit:
        s = unit.session
        actor = Actor(user.id, user.practice_id, user.role, await _locations_of(s, user), sid, remote_addr)
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
        # Success clears the account's recent failures and takes back this attempt's address mark, but
        # not the address's earlier failures: one good password must not reset a guesser's budget.
        # (Only rows inside the window: older ones are the pruner's, so the two never lock the same rows.)
        since = now - dt.timedelta(minutes=services.settings.login.window_minutes)
        await s.execute(delete(LoginFailure).where(LoginFailure.key == account_key, LoginFailure.at >= since))
        await s.execute(delete(LoginFailure).where(LoginFailure.id == address_row_id))
        if needs_rehash(user.password_hash):
            db_user = await s.get(StaffUser, user.id)
            if db_user is not None:
                db_user.password_hash = hash_password(password)
        audit.record(s, actor, "login", "staff_user", user.id)
    return LoginResult(token, csrf, actor, user.name, user.email, expires)


def _within_limits(
    services: Services,
    created_at: dt.datetime,
    last_seen_at: dt.datetime,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> bool:
    """Idle timeout, and an absolute lifetime counted from sign-in that activity never extends.

    The lifetime is checked against the configured value as well as the stored expiry, so shortening
    it in the settings also ends sessions opened before the change.
    """
    cfg = services.settings.sessions
    idle = dt.timedelta(minutes=cfg.idle_timeout_minutes)
    lifetime = dt.timedelta(hours=cfg.absolute_lifetime_hours)
    return expires_at > now and created_at + lifetime > now and last_seen_at + idle > now


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
    found = await session_lookup.find(services, sid)
    if found is None:
        raise Unauthenticated("not signed in")
    if not found.active or not _within_limits(
        services, found.created_at, found.last_seen_at, found.expires_at, now
    ):
        await end_session(services, sid, reason="expired")
        raise Unauthenticated("your session has ended; sign in again")
    if now - found.last_seen_at >= TOUCH_INTERVAL:
        await session_touch.mark_seen(services, sid)
    actor = Actor(found.user_id, found.practice_id, found.role, found.locations, sid, remote_addr)
    return SessionInfo(actor, found.csrf_token, found.name, found.email)


ALIVE_CHUNK = 500  # session ids per statement (SQLite's bound-parameter limit is far above it)


async def sessions_alive(services: Services, session_ids: Iterable[str]) -> set[str]:
    """For long-lived sockets: which of these sessions are still there and within their limits?"""
    wanted = sorted(set(session_ids))
    now = utcnow()
    alive: set[str] = set()
    async with services.read() as session:
        for start in range(0, len(wanted), ALIVE_CHUNK):
            rows = await session.scalars(
                select(StaffSession).where(StaffSession.id.in_(wanted[start : start + ALIVE_CHUNK]))
            )
            alive.update(
                row.id
                for row in rows
                if _within_limits(services, row.created_at, row.last_seen_at, row.expires_at, now)
            )
    return alive


async def touch(services: Services, session_id: str) -> None:
    """Activity on a socket keeps its session from idling out, at most one write a minute."""
    await session_touch.mark_seen(services, session_id)


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


async def end_all_sessions(services: Services, actor: Actor) -> int:
    """Sign a staff member out everywhere (a lost phone, a shared computer): every session and socket."""
    async with services.unit() as unit:
        rows = (
            await unit.session.scalars(select(StaffSession).where(StaffSession.user_id == actor.user_id))
        ).all()
        for row in rows:
            await unit.session.delete(row)
            unit.publish({"type": SESSION_ENDED, "reason": "logout_everywhere"}, Audience.session(row.id))
        audit.record(
            unit.session, actor, "logout_everywhere", "staff_user", actor.user_id, {"sessions": len(rows)}
        )
        return len(rows)
