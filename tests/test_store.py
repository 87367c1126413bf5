"""The store: migrations are the only schema path, the audit log is append-only, times stay UTC."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from comms import audit, migrate
from comms.db import make_engine
from comms.errors import DatabaseNotReady
from comms.models import AuditEntry, Practice
from comms.services import Services
from config.settings import DatabaseSettings, Settings


async def test_unmigrated_database_is_refused_with_a_clear_message(settings: Settings) -> None:
    engine = make_engine(settings.database)
    try:
        with pytest.raises(DatabaseNotReady, match="frontdesk migrate"):
            await migrate.ensure_current(engine)
        await migrate.upgrade(engine)
        await migrate.ensure_current(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_audit_log_cannot_be_rewritten(services: Services) -> None:
    async with services.unit() as unit:
        audit.record(unit.session, None, "login_failed", "staff_user", "-", remote_addr="10.0.0.1")
    for statement in ("UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises((DBAPIError, IntegrityError)):
            async with services.unit() as unit:
                await unit.session.execute(text(statement))
    async with services.read() as session:
        rows = (await session.execute(text("SELECT action FROM audit_log"))).all()
    assert [r[0] for r in rows] == ["login_failed"]


async def test_times_come_back_aware_utc(services: Services) -> None:
    moment = dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    async with services.unit() as unit:
        practice = Practice(name="P", created_at=moment)
        unit.session.add(practice)
    async with services.read() as session:
        loaded = await session.get(Practice, practice.id)
    assert loaded is not None
    assert loaded.created_at == moment and loaded.created_at.tzinfo == dt.UTC


async def test_naive_datetimes_are_rejected(services: Services) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with services.unit() as unit:
            unit.session.add(
                AuditEntry(action="x", record_type="y", record_id="1", at=dt.datetime(2026, 1, 1))
            )


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()
