"""The one-trip SQLite driver behaves as aiosqlite under SQLAlchemy, in a quarter of the thread trips,
and with none at all for statements that cannot wait on the write lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from comms.db import QUICK, WRITE, make_engine
from comms.sqlite_driver import OneTripConnection, driver_of
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


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every trip to a connection's thread from now on, by the name of what ran there."""
    made: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", "?"))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_a_writer_runs_inline_once_it_holds_the_lock_and_a_quick_read_never_leaves_the_loop(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.rollback()
        trips.clear()
        writer = await conn.execution_options(**{WRITE: True})
        async with writer.begin():
            for n in range(5):
                await writer.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"w{n}"})
            assert (await writer.execute(text("SELECT count(*) FROM t"))).scalar() == 5
        assert len(trips) == 1, trips  # BEGIN IMMEDIATE alone: it may wait for the lock

    async with engine.connect() as conn:
        trips.clear()
        quick = await conn.execution_options(**{QUICK: True})
        async with quick.begin():
            assert (await quick.execute(text("SELECT count(*) FROM t"))).scalar() == 5
            assert (await quick.execute(text("SELECT v FROM t WHERE id = 1"))).scalar() == "w0"
        assert trips == []

    async with engine.connect() as conn:  # an ordinary read may be long: it stays on the thread
        trips.clear()
        async with conn.begin():
            await conn.execute(text("SELECT count(*) FROM t"))
            await conn.execute(text("SELECT count(*) FROM t"))
        assert len(trips) == 2, trips


async def test_what_may_wait_on_the_lock_goes_to_the_thread_and_flags_end_with_the_transaction(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = driver_of(raw.dbapi_connection)
        assert isinstance(driver, OneTripConnection) and driver.inline  # the test database is in WAL mode
        assert driver.runs_inline("BEGIN") and not driver.runs_inline("BEGIN IMMEDIATE")
        assert not driver.runs_inline("SELECT 1")  # not asked to be quick
        driver.quick_reads = True
        assert driver.runs_inline(" select 1") and driver.runs_inline("WITH x AS (SELECT 1) SELECT * FROM x")
        assert not driver.runs_inline("INSERT INTO t (v) VALUES ('q')")  # a write in a read: may wait
        await driver.rollback()
        assert not driver.quick_reads and not driver.runs_inline("SELECT 1")
        writer = await conn.execution_options(**{WRITE: True})
        async with writer.begin():
            assert driver.runs_inline("INSERT INTO t (v) VALUES ('q')")
        assert not driver.runs_inline("INSERT INTO t (v) VALUES ('r')")


async def test_writers_racing_in_one_process_take_turns_and_lose_no_update(engine: AsyncEngine) -> None:
    """A writer that holds the lock never blocks the loop on it, so one waiting on the thread for the
    lock cannot starve the holder: every read-modify-write lands."""
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))

    async def bump() -> None:
        async with engine.connect() as conn:
            writer = await conn.execution_options(**{WRITE: True})
            async with writer.begin():
                n = (await writer.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.001)  # let the others try meanwhile
                await writer.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.wait_for(asyncio.gather(*(bump() for _ in range(30))), timeout=30)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM counter"))).scalar() == 30


async def test_a_long_run_of_inline_statements_lets_the_loop_serve_others(engine: AsyncEngine) -> None:
    turns = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        async with engine.connect() as conn:
            writer = await conn.execution_options(**{WRITE: True})
            async with writer.begin():
                await writer.execute(text("SELECT 1"))
                before = turns
                for n in range(3000):
                    await writer.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"bulk{n}"})
                during = turns - before
    finally:
        done.set()
        await task
    assert during >= 3, during  # 3,000 inserts take far longer than one slice
