"""Payments: Checkout Sessions paid by a delayed method (bank debits), processing until they clear or fail.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_processing",
        sa.Column("checkout_session", sa.String(255), nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("payment_intent", sa.String(255), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_processing_request_id_payment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkout_session", name=op.f("pk_payment_processing")),
    )
    op.create_index(
        op.f("ix_payment_processing_request_id"), "payment_processing", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_processing_request_id"), table_name="payment_processing")
    op.drop_table("payment_processing")
