"""Intake forms: templates and their versions, requests sent to patients, their links (only
each token's hash), uploads.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
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
        "form_templates",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("form_templates", "practice_id", "practices", "CASCADE"),
        _fk("form_templates", "created_by_id", "staff_users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_templates")),
    )
    op.create_index(op.f("ix_form_templates_practice_id"), "form_templates", ["practice_id"])
    op.create_table(
        "form_template_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("template_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("form_template_versions", "template_id", "form_templates", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_template_versions")),
        sa.UniqueConstraint(
            "template_id", "version", name=op.f("uq_form_template_versions_template_id_version")
        ),
    )
    op.create_index(op.f("ix_form_template_versions_template_id"), "form_template_versions", ["template_id"])
    op.create_table(
        "form_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("version_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("contact_updates", sa.JSON(), nullable=False),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("form_requests", "version_id", "form_template_versions", "RESTRICT"),
        _fk("form_requests", "contact_id", "contacts", "CASCADE"),
        _fk("form_requests", "conversation_id", "conversations", "CASCADE"),
        _fk("form_requests", "location_id", "locations", "CASCADE"),
        _fk("form_requests", "item_id", "timeline_items", "SET NULL"),
        _fk("form_requests", "created_by_id", "staff_users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_requests")),
        sa.UniqueConstraint("item_id", name=op.f("uq_form_requests_item_id")),
    )
    op.create_index(op.f("ix_form_requests_contact_id"), "form_requests", ["contact_id"])
    op.create_index(op.f("ix_form_requests_conversation_id"), "form_requests", ["conversation_id"])
    op.create_index("ix_form_requests_location_status", "form_requests", ["location_id", "status"])
    op.create_index("ix_form_requests_status_expires", "form_requests", ["status", "expires_at"])
    op.create_table(
        "form_links",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("form_links", "request_id", "form_requests", "CASCADE"),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_form_links")),
    )
    op.create_index(op.f("ix_form_links_request_id"), "form_links", ["request_id"])
    op.create_table(
        "form_uploads",
        sa.Column("id", ID, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("field_key", sa.String(40), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("form_uploads", "request_id", "form_requests", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_uploads")),
    )
    op.create_index(op.f("ix_form_uploads_request_id"), "form_uploads", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_form_uploads_request_id"), table_name="form_uploads")
    op.drop_table("form_uploads")
    op.drop_index(op.f("ix_form_links_request_id"), table_name="form_links")
    op.drop_table("form_links")
    op.drop_index("ix_form_requests_status_expires", table_name="form_requests")
    op.drop_index("ix_form_requests_location_status", table_name="form_requests")
    op.drop_index(op.f("ix_form_requests_conversation_id"), table_name="form_requests")
    op.drop_index(op.f("ix_form_requests_contact_id"), table_name="form_requests")
    op.drop_table("form_requests")
    op.drop_index(op.f("ix_form_template_versions_template_id"), table_name="form_template_versions")
    op.drop_table("form_template_versions")
    op.drop_index(op.f("ix_form_templates_practice_id"), table_name="form_templates")
    op.drop_table("form_templates")
