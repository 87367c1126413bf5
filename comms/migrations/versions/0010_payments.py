"""Payments and reviews: payment requests with their links, payments received, refunds per payment,
applied Stripe event ids; review sites, review requests and their clicks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
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
        "payment_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("allow_partial", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paid_cents", sa.Integer(), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("failed_at", TS, nullable=True),
        sa.Column("failure", sa.String(200), nullable=True),
        sa.Column("paid_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("payment_requests", "contact_id", "contacts", "CASCADE"),
        _fk("payment_requests", "conversation_id", "conversations", "CASCADE"),
        _fk("payment_requests", "location_id", "locations", "CASCADE"),
        _fk("payment_requests", "item_id", "timeline_items", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_payment_requests_created_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_payment_requests_token")),
        sa.UniqueConstraint("item_id", name=op.f("uq_payment_requests_item_id")),
    )
    op.create_index(op.f("ix_payment_requests_contact_id"), "payment_requests", ["contact_id"])
    op.create_index(op.f("ix_payment_requests_conversation_id"), "payment_requests", ["conversation_id"])
    op.create_index("ix_payment_requests_location_status", "payment_requests", ["location_id", "status"])
    op.create_index("ix_payment_requests_status_expires", "payment_requests", ["status", "expires_at"])
    op.create_table(
        "payment_received",
        sa.Column("id", ID, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("payment_intent", sa.String(255), nullable=False),
        sa.Column("checkout_session", sa.String(255), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        _fk("payment_received", "request_id", "payment_requests", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_received")),
        sa.UniqueConstraint("payment_intent", name=op.f("uq_payment_received_payment_intent")),
    )
    op.create_index(op.f("ix_payment_received_request_id"), "payment_received", ["request_id"])
    op.create_table(
        "payment_refunds",
        sa.Column("payment_intent", sa.String(255), nullable=False),
        sa.Column("charge", sa.String(255), nullable=True),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("payment_intent", name=op.f("pk_payment_refunds")),
    )
    op.create_table(
        "payment_webhook_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_payment_webhook_events")),
    )
    op.create_table(
        "review_sites",
        sa.Column("location_id", ID, nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("review_sites", "location_id", "locations", "CASCADE"),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_review_sites")),
    )
    op.create_table(
        "review_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("first_clicked_at", TS, nullable=True),
        _fk("review_requests", "contact_id", "contacts", "CASCADE"),
        _fk("review_requests", "conversation_id", "conversations", "CASCADE"),
        _fk("review_requests", "location_id", "locations", "CASCADE"),
        _fk("review_requests", "item_id", "timeline_items", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_review_requests_created_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_review_requests_token")),
    )
    op.create_index("ix_review_requests_contact_created", "review_requests", ["contact_id", "created_at"])
    op.create_table(
        "review_clicks",
        sa.Column("id", ID, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        _fk("review_clicks", "request_id", "review_requests", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_clicks")),
    )
    op.create_index(op.f("ix_review_clicks_request_id"), "review_clicks", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_review_clicks_request_id"), table_name="review_clicks")
    op.drop_table("review_clicks")
    op.drop_index("ix_review_requests_contact_created", table_name="review_requests")
    op.drop_table("review_requests")
    op.drop_table("review_sites")
    op.drop_table("payment_webhook_events")
    op.drop_table("payment_refunds")
    op.drop_index(op.f("ix_payment_received_request_id"), table_name="payment_received")
    op.drop_table("payment_received")
    op.drop_index("ix_payment_requests_status_expires", table_name="payment_requests")
    op.drop_index("ix_payment_requests_location_status", table_name="payment_requests")
    op.drop_index(op.f("ix_payment_requests_conversation_id"), table_name="payment_requests")
    op.drop_index(op.f("ix_payment_requests_contact_id"), table_name="payment_requests")
    op.drop_table("payment_requests")
