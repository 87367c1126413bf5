"""aiosqlite with one trip to the connection's thread per statement instead of four.

aiosqlite runs every call on a thread of its own and wakes the event loop for each answer; through
SQLAlchemy a statement is four such trips (make a cursor, execute, fetch all rows, close), each a queue
put, a thread wake-up, a self-pipe write and an event-loop turn. That was most of the cost of a short
action: an authenticated note made 44 trips. Here the cursor is made, executed, emptied and closed in
one trip, and its rows are handed out from memory, which is what SQLAlchemy's adapter did with them
anyway (it fetches every row of a plain cursor at once).

A trip still cost about 200 µs of CPU (thread wake-ups and GIL hand-offs on both sides), far more
than the short statements of an action take to run. So a statement that cannot wait runs on the
event loop's own thread instead, with no trip at all. Only one statement can wait: SQLite's write
lock, which a writer may spend up to busy_timeout polling for. Hence, in WAL mode only:
- `BEGIN IMMEDIATE` (which takes the write lock) still goes to the thread;
- once it holds the lock, the transaction's statements run inline (in WAL mode a writer never waits
  for readers);
- a read transaction runs inline only when asked (`QUICK`: tiny indexed lookups such as the session
  of every request), and then only its SELECTs; other reads may be long (a search, a report) and stay
  on the thread so the loop keeps serving sockets meanwhile;
- COMMIT and ROLLBACK run inline (in WAL mode neither waits).
A long run of inline statements (an import) lets the loop run other work every few milliseconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

Row = Any
# Inline statements in a row at most this long (seconds) before the loop gets a turn.
INLINE_SLICE = 0.005
_READS = ("SELECT", "WITH")


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

    async def _trip(self, sql: str, call: Callable[[sqlite3.Cursor], object]) -> None:
        conn = self._conn
        assert isinstance(conn, OneTripConnection)
        if conn.runs_inline(sql):
            self._rows = deque(self._run(call))
            await conn.breathe()
        else:
            self._rows = deque(await self._execute(self._run, call))
            conn.yielded()
        conn.ran(sql)

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        params: Any = [] if parameters is None else parameters
        await self._trip(sql, lambda c: c.execute(sql, params))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        rows: Any = parameters
        await self._trip(sql, lambda c: c.executemany(sql, rows))
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
    """An aiosqlite connection whose cursors are `OneTripCursor`s (making one needs no trip), and
    whose statements that cannot wait on a lock run inline (see the module's docstring)."""

    inline = False  # set once the database is known to be in WAL mode
    quick_reads = False  # this read transaction's SELECTs may run inline
    _writing = False  # this transaction began IMMEDIATE: it holds the write lock
    _last_yield = 0.0

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return OneTripCursor(self)

    def runs_inline(self, sql: str) -> bool:
        """Whether this statement, now, is sure not to wait on SQLite's write lock."""
        if not self.inline:
            return False
        if self._writing:
            return True
        head = sql.lstrip()[:16].upper()
        if head.startswith("BEGIN"):
            return head.rstrip() in ("BEGIN", "BEGIN DEFERRED")  # a deferred BEGIN takes no lock
        return self.quick_reads and head.startswith(_READS)

    def ran(self, sql: str) -> None:
        """Track the transaction: after BEGIN IMMEDIATE this connection holds the write lock."""
        if sql.lstrip()[:16].upper().startswith("BEGIN IMMEDIATE"):
            self._writing = True

    def yielded(self) -> None:
        self._last_yield = time.monotonic()

    async def breathe(self) -> None:
        """After inline work: give the loop a turn if it has not had one for a while."""
        if time.monotonic() - self._last_yield > INLINE_SLICE:
            await asyncio.sleep(0)
            self.yielded()

    def _ended(self) -> None:
        self._writing = False
        self.quick_reads = False

    async def commit(self) -> None:
        """In WAL mode COMMIT never waits (a writer already holds the lock; readers block no one)."""
        try:
            if self.inline:
                self._conn.commit()
            else:
                await super().commit()
        finally:
            self._ended()

    async def rollback(self) -> None:
        """Nor does ROLLBACK."""
        try:
            if self.inline:
                self._conn.rollback()
            else:
                await super().rollback()
        finally:
            self._ended()


def driver_of(dbapi_connection: Any) -> OneTripConnection | None:
    """The one-trip connection under SQLAlchemy's adapter of it, if that is what this is."""
    inner = getattr(dbapi_connection, "_connection", None)
    return inner if isinstance(inner, OneTripConnection) else None


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """As `aiosqlite.connect`, with the thread a daemon (as SQLAlchemy makes aiosqlite's), so an
    undisposed engine never keeps the process from exiting."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    connection = OneTripConnection(connector, 64)
    connection._thread.daemon = True
    return connection
