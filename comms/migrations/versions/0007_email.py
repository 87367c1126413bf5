"""E-mail: the addresses locations receive mail at, and each e-mail item's Message-ID and raw original.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "location_emails",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_location_emails_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_emails")),
        sa.UniqueConstraint("address", name=op.f("uq_location_emails_address")),
    )
    op.create_index(op.f("ix_location_emails_location_id"), "location_emails", ["location_id"])
    op.create_table(
        "email_messages",
        sa.Column("item_id", ID, nullable=False),
        sa.Column("message_id", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=True),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["timeline_items.id"],
            name=op.f("fk_email_messages_item_id_timeline_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_email_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_email_messages_message_id")),
    )


def downgrade() -> None:
    op.drop_table("email_messages")
    op.drop_index(op.f("ix_location_emails_location_id"), table_name="location_emails")
    op.drop_table("location_emails")
