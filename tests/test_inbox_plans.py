"""The inbox list's first page reads SQLite's newest-first index and stops after a page; it never sorts
every matching conversation. (An index on `status` once made the planner do that: 10 ms became 300 ms
at 100,000 conversations.) SQLite only: the app leaves SQLite without planner statistics, so its
choice follows the schema alone; PostgreSQL plans from statistics of the data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from comms import inbox, migrate
from comms.db import make_engine, make_sessionmaker
from comms.services import Services
from config.settings import Settings
from routing.bus import InProcessBus
from tests.helpers import seed_practice
from tests.schedule_helpers import admin_actor


@pytest.fixture
async def sqlite_services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.model_validate({"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}"}})
    engine = make_engine(settings.database)
    await migrate.upgrade(engine)
    yield Services(settings, make_sessionmaker(engine), InProcessBus())
    await engine.dispose()


FILTERS = [
    inbox.ListFilter(),
    inbox.ListFilter(status="closed"),
    inbox.ListFilter(assignee="unassigned"),
    inbox.ListFilter(unread=True),
    inbox.ListFilter(channel="sms"),
    inbox.ListFilter(status=None),
]


async def test_every_first_page_reads_the_newest_first_index(sqlite_services: Services) -> None:
    services = sqlite_services
    p = await seed_practice(services)
    admin = await admin_actor(services, p)
    engine = services.sessionmaker.kw["bind"].sync_engine
    for flt in FILTERS:
        seen: list[tuple[str, Any]] = []

        def record(
            conn: Any, cursor: Any, statement: str, params: Any, *rest: Any, seen: list[Any] = seen
        ) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "FROM conversations" in statement:
                seen.append((statement, params))

        event.listen(engine, "before_cursor_execute", record)
        try:
            await inbox.list_conversations(services, admin, flt)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        statement, params = seen[0]
        async with services.read() as s:
            conn = await s.connection()
            rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, tuple(params))
            plan = " | ".join(str(r[-1]) for r in rows)
        assert "ix_conversations_last" in plan, (flt, plan)
        assert "TEMP B-TREE FOR ORDER BY" not in plan, (flt, plan)
