"""A large store for the query benchmark, filled fast: raw sqlite3 executemany on the migrated file.

The practice, its locations and staff go through the real functions (there are only a few); the
100,000 contacts and conversations and the 1,000,000 timeline items are bulk inserts, with the
conversation summary columns (last item, last inbound, channels) filled as `timeline.add_item` keeps
them. The FTS5 insert trigger is dropped for the load and the index rebuilt in one pass afterwards;
so are the patient-search (contact_fts) triggers and table, filled from the view their triggers read.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from comms import migrate
from comms.access import Actor
from comms.db import make_engine, make_sessionmaker
from comms.models import Location, StaffLocation, StaffUser, utcnow
from comms.practice import add_location, add_staff, ensure_practice
from comms.seed import FIRST_NAMES, LAST_NAMES, THREADS
from comms.services import Services
from config.settings import Settings
from routing.bus import InProcessBus
from web.bench_report import progress

SEED = 20261128
BATCH = 50_000
PASSWORD = "bench-password-not-secret"  # noqa: S105 - throwaway accounts in a benchmark database
ADMIN_EMAIL = "admin@bench.example"
DESK_EMAIL = "desk@bench.example"
LOCATIONS = (
    ("North", "America/New_York", 0.5),
    ("South", "America/Chicago", 0.3),
    ("West", "America/Denver", 0.2),
)
STAFF_PER_LOCATION = 2  # each account costs an argon2 hash through add_staff
SPAN = dt.timedelta(days=365)
THREAD_WINDOW = dt.timedelta(days=21)  # a conversation's items cluster in a few weeks of activity
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's DateTime stores values in SQLite (naive UTC)
# More surnames than the demo's, so a full name matches a handful of patients rather than hundreds.
SURNAMES = LAST_NAMES + tuple(
    a + b
    for a in ("Har", "Mar", "Kov", "Lind", "Ber", "Val", "Sto", "Wen", "Dra", "Fel")
    for b in ("son", "ley", "berg", "ski", "ton", "ez", "ov", "ani", "well", "ford")
)
AREA_CODES = tuple(str(a) for a in range(201, 990, 7))
PROCEDURES = (
    "cleaning", "filling", "crown", "root canal", "whitening", "x-ray", "checkup", "extraction",
    "implant", "braces", "retainer", "night guard", "veneer", "bridge", "sealant", "fluoride",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
INSURERS = ("Delta Dental", "Cigna", "Aetna", "MetLife", "Guardian", "Humana", "United Concordia")
SMS_IN = (
    *(body for thread in THREADS for d, _k, body in thread if d == "in"),
    "Hi, can I reschedule my {proc} to {day}?",
    "Is {day} at {hour} still open for a {proc}?",
    "Does {ins} cover the {proc}?",
    "My tooth hurts since the {proc}, is that normal?",
    "Running late for my {proc}, be there in 10",
    "Can you send the estimate for the {proc} please",
)
SMS_OUT = (
    *(body for thread in THREADS for d, _k, body in thread if d == "out"),
    "Reminder: your {proc} is on {day} at {hour}. Reply C to confirm.",
    "We have {day} at {hour} for your {proc}. Does that work?",
    "Your {proc} is confirmed for {day} at {hour}.",
    "{ins} covers most of the {proc}; we will send the estimate.",
)
NOTES = (
    *(body for thread in THREADS for d, _k, body in thread if d == "internal"),
    "Checked {ins}: {proc} covered at 80% after deductible.",
    "Patient prefers mornings; offered {day} {hour}.",
    "Called back about the {proc}, left a message.",
)
# (direction, kind, cumulative weight): texts dominate, then calls, e-mail, notes.
MIX = (
    ("in", "sms", 0.34), ("out", "sms", 0.60), ("in", "email", 0.66), ("out", "email", 0.70),
    ("in", "call", 0.77), ("out", "call", 0.80), ("in", "voicemail", 0.83),
    ("internal", "note", 0.93), ("internal", "activity", 1.0),
)  # fmt: skip


@dataclass(frozen=True)
class StoreShape:
    """How big the seeded store is."""

    conversations: int
    items: int


@dataclass
class SeededStore:
    """Who queries the store, and what there is to find in it."""

    admin: Actor
    desk: Actor  # a front-desk member who sees two of the three locations
    location_ids: list[int]
    sample_full_name: str
    sample_phone_digits: str
    seconds: dict[str, float] = field(default_factory=dict)
    reused: bool = False


def _settings(path: Path) -> Settings:
    return Settings.model_validate({"database": {"url": f"sqlite+aiosqlite:///{path}"}})


async def _actors(services: Services) -> tuple[Actor, Actor, list[int]]:
    async with services.read() as session:
        admin = await session.scalar(select(StaffUser).where(StaffUser.email == ADMIN_EMAIL))
        desk = await session.scalar(select(StaffUser).where(StaffUser.email == DESK_EMAIL))
        if admin is None or desk is None:
            raise RuntimeError("the benchmark store has no benchmark staff; delete it to reseed")
        desk_locations = frozenset(
            await session.scalars(select(StaffLocation.location_id).where(StaffLocation.user_id == desk.id))
        )
        locations = list(await session.scalars(select(Location.id).order_by(Location.id)))
    return (
        Actor(admin.id, admin.practice_id, "admin", None, "bench-admin", "127.0.0.1"),
        Actor(desk.id, desk.practice_id, "staff", desk_locations, "bench-desk", "127.0.0.1"),
        locations,
    )


def _existing_shape(path: Path) -> tuple[int, int] | None:
    if not path.exists():
        return None
    try:
        with sqlite3.connect(path) as con:
            conversations = con.execute("SELECT count(*) FROM conversations").fetchone()[0]
            items = con.execute("SELECT count(*) FROM timeline_items").fetchone()[0]
    except sqlite3.Error:
        return None
    return int(conversations), int(items)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def open_store(path: Path, shape: StoreShape) -> tuple[AsyncEngine, Services, SeededStore]:
    """Reuse a store of this shape at `path`, or seed a new one; the caller disposes the engine."""
    settings = _settings(path)
    reused = _existing_shape(path) == (shape.conversations, shape.items)
    if reused:
        engine = make_engine(settings.database)
        if await migrate.current_revision(engine) != migrate.head_revision():
            await engine.dispose()
            reused = False
    if not reused:
        _remove(path)
        engine = make_engine(settings.database)
    services = Services(settings, make_sessionmaker(engine), InProcessBus())
    seconds: dict[str, float] = {}
    if not reused:
        progress(f"seeding {shape.conversations:,} conversations and {shape.items:,} items into {path}")
        started = time.perf_counter()
        await migrate.upgrade(engine)
        staff = await _seed_people(services)
        await engine.dispose()  # the bulk load below owns the file alone
        seconds["practice, locations, staff (real functions)"] = time.perf_counter() - started
        seconds.update(_bulk_load(path, shape, staff))
    admin, desk, locations = await _actors(services)
    with sqlite3.connect(path) as con:
        name = con.execute(
            "SELECT first_name || ' ' || last_name FROM contacts WHERE id = ?", (shape.conversations // 3,)
        ).fetchone()[0]
        phone = con.execute(
            "SELECT e164 FROM contact_phones WHERE contact_id = ?", (shape.conversations // 2,)
        ).fetchone()[0]
    store = SeededStore(admin, desk, locations, str(name), str(phone)[-4:], seconds, reused)
    return engine, services, store


@dataclass(frozen=True)
class _Staff:
    practice_id: int
    locations: list[int]
    by_location: dict[int, list[int]]
    admin_id: int
    desk_id: int


async def _seed_people(services: Services) -> _Staff:
    """The practice, three locations and their staff, through the same functions the app uses."""
    practice = await ensure_practice(services, "Bench Dental Group")
    locations = []
    for i, (name, zone, _share) in enumerate(LOCATIONS):
        locations.append(await add_location(services, practice, name, zone, [f"+1202555{150 + i:04d}"]))
    admin = await add_staff(services, practice, ADMIN_EMAIL, "Ada Admin", PASSWORD, "admin")
    desk = await add_staff(services, practice, DESK_EMAIL, "Dee Desk", PASSWORD, "staff", locations[:2])
    # The admin takes some threads everywhere, so "mine" means something for both actors.
    by_location = {loc: [admin, desk] if loc in locations[:2] else [admin] for loc in locations}
    for loc in locations:
        for n in range(STAFF_PER_LOCATION):
            email = f"staff{loc}-{n}@bench.example"
            by_location[loc].append(
                await add_staff(services, practice, email, f"Staff {loc}-{n}", PASSWORD, "staff", [loc])
            )
    return _Staff(practice, locations, by_location, admin, desk)


def _fill(template: str, rng: random.Random) -> str:
    if "{" not in template:
        return template
    hour = f"{rng.randint(8, 17)}:{rng.choice(('00', '15', '30', '45'))}"
    return template.format(
        proc=rng.choice(PROCEDURES), day=rng.choice(DAYS), hour=hour, ins=rng.choice(INSURERS)
    )


def _body(direction: str, kind: str, rng: random.Random, who: str) -> str:
    if kind == "sms":
        return _fill(rng.choice(SMS_IN if direction == "in" else SMS_OUT), rng)
    if kind == "email":
        subject = _fill(rng.choice(SMS_IN if direction == "in" else SMS_OUT), rng)
        return f"{subject}\n\nThank you,\n{who}"
    if kind == "call":
        if rng.random() < 0.3:
            return "Missed call"
        return f"Call, {rng.randint(0, 14)} min {rng.randint(0, 59)} s"
    if kind == "voicemail":
        return "Voicemail: " + _fill(rng.choice(SMS_IN), rng) + f" This is {who}, please call me back."
    if kind == "note":
        return _fill(rng.choice(NOTES), rng)
    return rng.choice(("Assigned to Dee Desk", "Closed by Dee Desk", "Reopened by Staff", "Snoozed by Staff"))


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk_load(path: Path, shape: StoreShape, staff: _Staff) -> dict[str, float]:
    """Contacts, conversations, timeline items and read markers; returns seconds per step."""
    rng = random.Random(SEED)
    seconds: dict[str, float] = {}
    con = sqlite3.connect(path, isolation_level=None)
    try:
        # A benchmark file: durability does not matter during the load, speed does.
        for pragma in ("synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY", "foreign_keys=OFF"):
            con.execute(f"PRAGMA {pragma}")
        con.execute("BEGIN")
        started = time.perf_counter()
        n_conv = shape.conversations
        now = utcnow()
        start = (now - SPAN).replace(tzinfo=None)  # naive UTC, as the store keeps it in SQLite
        weights = [share for _name, _zone, share in LOCATIONS]
        location_of = rng.choices(staff.locations, weights, k=n_conv + 1)
        people = []
        for _ in range(n_conv):
            people.append(
                (rng.choice(FIRST_NAMES), rng.choice(SURNAMES), rng.choice(AREA_CODES), rng.randrange(10**7))
            )
        # Each conversation's items fall in a few weeks starting at a random point of the year.
        thread_start = [0.0] + [rng.random() * (SPAN - THREAD_WINDOW).total_seconds() for _ in range(n_conv)]
        window = THREAD_WINDOW.total_seconds()
        timeline = sorted(
            (thread_start[c] + rng.random() * window, c)
            for c in (rng.randint(1, n_conv) for _ in range(shape.items))
        )
        seconds["items planned (sorted by time)"] = time.perf_counter() - started

        started = time.perf_counter()
        # The FTS insert trigger and the secondary indexes are dropped for the load and rebuilt after
        # in one pass each (faster than growing them row by row); their SQL comes from the schema.
        triggers = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = 'timeline_fts_ai'"
        ).fetchall()
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'timeline_items'"
            " AND sql IS NOT NULL"
        ).fetchall()
        for name, _sql in triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        for name, _sql in indexes:
            con.execute(f'DROP INDEX "{name}"')
        last_at: list[str | None] = [None] * (n_conv + 1)
        first_at: list[str | None] = [None] * (n_conv + 1)
        last_id = [0] * (n_conv + 1)
        last_in = [0] * (n_conv + 1)
        channels: list[set[str]] = [set() for _ in range(n_conv + 1)]

        def items() -> Iterator[tuple[Any, ...]]:
            for item_id, (offset, c) in enumerate(timeline, start=1):
                pick = rng.random()
                direction, kind = next((d, k) for d, k, w in MIX if pick <= w)
                at = (start + dt.timedelta(seconds=offset)).isoformat(" ", "microseconds")
                first, last, _area, _n = people[c - 1]
                author = None if direction == "in" else rng.choice(staff.by_location[location_of[c]])
                sid = f"SM{item_id:032x}" if kind == "sms" else None
                status = "delivered" if direction == "out" else None
                if first_at[c] is None:
                    first_at[c] = at
                if direction != "internal":
                    last_at[c], last_id[c] = at, item_id
                    channels[c].add(kind)
                if direction == "in":
                    last_in[c] = item_id
                body = _body(direction, kind, rng, f"{first} {last}")
                yield (item_id, c, kind, direction, body, status, sid, None, author, "{}", at, at)

        for batch in _batches(items()):
            con.executemany(
                "INSERT INTO timeline_items (id, conversation_id, kind, direction, body, status, carrier_sid,"
                " error_code, author_id, meta, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
        seconds["timeline items"] = time.perf_counter() - started

        started = time.perf_counter()
        for _name, sql in indexes:
            con.execute(sql)
        seconds["timeline indexes rebuilt"] = time.perf_counter() - started
        started = time.perf_counter()
        con.execute("INSERT INTO timeline_fts(timeline_fts) VALUES ('rebuild')")
        for _name, sql in triggers:
            con.execute(sql)
        seconds["full-text index rebuilt"] = time.perf_counter() - started

        started = time.perf_counter()
        # The patient-search triggers would rebuild a contact's row once per phone and e-mail: dropped
        # for the load, and the table filled after in one pass from the view they read themselves.
        contact_triggers = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'contact_fts_*'"
        ).fetchall()
        for name, _sql in contact_triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        con.executemany(
            "INSERT INTO contacts (id, practice_id, household_id, first_name, last_name, date_of_birth,"
            " is_unknown, merged_into_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                (c, staff.practice_id, None, p[0], p[1], None, 0, None, first_at[c] or start.strftime(STAMP),
                 first_at[c] or start.strftime(STAMP))
                for c, p in enumerate(people, start=1)
            ),
        )  # fmt: skip
        con.executemany(
            "INSERT INTO contact_phones (contact_id, e164, label) VALUES (?,?,?)",
            ((c, f"+1{p[2]}{p[3]:07d}", "mobile") for c, p in enumerate(people, start=1)),
        )
        con.executemany(
            "INSERT INTO contact_emails (contact_id, address) VALUES (?,?)",
            (
                (c, f"{p[0]}.{p[1]}{c}@example.com".lower())
                for c, p in enumerate(people, start=1)
                if c % 2 == 0
            ),
        )
        seconds["contacts, phones, e-mails"] = time.perf_counter() - started
        started = time.perf_counter()
        con.execute("DELETE FROM contact_fts")
        con.execute(
            "INSERT INTO contact_fts(rowid, name, emails, phones)"
            " SELECT id, name, emails, phones FROM contact_fts_source"
        )
        for _name, sql in contact_triggers:
            con.execute(sql)
        seconds["patient search index filled"] = time.perf_counter() - started

        started = time.perf_counter()
        recent = (now - dt.timedelta(days=30)).strftime(STAMP)
        future = (now + dt.timedelta(days=3)).strftime(STAMP)
        past = (now - dt.timedelta(days=1)).strftime(STAMP)

        def conversations() -> Iterator[tuple[Any, ...]]:
            for c in range(1, n_conv + 1):
                created = first_at[c] or start.strftime(STAMP)
                last = last_at[c] or created
                roll = rng.random()
                # Threads quiet for a month are mostly closed; recent ones mostly open.
                closed_share = 0.25 if last >= recent else 0.85
                status, snoozed = ("closed", None) if roll < closed_share else ("open", None)
                if status == "open" and roll > 0.97:
                    status, snoozed = "snoozed", future if roll > 0.985 else past
                loc = location_of[c]
                assignee = rng.choice(staff.by_location[loc]) if rng.random() < 0.5 else None
                kinds = "," + "".join(f"{k}," for k in sorted(channels[c])) if channels[c] else ""
                yield (
                    c,
                    c,
                    loc,
                    status,
                    assignee,
                    snoozed,
                    last,
                    created,
                    last_id[c] or None,
                    last_in[c],
                    kinds,
                )

        con.executemany(
            "INSERT INTO conversations (id, contact_id, location_id, status, assignee_id, snoozed_until,"
            " last_item_at, created_at, last_item_id, last_inbound_id, channels)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            conversations(),
        )
        # Staff have read most threads: up to the last inbound item, a few stop short (unread).
        read_at = now.strftime(STAMP)
        con.executemany(
            "INSERT INTO conversation_reads (conversation_id, user_id, last_read_item_id, read_at)"
            " VALUES (?,?,?,?)",
            (
                (c, user, last_in[c] if rng.random() < 0.9 else 0, read_at)
                for user in (staff.admin_id, staff.desk_id)
                for c in range(1, n_conv + 1)
                if last_in[c] and (user == staff.admin_id or location_of[c] in staff.locations[:2])
            ),
        )
        seconds["conversations, read markers"] = time.perf_counter() - started
        started = time.perf_counter()
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds["commit and checkpoint"] = time.perf_counter() - started
    finally:
        con.close()
    return seconds
