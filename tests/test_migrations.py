"""Migrations match the models exactly, and go down and up again cleanly, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

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
from comms.models import Base
from config.settings import Settings


def _not_search(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Full-text structures live only in migrations (FTS5 tables, a GIN expression index)."""
    return not (name or "").startswith(("timeline_fts", "ix_timeline_items_body_fts"))


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
