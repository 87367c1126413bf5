"""Query benchmark: the conversation list's first page and search on a large seeded SQLite store.

Each figure is the real function (`inbox.list_conversations`, `search.search`) through the same async
engine the server uses, beside a bare `SELECT id FROM conversations ORDER BY last_item_at DESC LIMIT 50`
on the same database. For a figure over its target, the slowest SQL statement of one call is shown
with SQLite's query plan, which names the full scans and temporary sorts an index would remove.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from comms import inbox, search
from comms.access import Actor
from comms.services import Services
from web import heap
from web.bench_report import MISSED, TIMES, ms, percentile, print_table, progress, ratio, secs, verdict
from web.bench_seed import SeededStore, StoreShape, open_store

LIST_TARGET = 0.020
SEARCH_TARGET = 0.100
WARMUP_RUNS = 3
# Per figure: a slow query stops after BUDGET_SECONDS once it has MIN_RUNS, and after CEILING_SECONDS
# whatever it has, so a query at a second per call cannot hold the benchmark for minutes.
MIN_RUNS = 10
BUDGET_SECONDS = 2.0
CEILING_SECONDS = 6.0
BARE = "SELECT id FROM conversations ORDER BY last_item_at DESC LIMIT 50"

__all__ = ["StoreShape", "run"]


@dataclass
class Timing:
    """One figure: sorted samples, its target, and (when it misses) where a call's time goes."""

    label: str
    samples: list[float]
    target: float
    plan: list[str]

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)


async def _time(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    """Sorted wall-clock seconds per call, after a few warm-up calls (page cache, statement cache)."""
    for _ in range(WARMUP_RUNS):
        await call()
    samples = []
    begun = time.perf_counter()
    for n in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
        spent = time.perf_counter() - begun
        if (n + 1 >= MIN_RUNS and spent > BUDGET_SECONDS) or spent > CEILING_SECONDS:
            break
    return sorted(samples)


@dataclass
class _Statement:
    sql: str
    params: Any
    seconds: float


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[_Statement]]:
    """Every SQL statement run meanwhile, with how long the driver took for it."""
    seen: list[_Statement] = []
    sync = engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        seen.append(_Statement(statement, params, time.perf_counter() - conn.info.pop("bench_started")))

    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", before)
        event.remove(sync, "after_cursor_execute", after)


def _plan(path: Path, statement: _Statement) -> list[str]:
    """SQLite's plan for a statement: SCAN without an index and TEMP B-TREE sorts are what cost."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        rows = con.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params or ()).fetchall()
    return [str(row[3]) for row in rows]


async def _diagnose(engine: AsyncEngine, path: Path, call: Callable[[], Awaitable[Any]]) -> list[str]:
    """Where one call's time goes: SQL (statement count, slowest, its plan) against the whole call;
    what is not SQL is Python (ORM rows, pydantic models, the event loop)."""
    with _statements(engine) as seen:
        started = time.perf_counter()
        await call()
        total = time.perf_counter() - started
    if not seen:
        return []
    slowest = max(seen, key=lambda s: s.seconds)
    sql = sum(s.seconds for s in seen)
    head = " ".join(slowest.sql.split())
    table = head.split(" FROM ", 1)[1].split(" ", 1)[0] if " FROM " in head else head[:40]
    return [
        f"one call {ms(total)}: SQL {ms(sql)} in {len(seen)} statements ({sql / total:.0%}), "
        f"slowest {ms(slowest.seconds)} (FROM {table})",
        "plan of the slowest: " + " | ".join(_plan(path, slowest)),
    ]


def _filters(store: SeededStore) -> list[tuple[str, inbox.ListFilter]]:
    return [
        ("open", inbox.ListFilter()),
        ("mine", inbox.ListFilter(assignee="me")),
        ("unassigned", inbox.ListFilter(assignee="unassigned")),
        ("unread", inbox.ListFilter(unread=True)),
        ("channel=sms", inbox.ListFilter(channel="sms")),
        ("location (North)", inbox.ListFilter(location_id=store.location_ids[0])),
        ("closed", inbox.ListFilter(status="closed")),
    ]


def _queries(store: SeededStore) -> list[tuple[str, str]]:
    return [
        ("surname", "Okafor"),
        ("full name", store.sample_full_name),
        ("phone fragment", store.sample_phone_digits),
        ("word in messages", "reschedule"),
        ("two words", "crown loose"),
        ("nothing matches", "zebra"),
    ]


async def _measure(
    services: Services, engine: AsyncEngine, store: SeededStore, path: Path, runs: int
) -> tuple[list[float], list[Timing]]:
    async def bare() -> None:
        async with services.read() as session:
            (await session.execute(text(BARE))).all()

    baseline = await _time(bare, runs)
    timings: list[Timing] = []
    actors: list[tuple[str, Actor]] = [("admin", store.admin), ("desk, 2 of 3 locations", store.desk)]
    for who, actor in actors:
        for label, flt in _filters(store):

            async def page(actor: Actor = actor, flt: inbox.ListFilter = flt) -> None:
                await inbox.list_conversations(services, actor, flt)

            samples = await _time(page, runs)
            timing = Timing(f"list {label} [{who}]", samples, LIST_TARGET, [])
            progress(f"  {timing.label}: p99 {ms(timing.p99)} over {len(samples)} runs")
            if timing.p99 > LIST_TARGET:
                timing.plan = await _diagnose(engine, path, page)
            timings.append(timing)
    for label, q in _queries(store):

        async def find(q: str = q) -> None:
            await search.search(services, store.desk, q)

        samples = await _time(find, runs)
        timing = Timing(f"search {label}: {q!r} [desk]", samples, SEARCH_TARGET, [])
        progress(f"  {timing.label}: p99 {ms(timing.p99)} over {len(samples)} runs")
        if timing.p99 > SEARCH_TARGET:
            timing.plan = await _diagnose(engine, path, find)
        timings.append(timing)
    return baseline, timings


def _planner_stats(path: Path, analyze: bool) -> None:
    """With --analyze, give SQLite's planner statistics; without, make sure none are left from before
    (the app never runs ANALYZE, so a real store has none)."""
    with sqlite3.connect(path) as con:
        if analyze:
            con.execute("ANALYZE")
        elif con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            con.execute("DELETE FROM sqlite_stat1")


async def run(shape: StoreShape, path: Path, runs: int, analyze: bool = False) -> None:
    """Seed (or reuse) the store, time every query, print the seeding and the query tables."""
    engine, services, store = await open_store(path, shape)
    heap.settle()  # as the server does once it has started
    try:
        _planner_stats(path, analyze)
        await engine.dispose()  # pooled connections would keep the statistics they loaded
        steps = [[step, secs(seconds)] for step, seconds in store.seconds.items()]
        total = sum(store.seconds.values())
        if store.reused:
            steps = [[f"reused {path}", "—"]]
        print_table(
            f"Store — {shape.conversations:,} conversations, {shape.items:,} timeline items (SQLite)",
            ["seeding step", "time"],
            [*steps, ["total", secs(total) if not store.reused else "—"]],
        )
        baseline, timings = await _measure(services, engine, store, path, runs)
    finally:
        await engine.dispose()
    base_p99 = percentile(baseline, 99)
    bare_label = "bare SELECT id … ORDER BY last_item_at DESC LIMIT 50"
    rows = [
        [bare_label, str(len(baseline)), ms(percentile(baseline, 50)), ms(base_p99), f"1.00{TIMES}", "", ""]
    ]
    notes: list[str] = []
    for t in timings:
        rows.append(
            [t.label, str(len(t.samples)), ms(t.p50), ms(t.p99), ratio(t.p99, base_p99),
             f"p99 < {t.target * 1000:.0f} ms", verdict(t.p99, t.target - 1e-12)]
        )  # fmt: skip
        if rows[-1][-1] == MISSED and t.plan:
            notes += [f"{t.label}:", *(f"    {line}" for line in t.plan)]
    print_table(
        "Conversation list (first page of 50) and search — ratio is p99 over the bare SELECT's p99"
        + (" (after ANALYZE)" if analyze else " (no ANALYZE statistics, as the app leaves them)"),
        ["query", "runs", "p50", "p99", "ratio", "target", "verdict"],
        rows,
        notes,
    )
    if math.isnan(base_p99):
        print("  (the bare SELECT was not measured)")
