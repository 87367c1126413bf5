"""Patients' postal address and insurance (filled in by intake forms or staff), how a form request went
out (its reminders go the same way), the stored PDF of a completed form, and the patient form
endpoints' rate-limit hits.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CONTACT_TEXT = (
    ("address_line1", 200),
    ("address_line2", 200),
    ("address_city", 100),
    ("address_region", 100),
    ("address_postal_code", 20),
    ("insurance_carrier", 200),
    ("insurance_member_id", 64),
    ("insurance_group_number", 64),
)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        for name, length in CONTACT_TEXT:
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
        batch.add_column(sa.Column("insurance_card_upload_id", ID, nullable=True))
    with op.batch_alter_table("form_requests") as batch:
        batch.add_column(sa.Column("channel", sa.String(8), nullable=False, server_default="sms"))
        batch.add_column(sa.Column("pdf_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("pdf_size", sa.Integer(), nullable=True))
    op.create_table(
        "form_hits",
        sa.Column("id", ID, nullable=False),
        sa.Column("addr", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_hits")),
    )
    op.create_index(op.f("ix_form_hits_at"), "form_hits", ["at"])
    op.create_index("ix_form_hits_addr_kind_at", "form_hits", ["addr", "kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_form_hits_addr_kind_at", table_name="form_hits")
    op.drop_index(op.f("ix_form_hits_at"), table_name="form_hits")
    op.drop_table("form_hits")
    with op.batch_alter_table("form_requests") as batch:
        batch.drop_column("pdf_size")
        batch.drop_column("pdf_sha256")
        batch.drop_column("channel")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("insurance_card_upload_id")
        for name, _ in reversed(CONTACT_TEXT):
            batch.drop_column(name)
