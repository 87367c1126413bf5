"""Inbox: per-staff read state, notifications, conversation summary columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("last_item_id", ID, nullable=True))
        batch.add_column(sa.Column("last_inbound_id", ID, nullable=False, server_default="0"))
        batch.add_column(sa.Column("channels", sa.String(100), nullable=False, server_default=""))
        batch.create_index("ix_conversations_last", ["last_item_at", "id"])
    op.create_table(
        "conversation_reads",
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("last_read_item_id", ID, nullable=False),
        sa.Column("read_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_reads_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_conversation_reads_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name=op.f("pk_conversation_reads")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("chat_channel_id", ID, nullable=True),
        sa.Column("chat_message_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_notifications_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["staff_users.id"],
            name=op.f("fk_notifications_actor_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_notifications_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_read", "notifications", ["user_id", "read_at", "id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("conversation_reads")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_last")
        batch.drop_column("channels")
        batch.drop_column("last_inbound_id")
        batch.drop_column("last_item_id")
