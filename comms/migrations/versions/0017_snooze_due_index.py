"""The snooze waker finds due snoozes by an index, not a scan of every conversation: one on
(snoozed_until, id) serves both of its queries (the due batch in order, and the earliest end), since
only a snoozed thread has snoozed_until.

Not on (status, ...): without planner statistics SQLite then took that index for the inbox list's
status filters ("open", "closed") and sorted every matching conversation instead of reading the
newest-first index (a first page went from 10 ms to 100-300 ms at 100,000 conversations).
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
    op.create_index("ix_conversations_snoozed_until", "conversations", ["snoozed_until", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_snoozed_until", table_name="conversations")
