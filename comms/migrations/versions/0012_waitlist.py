"""Waitlist: patients waiting for an earlier time, and the offers of freed slots (only each link
token's hash).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("type_id", ID, nullable=False),
        sa.Column("provider_id", ID, nullable=True),
        sa.Column("earliest", sa.Date(), nullable=False),
        sa.Column("latest", sa.Date(), nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("waitlist_entries", "contact_id", "contacts", "CASCADE"),
        _fk("waitlist_entries", "conversation_id", "conversations", "CASCADE"),
        _fk("waitlist_entries", "location_id", "locations", "CASCADE"),
        _fk("waitlist_entries", "type_id", "appointment_types", "CASCADE"),
        _fk("waitlist_entries", "provider_id", "providers", "CASCADE"),
        _fk("waitlist_entries", "created_by_id", "staff_users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index(op.f("ix_waitlist_entries_contact_id"), "waitlist_entries", ["contact_id"])
    op.create_index(op.f("ix_waitlist_entries_conversation_id"), "waitlist_entries", ["conversation_id"])
    op.create_index("ix_waitlist_entries_location_state", "waitlist_entries", ["location_id", "state"])
    op.create_table(
        "waitlist_offers",
        sa.Column("id", ID, nullable=False),
        sa.Column("entry_id", ID, nullable=False),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("type_id", ID, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("appointment_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("waitlist_offers", "entry_id", "waitlist_entries", "CASCADE"),
        _fk("waitlist_offers", "provider_id", "providers", "CASCADE"),
        _fk("waitlist_offers", "type_id", "appointment_types", "CASCADE"),
        _fk("waitlist_offers", "appointment_id", "appointments", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offers")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_waitlist_offers_token_sha256")),
    )
    op.create_index(op.f("ix_waitlist_offers_entry_id"), "waitlist_offers", ["entry_id"])
    op.create_index("ix_waitlist_offers_slot", "waitlist_offers", ["provider_id", "starts_at"])
    op.create_index("ix_waitlist_offers_state_expires", "waitlist_offers", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_waitlist_offers_state_expires", table_name="waitlist_offers")
    op.drop_index("ix_waitlist_offers_slot", table_name="waitlist_offers")
    op.drop_index(op.f("ix_waitlist_offers_entry_id"), table_name="waitlist_offers")
    op.drop_table("waitlist_offers")
    op.drop_index("ix_waitlist_entries_location_state", table_name="waitlist_entries")
    op.drop_index(op.f("ix_waitlist_entries_conversation_id"), table_name="waitlist_entries")
    op.drop_index(op.f("ix_waitlist_entries_contact_id"), table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
