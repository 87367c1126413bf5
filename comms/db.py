"""Engine and session factory for SQLite (WAL, foreign keys) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import logging
from typing import Any

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from comms import sqlite_driver
from config.settings import DatabaseSettings

Sessionmaker = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; SQLite leaves foreign keys off unless asked."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WRITE = "frontdesk_write"  # execution option: this transaction will write (SQLite: BEGIN IMMEDIATE)


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    """Python's sqlite3 only opens a transaction before its first write, so an action's reads ran
    outside it and a read-modify-write could silently lose a concurrent update; we BEGIN ourselves."""
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    """Readers take a snapshot (BEGIN); writers take the write lock up front (BEGIN IMMEDIATE), so two
    actions that read then write one row queue up instead of one overwriting the other."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def make_engine(settings: DatabaseSettings) -> AsyncEngine:
    """One engine per process; the schema option pins PostgreSQL's search_path."""
    # Bound values are message bodies, numbers and addresses: never in an error's text or the echo log.
    kwargs: dict[str, Any] = {"echo": settings.echo, "hide_parameters": True}
    if settings.is_sqlite:
        # aiosqlite logs every statement with its bound values at DEBUG; only its warnings get through.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        # The URL's own connect arguments (path, check_same_thread), through a one-trip driver.
        args, connect_kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(settings.url))

        async def one_trip() -> aiosqlite.Connection:
            return await sqlite_driver.connect(*args, **connect_kwargs)

        engine = create_async_engine(settings.url, async_creator=one_trip, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_manual_transactions)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.schema_name:
        connect_args["server_settings"] = {"search_path": settings.schema_name}
    return create_async_engine(
        settings.url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args, **kwargs
    )


def make_sessionmaker(engine: AsyncEngine) -> Sessionmaker:
    """Sessions that keep loaded objects usable after commit (events are built from them)."""
    return async_sessionmaker(engine, expire_on_commit=False)
