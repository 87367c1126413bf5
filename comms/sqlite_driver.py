"""aiosqlite with one trip to the connection's thread per statement instead of four.

aiosqlite runs every call on a thread of its own and wakes the event loop for each answer; through
SQLAlchemy a statement is four such trips (make a cursor, execute, fetch all rows, close), each a queue
put, a thread wake-up, a self-pipe write and an event-loop turn. That was most of the cost of a short
action: an authenticated note made 44 trips. Here the cursor is made, executed, emptied and closed in
one trip, and its rows are handed out from memory, which is what SQLAlchemy's adapter did with them
anyway (it fetches every row of a plain cursor at once). Nothing else about aiosqlite changes.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

Row = Any


class OneTripCursor(aiosqlite.Cursor):
    """A cursor whose sqlite3 cursor lives for one statement, made and closed on the connection's
    thread within the trip that runs it; rowcount, lastrowid and description stay readable after."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.iter_chunk_size = conn._iter_chunk_size
        self._conn = conn
        self._last: sqlite3.Cursor | None = None
        self._rows: deque[Row] = deque()
        self._arraysize = 1

    def _run(self, call: Callable[[sqlite3.Cursor], object]) -> list[Row]:
        """On the connection's thread: a fresh cursor, the statement, every row, closed."""
        cursor = self._conn._conn.cursor()
        cursor.arraysize = self._arraysize
        self._last = cursor
        try:
            call(cursor)
            return cursor.fetchall() if cursor.description is not None else []
        finally:
            cursor.close()

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        params = [] if parameters is None else parameters
        self._rows = deque(await self._execute(self._run, lambda c: c.execute(sql, params)))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        self._rows = deque(await self._execute(self._run, lambda c: c.executemany(sql, parameters)))
        return self

    async def executescript(self, sql_script: str) -> OneTripCursor:
        self._rows = deque(await self._execute(self._run, lambda c: c.executescript(sql_script)))
        return self

    async def fetchone(self) -> Row | None:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self._arraysize, len(rows)))]

    async def fetchall(self) -> list[Row]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        """Nothing to do on the thread: the sqlite3 cursor was closed by the trip that used it."""
        self._rows.clear()

    @property
    def rowcount(self) -> int:
        return -1 if self._last is None else self._last.rowcount

    @property
    def lastrowid(self) -> int | None:
        return None if self._last is None else self._last.lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return None if self._last is None else self._last.description


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors are `OneTripCursor`s (making one needs no trip)."""

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return OneTripCursor(self)


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """As `aiosqlite.connect`, with the thread a daemon (as SQLAlchemy makes aiosqlite's), so an
    undisposed engine never keeps the process from exiting."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    connection = OneTripConnection(connector, 64)
    connection._thread.daemon = True
    return connection
