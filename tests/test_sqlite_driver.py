"""The one-trip SQLite driver behaves as aiosqlite under SQLAlchemy, in a quarter of the thread trips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from comms.db import make_engine
from config.settings import DatabaseSettings


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"))
    async with made.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield made
    await made.dispose()


async def test_rows_counts_and_ids_come_back_as_sqlalchemy_expects(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert inserted.rowcount == 1 and inserted.lastrowid == 1
        many = await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
        assert many.rowcount == 2
        returned = await conn.execute(text("INSERT INTO t (v) VALUES ('d'), ('e') RETURNING id, v"))
        assert sorted(returned.all()) == [(4, "d"), (5, "e")]
        updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
        assert updated.rowcount == 4
        rows = await conn.execute(text("SELECT id, v FROM t ORDER BY id"))
        assert rows.keys() == ["id", "v"]
        assert rows.fetchone() == (1, "a")
        assert rows.fetchmany(2) == [(2, "b!"), (3, "c!")]
        assert rows.fetchall() == [(4, "d!"), (5, "e!")] and rows.fetchone() is None
        assert (await conn.execute(text("SELECT v FROM t WHERE id = 99"))).first() is None


async def test_a_failed_statement_raises_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        await conn.rollback()
        await conn.execute(text("INSERT INTO t (v) VALUES ('y')"))
        await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["y"]


async def test_a_statement_is_one_trip_to_the_connection_thread(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await real(self, fn, *args, **kwargs)

    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the pool's connection is made and checked before counting
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        for n in range(5):
            assert (await conn.execute(text("SELECT :n"), {"n": n})).scalar() == n
        assert len(trips) == 5, trips  # aiosqlite alone: cursor, execute, fetchall, close for each
