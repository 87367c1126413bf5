"""Waitlist entries expire: `expires_at` on each entry (the earlier of 90 days after it was made and the
end of its last wanted date at its location), backfilled for the entries already there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
DAYS = 90  # the setting's default when this ran; later entries take the configured value

_entries = sa.table(
    "waitlist_entries",
    sa.column("id", sa.Integer()),
    sa.column("location_id", sa.Integer()),
    sa.column("latest", sa.Date()),
    sa.column("created_at", TS),
    sa.column("expires_at", TS),
)
_locations = sa.table("locations", sa.column("id", sa.Integer()), sa.column("timezone", sa.String()))


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def upgrade() -> None:
    with op.batch_alter_table("waitlist_entries") as batch:
        batch.add_column(sa.Column("expires_at", TS, nullable=True))
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    rows = bind.execute(
        sa.select(_entries.c.id, _entries.c.latest, _entries.c.created_at, _locations.c.timezone).join(
            _locations, _locations.c.id == _entries.c.location_id
        )
    ).all()
    for entry_id, latest, created_at, timezone in rows:
        after_last = dt.datetime.combine(latest + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(timezone))
        expires = min(_aware(created_at) + dt.timedelta(days=DAYS), after_last.astimezone(dt.UTC))
        value = expires.replace(tzinfo=None) if sqlite else expires
        bind.execute(sa.update(_entries).where(_entries.c.id == entry_id).values(expires_at=value))
    with op.batch_alter_table("waitlist_entries") as batch:
        batch.alter_column("expires_at", existing_type=TS, nullable=False)
        batch.create_index("ix_waitlist_entries_state_expires", ["state", "expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("waitlist_entries") as batch:
        batch.drop_index("ix_waitlist_entries_state_expires")
        batch.drop_column("expires_at")
