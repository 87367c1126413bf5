"""Analytics benchmark: the office figures, a drill-down and the audit report on the large seeded store.

The store is the query benchmark's (web/bench_seed.py: conversations and timeline items over a year).
Its call items get call records here (answered, missed, voicemail, abandoned, with waits and who
answered), the audit log a few views per patient, and appointments, payment and review requests,
in one bulk pass the first time; a reused store keeps them. Each figure is the real function
(`analytics.figures`, `analytics.drill`, `audit_report.report`) through the same async engine the
server uses.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text

from comms import analytics, audit_report
from comms.models import utcnow
from comms.payment_models import PaymentReceived, PaymentRequest
from comms.review_models import ReviewRequest
from comms.schedule_models import Appointment, AppointmentType, Provider
from schemas.analytics import AuditQuery, DrillQuery, RangeQuery
from web.bench_report import MISSED, ms, print_table, progress, secs, verdict
from web.bench_seed import STAMP, SeededStore, StoreShape, open_store
from web.bench_store import Timing, _diagnose, _time

SEED = 20261202
# A manager opens a week or a month most mornings (a page should come back well within a second); a
# quarter and a year are the long views, read now and then, where a few seconds are acceptable.
RANGES = ((7, 0.250), (30, 1.000), (90, 3.000), (365, 10.000))
DRILL_TARGET = 0.500
AUDIT_TARGET = 0.100
OUTCOMES = (("answered", 0.72), ("missed", 0.86), ("voicemail", 0.95), ("abandoned", 1.0))
AUDIT_PER_CONVERSATION = 2
PROVIDERS = 12


def _seed_calls(path: Path) -> dict[str, float]:
    """Call records for the store's call items, audit rows, appointments, payments and reviews; once per
    store (skipped when calls are there)."""
    rng = random.Random(SEED)
    seconds: dict[str, float] = {}
    con = sqlite3.connect(path, isolation_level=None)
    try:
        if con.execute("SELECT count(*) FROM calls").fetchone()[0]:
            return seconds
        progress("adding call records and audit rows to the store")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        started = time.perf_counter()
        staff = [row[0] for row in con.execute("SELECT id FROM staff_users ORDER BY id")]
        calls = con.execute(
            "SELECT i.id, i.conversation_id, i.direction, i.author_id, i.created_at, c.location_id"
            " FROM timeline_items i JOIN conversations c ON c.id = i.conversation_id WHERE i.kind = 'call'"
        ).fetchall()
        numbers = dict(con.execute("SELECT location_id, e164 FROM location_numbers").fetchall())

        def rows() -> Iterator[tuple[Any, ...]]:
            for n, (item_id, conv, direction, author, created, loc) in enumerate(calls, start=1):
                began = dt.datetime.strptime(created, STAMP)
                pick = rng.random()
                outcome = "answered" if direction == "out" else next(o for o, w in OUTCOMES if pick <= w)
                answered = outcome == "answered"
                answered_at = began + dt.timedelta(seconds=rng.randint(3, 90)) if answered else None
                ended = (answered_at or began) + dt.timedelta(seconds=rng.randint(20, 600))
                by = (author or rng.choice(staff)) if answered and direction == "in" else None
                yield (
                    n, f"CA{n:032x}", loc, conv, item_id, direction, "+12025550100", numbers.get(loc, ""),
                    "completed", outcome, "ended", "[]", by, author if direction == "out" else None,
                    began.strftime(STAMP), answered_at.strftime(STAMP) if answered_at else None,
                    ended.strftime(STAMP), ended.strftime(STAMP),
                )  # fmt: skip

        con.executemany(
            "INSERT INTO calls (id, call_sid, location_id, conversation_id, item_id, direction, patient_e164,"
            " practice_e164, state, outcome, stage, route, answered_by_id, placed_by_id, started_at,"
            " answered_at, ended_at, updated_at, on_hold, recorded)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0,0)",
            rows(),
        )
        con.execute(
            "INSERT INTO recordings (recording_sid, call_id, kind, created_at)"
            " SELECT 'RE' || printf('%032x', id), id, 'voicemail', ended_at FROM calls"
            " WHERE outcome = 'voicemail'"
        )
        # Answered call items say so, as comms.calls.announce keeps them (recovery looks for them).
        con.execute(
            "UPDATE timeline_items SET status = 'answered' WHERE kind = 'call' AND id IN"
            " (SELECT item_id FROM calls WHERE outcome = 'answered')"
        )
        seconds[f"call records ({len(calls):,}) and voicemails"] = time.perf_counter() - started
        started = time.perf_counter()
        conversations = con.execute("SELECT id, contact_id, last_item_at FROM conversations").fetchall()

        def audit_rows() -> Iterator[tuple[Any, ...]]:
            for conv, contact, last in conversations:
                for k in range(AUDIT_PER_CONVERSATION):
                    record = ("conversation", conv) if k % 2 == 0 else ("contact", contact)
                    yield (last, rng.choice(staff), "view", record[0], str(record[1]), "127.0.0.1", "{}")

        con.executemany(
            "INSERT INTO audit_log (at, actor_id, action, record_type, record_id, remote_addr, detail)"
            " VALUES (?,?,?,?,?,?,?)",
            audit_rows(),
        )
        seconds[f"audit rows ({len(conversations) * AUDIT_PER_CONVERSATION:,})"] = (
            time.perf_counter() - started
        )
        con.execute("COMMIT")
    finally:
        con.close()
    started = time.perf_counter()
    counts = _seed_visits(path, rng, conversations, staff)
    seconds[counts] = time.perf_counter() - started
    return seconds


def _seed_visits(path: Path, rng: random.Random, conversations: list[Any], staff: list[int]) -> str:
    """Appointments (a third of the threads), payment requests (a seventh) and review requests (a fifth),
    spread over the store's year; no provider is booked twice (the schema's trigger would refuse it).

    Through SQLAlchemy Core on the models' own tables, so columns that other features add with a
    default are filled as the app fills them.
    """
    engine = create_engine(f"sqlite:///{path}")
    now = utcnow()
    start = now - dt.timedelta(days=365)
    try:
        with engine.begin() as conn:
            practice = conn.execute(text("SELECT id FROM practices ORDER BY id LIMIT 1")).scalar_one()
            located = conn.execute(text("SELECT id, location_id FROM conversations"))
            location_of: dict[int, int] = {conv: loc for conv, loc in located}
            conn.execute(
                insert(Provider),
                [{"practice_id": practice, "name": f"Provider {n + 1}"} for n in range(PROVIDERS)],
            )
            providers = list(conn.execute(select(Provider.id).order_by(Provider.id)).scalars())
            conn.execute(
                insert(AppointmentType), [{"practice_id": practice, "name": "Visit", "duration_minutes": 30}]
            )
            kind = conn.execute(select(AppointmentType.id)).scalars().first()
            booked = [(conv, contact) for conv, contact, _last in conversations if conv % 3 == 0]
            step = dt.timedelta(days=365) / max(1, -(-len(booked) // PROVIDERS))
            visits = []
            for n, (conv, contact) in enumerate(booked):
                starts = start + step * (n // PROVIDERS) + dt.timedelta(minutes=rng.randint(0, 60))
                created = starts - dt.timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 8))
                roll = rng.random()
                if starts < now:
                    status = "completed" if roll < 0.8 else "no_show" if roll < 0.9 else "cancelled"
                else:
                    status = "scheduled" if roll < 0.6 else "confirmed" if roll < 0.95 else "cancelled"
                ends = starts + dt.timedelta(minutes=30)
                visits.append(
                    {"location_id": location_of[conv], "provider_id": providers[n % PROVIDERS],
                     "contact_id": contact, "type_id": kind, "conversation_id": conv, "starts_at": starts,
                     "ends_at": ends, "busy_until": ends, "status": status,
                     "booked_by_id": None if rng.random() < 0.2 else rng.choice(staff),
                     "created_at": created, "updated_at": created}
                )  # fmt: skip
            conn.execute(insert(Appointment), visits)
            requests, received = [], []
            for n, (conv, contact, _last) in enumerate(c for c in conversations if c[0] % 7 == 0):
                created = start + dt.timedelta(seconds=rng.random() * 365 * 86400)
                cents = rng.randint(20, 900) * 100
                paid_at = created + dt.timedelta(hours=rng.randint(1, 240)) if rng.random() < 0.6 else None
                paid = paid_at is not None and paid_at < now
                expires = created + dt.timedelta(days=30)
                status = "paid" if paid else ("expired" if expires < now else "sent")
                requests.append(
                    {"id": n + 1, "token": f"bench{n:012d}", "contact_id": contact, "conversation_id": conv,
                     "location_id": location_of[conv], "amount_cents": cents, "currency": "usd",
                     "description": "Visit", "status": status,
                     "paid_cents": cents if paid else 0, "paid_at": paid_at if paid else None,
                     "expires_at": expires, "created_at": created, "updated_at": created}
                )  # fmt: skip
                if paid and paid_at:
                    received.append(
                        {"request_id": n + 1, "payment_intent": f"pi_bench{n:012d}", "amount_cents": cents,
                         "currency": "usd", "received_at": paid_at}
                    )  # fmt: skip
            if requests:
                conn.execute(insert(PaymentRequest), requests)
            if received:
                conn.execute(insert(PaymentReceived), received)
            reviews = []
            for n, (conv, contact, _last) in enumerate(c for c in conversations if c[0] % 5 == 0):
                created = start + dt.timedelta(seconds=rng.random() * 365 * 86400)
                clicked = created + dt.timedelta(hours=2) if rng.random() < 0.3 else None
                reviews.append(
                    {"token": f"rv{n:010d}", "contact_id": contact, "conversation_id": conv,
                     "location_id": location_of[conv], "created_at": created, "first_clicked_at": clicked}
                )  # fmt: skip
            if reviews:
                conn.execute(insert(ReviewRequest), reviews)
    finally:
        engine.dispose()
    return f"appointments ({len(booked):,}), payment requests ({len(requests):,}), reviews ({len(reviews):,})"


async def run(shape: StoreShape, path: Path, runs: int) -> None:
    """Seed (or reuse) the store, add calls and audit rows, time the figure queries, print one table."""
    engine, services, store = await open_store(path, shape)
    await engine.dispose()  # the bulk pass below owns the file alone
    added = _seed_calls(path)
    if added:
        print_table(
            "Analytics store additions (SQLite)",
            ["seeding step", "time"],
            [[step, secs(s)] for step, s in added.items()],
        )
    timings = await _measure(services, engine, store, shape, path, runs)
    await engine.dispose()
    rows = [
        [t.label, str(len(t.samples)), ms(t.p50), ms(t.p99), f"p99 < {t.target * 1000:.0f} ms",
         verdict(t.p99, t.target - 1e-12)]
        for t in timings
    ]  # fmt: skip
    notes: list[str] = []
    for t, row in zip(timings, rows, strict=True):
        if row[-1] == MISSED and t.plan:
            notes += [f"{t.label}:", *(f"    {line}" for line in t.plan)]
    print_table(
        f"Analytics — figures for North (half of {shape.conversations:,} conversations), "
        "drill-down and audit report",
        ["query", "runs", "p50", "p99", "target", "verdict"],
        rows,
        notes,
    )


async def _measure(
    services: Any, engine: Any, store: SeededStore, shape: StoreShape, path: Path, runs: int
) -> list[Timing]:
    today = utcnow().date()
    north = store.location_ids[0]
    timings: list[Timing] = []

    async def timed(label: str, call: Any, target: float) -> None:
        samples = await _time(call, min(runs, 50))
        timing = Timing(label, samples, target, [])
        progress(f"  {label}: p99 {ms(timing.p99)} over {len(samples)} runs")
        if timing.p99 > target:
            timing.plan = await _diagnose(engine, path, call)
        timings.append(timing)

    for days, target in RANGES:
        query = RangeQuery(location_id=north, start=today - dt.timedelta(days=days - 1), end=today)

        async def figures(query: RangeQuery = query) -> None:
            await analytics.figures(services, store.admin, query)

        await timed(f"figures, last {days} days [admin]", figures, target)
    month = {"location_id": north, "start": today - dt.timedelta(days=29), "end": today}
    drill_query = DrillQuery.model_validate({**month, "figure": "unrecovered"})

    async def drill() -> None:
        await analytics.drill(services, store.desk, drill_query)

    await timed("drill-down: missed calls not recovered, 30 days [desk]", drill, DRILL_TARGET)
    for label, audit_query in (
        ("audit report, newest page of 100", AuditQuery()),
        ("audit report, one patient", AuditQuery(patient_id=max(1, shape.conversations // 3))),
        ("audit report, one staff member's views", AuditQuery(staff_id=store.desk.user_id, action="view")),
    ):

        async def report(q: AuditQuery = audit_query) -> None:
            await audit_report.report(services, store.admin, q)

        await timed(f"{label} [admin]", report, AUDIT_TARGET)
    return timings
