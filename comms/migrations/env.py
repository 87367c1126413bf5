"""Alembic environment: runs migrations on the engine the caller hands over in config attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from comms import (  # noqa: F401  (they register their tables on Base.metadata)
    chat_models,
    form_models,
    payment_models,
    review_models,
    schedule_models,
    voice_models,
    waitlist_models,
)
from comms.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `frontdesk migrate`, which supplies the connection")
_run(connection)
