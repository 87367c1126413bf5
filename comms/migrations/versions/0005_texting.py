"""Texting: opt-outs, the durable outbox, per-number send clocks, and media attachments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "send_clocks",
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("next_free_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("e164", name=op.f("pk_send_clocks")),
    )
    op.create_table(
        "opt_outs",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_opt_outs_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
        sa.UniqueConstraint("practice_id", "e164", name=op.f("uq_opt_outs_practice_id_e164")),
    )
    op.create_table(
        "media",
        sa.Column("id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["timeline_items.id"],
            name=op.f("fk_media_item_id_timeline_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    op.create_index(op.f("ix_media_item_id"), "media", ["item_id"], unique=False)
    op.create_index("ix_media_state", "media", ["state"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("item_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("attempt_started_at", TS, nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["timeline_items.id"],
            name=op.f("fk_outbox_item_id_timeline_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_state_next", "outbox", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    for table in ("media", "send_clocks", "outbox", "opt_outs"):
        op.drop_table(table)
