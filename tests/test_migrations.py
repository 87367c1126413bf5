"""Migrations match the models exactly, and go down and up again cleanly, on both backends; data
migrations fill what they add for the rows already there."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from comms import (  # noqa: F401  (register their tables)
    chat_models,
    form_models,
    migrate,
    payment_models,
    review_models,
    schedule_models,
    voice_models,
    waitlist_models,
)
from comms.db import make_engine
from comms.models import Base, Contact, Conversation, Location, Practice
from comms.schedule_models import AppointmentType
from comms.waitlist_models import WaitlistEntry
from config.settings import Settings


def _not_search(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Full-text structures live only in migrations (FTS5 tables and their view, a GIN expression index)."""
    return not (name or "").startswith(("timeline_fts", "contact_fts", "ix_timeline_items_body_fts"))


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": False, "include_object": _not_search}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_models_and_downgrades(settings: Settings) -> None:
    engine = make_engine(settings.database)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_waitlist_expiry_is_backfilled_for_entries_made_before_it(settings: Settings) -> None:
    engine = make_engine(settings.database)
    made = dt.datetime(2027, 3, 1, 15, tzinfo=dt.UTC)
    try:
        await migrate.upgrade(engine, "0014")
        async with AsyncSession(engine) as s, s.begin():
            practice = Practice(name="Old Dental")
            s.add(practice)
            await s.flush()
            location = Location(practice_id=practice.id, name="North", timezone="America/New_York")
            contact = Contact(practice_id=practice.id, first_name="Old", last_name="Entry")
            kind = AppointmentType(practice_id=practice.id, name="Cleaning", duration_minutes=30)
            s.add_all([location, contact, kind])
            await s.flush()
            conversation = Conversation(contact_id=contact.id, location_id=location.id)
            s.add(conversation)
            await s.flush()
            columns = {c.name for c in WaitlistEntry.__table__.columns} - {"expires_at", "id"}
            for latest in (dt.date(2027, 3, 20), dt.date(2027, 12, 31)):
                row = {
                    "contact_id": contact.id,
                    "conversation_id": conversation.id,
                    "location_id": location.id,
                    "type_id": kind.id,
                    "provider_id": None,
                    "earliest": dt.date(2027, 3, 2),
                    "latest": latest,
                    "created_by_id": None,
                    "state": "waiting",
                    "created_at": made,
                    "updated_at": made,
                }
                assert set(row) == columns
                await s.execute(insert(WaitlistEntry.__table__).values(**row))
        await migrate.upgrade(engine)
        async with AsyncSession(engine) as s:
            ends = list(await s.scalars(select(WaitlistEntry.expires_at).order_by(WaitlistEntry.id)))
        # The end of its last date in New York (EDT by then), or 90 days after it was made.
        assert ends == [dt.datetime(2027, 3, 21, 4, tzinfo=dt.UTC), made + dt.timedelta(days=90)]
    finally:
        await engine.dispose()
