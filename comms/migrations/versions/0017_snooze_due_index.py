"""The snooze waker finds due snoozes by an index, not a scan of every conversation: one on
(status, snoozed_until, id) serves both of its queries (the due batch in order, and the earliest end).

A plain index rather than a partial one (WHERE status = 'snoozed'): the waker binds the status as a
parameter, and a generic PostgreSQL plan for a prepared statement cannot use a partial index then.
CREATE INDEX, not batch_alter_table, so SQLite does not rebuild the table.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_status_snoozed", "conversations", ["status", "snoozed_until", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_status_snoozed", table_name="conversations")
